package hwid

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 8 item 6: a dump records only what detection reads from PID 1's
// environment (container=), and the other files that hold more than facts
// are cut down the same way, while the dump still replays to the same report.
func TestDumpRecordsNoSecrets(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/1/environ", "PATH=/usr/bin\x00DB_PASSWORD=hunter2\x00container=oci\x00AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\x00HOME=/\x00")
	write("proc/self/status", "Name:\thwid\nUid:\t1000\t1000\t1000\t1000\nGroups:\t27 999\nTracerPid:\t0\n")
	write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nSUPPORT_URL=\"https://intranet.example/secret-wiki\"\n")
	write("sys/block/sda/dev", "8:0\n")
	write("sys/block/sda/removable", "0\n")
	write("run/udev/data/b8:0", "E:ID_BUS=ata\nE:ID_SERIAL_SHORT=S3Z9NB0K123456\nE:ID_MODEL=Samsung_SSD\nE:ID_FS_LABEL=payroll-2026\nE:ID_PART_TABLE_UUID=1234\nS:disk/by-id/ata-secret\n")
	write("etc/machine-id", "4f8e2a1c9b7d4e6f8a0b1c2d3e4f5a6b\n")

	want, _, dir := record(t, Options{Root: root, Product: "acme"})
	if want.Virtualization.Technology != "container-other" {
		t.Fatalf("container= not detected: %+v", want.Virtualization)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		return string(b)
	}
	if got := read("proc/1/environ"); got != "container=oci\x00" {
		t.Errorf("PID 1's environment in the dump: %q, want only container=oci", got)
	}
	for name, secret := range map[string]string{
		"proc/self/status":   "Uid",
		"etc/os-release":     "secret-wiki",
		"run/udev/data/b8:0": "payroll",
	} {
		if strings.Contains(read(name), secret) {
			t.Errorf("%s in the dump holds %q:\n%s", name, secret, read(name))
		}
	}
	if !strings.Contains(read("run/udev/data/b8:0"), "ID_SERIAL_SHORT=S3Z9NB0K123456") {
		t.Error("the disk serial, which the fingerprint needs, was cut from the dump")
	}
	got, err := Collect(Options{Root: dir, Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the cut-down dump replays differently:\n got %+v\nwant %+v", got, want)
	}
}

