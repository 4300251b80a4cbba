package iplist

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) *List {
	t.Helper()
	l, err := Parse("test.dat", strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestForms(t *testing.T) {
	l := mustParse(t, `# comment
192.168.1.1
192.198.0.0/16   ; trailing comment
10.0.0.1-10.0.0.100
2001:db8::/32
fe80::1-fe80::5

::ffff:172.16.0.9
`)
	cases := []struct {
		ip   string
		want bool
	}{
		{"192.168.1.1", true}, {"192.168.1.2", false},
		{"192.198.255.255", true}, {"192.199.0.0", false},
		{"10.0.0.1", true}, {"10.0.0.100", true}, {"10.0.0.101", false}, {"10.0.0.0", false},
		{"2001:db8:ffff::1", true}, {"2001:db9::", false},
		{"fe80::3", true}, {"fe80::6", false},
		{"172.16.0.9", true}, {"::ffff:192.168.1.1", true}, {"::ffff:10.0.0.50", true},
	}
	for _, c := range cases {
		if got := l.Contains(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("%s: got %v want %v", c.ip, got, c.want)
		}
	}
}

func TestOverlapMerged(t *testing.T) {
	l := mustParse(t, "10.0.0.0/24\n10.0.0.100-10.0.1.5\n10.0.1.6\n10.0.0.7\n")
	if l.Len() != 1 {
		t.Fatalf("want 1 merged range, got %d", l.Len())
	}
	if !l.Contains(netip.MustParseAddr("10.0.1.6")) || l.Contains(netip.MustParseAddr("10.0.1.7")) {
		t.Fatal("merged bounds wrong")
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{
		"1.2.3", "1.2.3.4/33", "1.2.3.4-::1", "10.0.0.9-10.0.0.1", "1.2.3.4 5.6.7.8",
		"fe80::1%eth0", "hello", "::ffff:1.2.3.4/10", strings.Repeat("1", 300),
	} {
		_, err := Parse("x.dat", strings.NewReader("1.1.1.1\n"+in+"\n"))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 || pe.File != "x.dat" {
			t.Errorf("%q: want ParseError at x.dat:2, got %v", in, err)
		}
	}
}

func TestWhitelistWins(t *testing.T) {
	w := mustParse(t, "10.0.0.5\n")
	b := mustParse(t, "10.0.0.0/8\n")
	if d := Decide(w, b, netip.MustParseAddr("10.0.0.5")); d != Whitelisted || !d.Allowed() {
		t.Fatalf("whitelisted: %v", d)
	}
	if d := Decide(w, b, netip.MustParseAddr("10.0.0.6")); d != Blacklisted || d.Allowed() {
		t.Fatalf("blacklisted: %v", d)
	}
	if d := Decide(w, b, netip.MustParseAddr("8.8.8.8")); d != Allowed {
		t.Fatalf("other: %v", d)
	}
}

func TestReloadNeverHalfApplied(t *testing.T) {
	dir := t.TempDir()
	bl := filepath.Join(dir, "blacklist.dat")
	if err := os.WriteFile(bl, []byte("1.2.3.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("1.2.3.4")
	if l.Check(ip) != Blacklisted {
		t.Fatal("not blacklisted")
	}
	future := time.Now().Add(time.Hour)
	if err := os.WriteFile(bl, []byte("5.6.7.8\nbad line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(bl, future, future)
	if err := l.Reload(); err == nil || !strings.Contains(err.Error(), "blacklist.dat:2") {
		t.Fatalf("want error naming line 2, got %v", err)
	}
	if l.Check(ip) != Blacklisted || l.Check(netip.MustParseAddr("5.6.7.8")) != Allowed {
		t.Fatal("bad file half applied")
	}
	if err := os.WriteFile(bl, []byte("5.6.7.8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(bl, future.Add(time.Second), future.Add(time.Second))
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if l.Check(ip) != Allowed || l.Check(netip.MustParseAddr("5.6.7.8")) != Blacklisted {
		t.Fatal("reload not applied")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3.4\n", "10.0.0.0/8", "1.1.1.1-1.1.1.9", "::1", "# c\n::/0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse("f", strings.NewReader(s))
		if err != nil {
			return
		}
		for i := 1; i < len(l.spans); i++ {
			if !l.spans[i-1].hi.Less(l.spans[i].lo) && l.spans[i-1].lo.Is4() == l.spans[i].lo.Is4() {
				t.Fatalf("spans overlap: %v", l.spans)
			}
		}
		for _, sp := range l.spans {
			if !l.Contains(sp.lo) || !l.Contains(sp.hi) {
				t.Fatalf("bounds not contained: %v", sp)
			}
		}
	})
}

func TestLoadFileMissingIsEmpty(t *testing.T) {
	l, err := LoadFile(filepath.Join(t.TempDir(), "whitelist.dat"))
	if err != nil || l.Len() != 0 {
		t.Fatalf("missing file: %v, %d ranges", err, l.Len())
	}
	if _, err := LoadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
}

// TestIPv6EntryCoveringMappedBlock: an IPv6 entry that covers IPv4-mapped
// addresses (::/80 holds ::ffff:0.0.0.0/96) covers those IPv4 addresses,
// since a client's address is compared unmapped; found by FuzzParse.
func TestIPv6EntryCoveringMappedBlock(t *testing.T) {
	for _, tc := range []struct {
		list    string
		in, out []string
	}{
		{"::/80", []string{"::", "::1", "0.0.0.0", "1.2.3.4", "255.255.255.255", "::ffff:10.0.0.1", "::fffe:ffff:ffff"}, []string{"::1:0:0:0", "2001:db8::1"}},
		{"::-::1:0:0:0", []string{"::", "9.9.9.9", "::1:0:0:0", "::1:0:0"}, []string{"::1:0:0:1"}},
		{"::ffff:0:0-::ffff:0:ffff", []string{"0.0.255.255", "0.0.0.0"}, []string{"0.1.0.0", "::ffff:0:0:0"}},
		{"::fffe:0:0-::1:0:0:5", []string{"::fffe:0:0", "10.0.0.1", "::1:0:0:5"}, []string{"::1:0:0:6", "::fffd:ffff:ffff"}},
	} {
		l, err := Parse("t", strings.NewReader(tc.list))
		if err != nil {
			t.Fatalf("%s: %v", tc.list, err)
		}
		for _, a := range tc.in {
			if !l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%s: %s not contained", tc.list, a)
			}
		}
		for _, a := range tc.out {
			if l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%s: %s contained", tc.list, a)
			}
		}
	}
}