// Issue 8 item 23: Collect leaves the caller's environment as it was, and
// the redirection variables do not change what it reads.
func TestCollectKeepsEnvironment(t *testing.T) {
	before, err := Collect(Options{Product: "acme"})
	if err != nil {
		t.Skip(err) // not Linux
	}
	fake := t.TempDir()
	for _, k := range gopsutilEnv {
		t.Setenv(k, fake)
	}
	after, err := Collect(Options{Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range gopsutilEnv {
		if v, ok := os.LookupEnv(k); !ok || v != fake {
			t.Errorf("Collect changed %s: now %q, %v", k, v, ok)
		}
	}
	if before.ID() != after.ID() || before.Virtualization.Technology != after.Virtualization.Technology {
		t.Errorf("the redirection variables changed what Collect read: %s/%s then %s/%s",
			before.ID(), before.Virtualization.Technology, after.ID(), after.Virtualization.Technology)
	}
	if _, _, err := Record(Options{Product: "acme"}); err != nil {
		t.Fatal(err)
	}
	if v, ok := os.LookupEnv("HOST_PROC"); !ok || v != fake {
		t.Error("Record changed HOST_PROC")
	}
}

// Issue 13 item 1: the files of a --root tree are read bounded: a FIFO, a
// directory, /dev/zero behind a link and an oversized file where a fact or
// cpuid.json is expected are refused or cut promptly.
func TestRootTreeBoundedReads(t *testing.T) {
	facts := []string{"sys/class/dmi/id/product_uuid", "proc/cpuinfo", "etc/machine-id", "proc/1/environ"}
	cases := map[string]func(t *testing.T, p string){
		"fifo": func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skip(err)
			}
		},
		"directory": func(t *testing.T, p string) { os.MkdirAll(p, 0o755) },
		"dev zero":  func(t *testing.T, p string) { os.Symlink("/dev/zero", p) },
		"oversized": func(t *testing.T, p string) {
			if err := os.WriteFile(p, bytes.Repeat([]byte("a"), 3*maxFile), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range facts {
				p := filepath.Join(root, filepath.FromSlash(f))
				os.MkdirAll(filepath.Dir(p), 0o755)
				mk(t, p)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Collect(Options{Root: root, Product: "acme"})
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("facts that cannot be read are left out, not an error: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Collect hangs on a hostile tree")
			}
			// cpuid.json of the same kind is refused with its name.
			p := filepath.Join(root, "cpuid.json")
			mk(t, p)
			go func() {
				_, err := Collect(Options{Root: root, Product: "acme"})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "cpuid.json") {
					t.Fatalf("cpuid.json as %s: %v", name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Collect hangs on cpuid.json")
			}
		})
	}
	for _, bad := range []string{"/dev/zero", filepath.Join(t.TempDir(), "missing")} {
		if _, err := Collect(Options{Root: bad}); err == nil {
			t.Errorf("--root %s accepted", bad)
		}
	}
}

// Issue 13 item 4: product and customer follow the license's text rule at
// the first tool that takes them: invalid UTF-8 and control characters are
// refused, not replaced (a replaced product would salt other hashes).
func TestRequestTextRule(t *testing.T) {
	var dell envCase
	for _, e := range loadEnvs(t) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	for _, c := range []struct{ product, customer, want string }{
		{"a\xffb", "", "product: not valid UTF-8"},
		{"acme\x1b[2J", "", "product: contains control character U+001B"},
		{"acme\u0085", "", "product: contains control character U+0085"},
		{"acme\u202e", "", "product: contains bidirectional"},
		{"acme", "Example\xffCorp", "customer: not valid UTF-8"},
		{"acme", "Example\tCorp", "customer: contains control character U+0009"},
		{"acme", strings.Repeat("x", 257), "customer: 257 bytes"},
	} {
		rep := collectEnv(t, dell, c.product)
		_, err := NewRequest(rep, c.product, c.customer, time.Now(), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("product %q customer %q: %v, want %q", c.product, c.customer, err, c.want)
		}
	}
	// A request file carrying such text is refused too.
	good, err := goldenRequest(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `"customer": "Example Corp"`, `"customer": "Example\u001b[31mCorp"`, 1)
	if _, err := ParseRequest([]byte(bad)); err == nil || !strings.Contains(err.Error(), "customer: contains control character") {
		t.Errorf("request file with an escape in customer: %v", err)
	}
	// Text read from the machine (host name, evidence) is made printable.
	rep := collectEnv(t, dell, "acme")
	rep.Hostname = "host\x1b]0;pwned\x07"
	rep.Virtualization.Evidence = []string{"dmi \x1b[2J"}
	req, err := NewRequest(rep, "acme", "", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.Hostname != `host\x1b]0;pwned\x07` || req.Virtualization.Evidence[0] != `dmi \x1b[2J` {
		t.Errorf("machine text not made printable: %q %q", req.Hostname, req.Virtualization.Evidence)
	}
}

// Issue 8 item 15: a request code with its dashes removed or misplaced, in
// lower case, is read as a code, not refused as "not a license request".
func TestRequestCodeWithoutDashes(t *testing.T) {
	req := goldenRequest(t)
	code, err := req.Code()
	if err != nil {
		t.Fatal(err)
	}
	bare := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	for _, in := range []string{bare, bare[:7] + "-" + bare[7:20] + " " + bare[20:]} {
		got, err := ParseRequest([]byte(in))
		if err != nil {
			t.Fatalf("%.30s...: %v", in, err)
		}
		if got.Nonce != req.Nonce {
			t.Fatalf("dashless code read as another request")
		}
	}
}

func TestLooksLikeCode(t *testing.T) {
	code, err := goldenRequest(t).Code()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{code, strings.ToLower(code), strings.ReplaceAll(code, "-", ""), " " + strings.ReplaceAll(code, "-", " ") + "\n"} {
		if !LooksLikeCode(s) {
			t.Errorf("LooksLikeCode(%.20q...) = false", s)
		}
	}
	for _, s := range []string{"request.json", "ASR1.json", "asr1-request.json", "./ASR1", "ASL1-ABCDE"} {
		if LooksLikeCode(s) {
			t.Errorf("LooksLikeCode(%q) = true", s)
		}
	}
}
