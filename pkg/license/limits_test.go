package license

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/pkg/fingerprint"
)

const limitsFile = "testdata/limits.txtar"

// limitCases are the payload vectors of license-v1.md's limits: one
// license payload each (hex), meeting or breaking one rule, encoded without
// validation, and what a reader must do.
func limitCases(t *testing.T) (names, wants []string, payloads [][]byte) {
	keyID := testKey(t, 1).ID()
	add := func(name, want string, edit func(l *License)) {
		l := sampleLicense(2, true)
		l.KeyID = keyID
		edit(l)
		names, wants, payloads = append(names, name), append(wants, want), append(payloads, l.appendPayload(nil))
	}
	unix := func(u int64) *time.Time { t := time.Unix(u, 0).UTC(); return &t }
	add("base", "accept", func(l *License) {})
	// Times: whole seconds, 1970-01-01T00:00:01Z .. 9999-12-31T23:59:59Z.
	add("issued-at-0", "must be a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z", func(l *License) { l.IssuedAt = time.Unix(0, 0).UTC() })
	add("issued-at-1", "accept", func(l *License) { l.IssuedAt, l.NotBefore = time.Unix(1, 0).UTC(), time.Unix(1, 0).UTC() })
	add("expires-max", "accept", func(l *License) { l.Expires = unix(MaxUnixTime) })
	add("expires-max-plus-1", "expires: 253402300800 is too large", func(l *License) { l.Expires = unix(MaxUnixTime + 1) })
	add("expires-2pow40", "expires: 1099511627776 is too large", func(l *License) { l.Expires = unix(1 << 40) })
	// Text: no C0, DEL, C1 (U+0085 included) or bidi controls; any script;
	// at most 256 bytes.
	add("text-cyrillic", "accept", func(l *License) { l.Customer.Name = "ООО «Ромашка»" })
	add("text-nel", "U+0085", func(l *License) { l.Customer.Name = "Example\u0085LLC" })
	add("text-esc", "U+001B", func(l *License) { l.Customer.Name = "Example\x1b[2JLLC" })
	add("text-tab", "U+0009", func(l *License) { l.Edition = "pro\tplus" })
	add("text-del", "U+007F", func(l *License) { l.Product = "Acme\x7fWriter" })
	add("text-csi", "U+009B", func(l *License) { l.Customer.TaxID = "77\u009b2J" })
	add("text-bidi", "U+202E", func(l *License) { l.Serial = "7K3M-\u202eQ9TX" })
	add("text-257-bytes", "257 is too large", func(l *License) { l.Customer.Name = strings.Repeat("a", 257) })
	// Names of features and components: 1-64 of a-z 0-9 _ . -
	add("feature-name-upper", "use only a-z, 0-9", func(l *License) { l.Features[0].Name = "Export" })
	add("component-name-upper", "use only a-z, 0-9", func(l *License) { l.Machine.Components[0].Name = "Disk" })
	add("component-name-65", "want 1 to 64 characters", func(l *License) { l.Machine.Components[0].Name = strings.Repeat("a", 65) })
	add("component-name-vendor", "accept", func(l *License) { l.Machine.Components[0].Name = "vendor.tpm-ek_2" })
	// Weights 1..1000, need 1..total: the request's limits.
	add("weight-1000", "accept", func(l *License) { l.Machine.Components[0].Weight = 1000 })
	add("weight-1001", "weight 1001; want 1 to 1000", func(l *License) { l.Machine.Components[0].Weight = 1001 })
	add("weight-0", "weight 0; want 1 to 1000", func(l *License) { l.Machine.Components[0].Weight = 0 })
	add("need-total", "accept", func(l *License) { l.Machine.Need = l.Machine.Total() })
	add("need-above-total", "need must be between 1 and the total", func(l *License) { l.Machine.Need = l.Machine.Total() + 1 })
	add("need-0", "need must be between 1 and the total", func(l *License) { l.Machine.Need = 0 })
	// At most 256 components (a request has at most 64).
	add("components-257", "machine.components: 257 is too large", func(l *License) {
		for len(l.Machine.Components) < 257 {
			c := l.Machine.Components[0]
			c.Hash = fingerprint.HashValue(testProduct, c.Name, fmt.Sprint(len(l.Machine.Components)))
			l.Machine.Components = append(l.Machine.Components, c)
		}
	})
	return
}

// Issue 8 item 17: every limit license-v1.md states has a payload vector in
// testdata/limits.txtar, and UnmarshalPayload does what its comment says.
func TestLimitVectors(t *testing.T) {
	names, wants, payloads := limitCases(t)
	var ar txtar.Archive
	var comment strings.Builder
	comment.WriteString("Limit vectors of docs/spec/license-v1.md (issue 8 item 17): each file is a\n" +
		"license payload (hex, without the signature) that meets or breaks one rule;\n" +
		"a reader must accept it or refuse it with an error saying the part given\n" +
		"below. Regenerate with go test ./pkg/license -run TestLimitVectors -update\n\n")
	for i, n := range names {
		fmt.Fprintf(&comment, "%s: %s\n", n, wants[i])
		h := hex.EncodeToString(payloads[i])
		var b strings.Builder
		for len(h) > 64 {
			b.WriteString(h[:64] + "\n")
			h = h[64:]
		}
		b.WriteString(h + "\n")
		ar.Files = append(ar.Files, txtar.File{Name: n, Data: []byte(b.String())})
	}
	ar.Comment = []byte(comment.String())
	gen := txtar.Format(&ar)
	if *update {
		if err := os.WriteFile(limitsFile, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := os.ReadFile(limitsFile)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(disk, gen) {
		t.Errorf("%s differs from what the code generates (review, then -update)", limitsFile)
	}
	onDisk := txtar.Parse(disk)
	want := map[string]string{}
	for _, l := range strings.Split(string(onDisk.Comment), "\n") {
		if name, w, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") {
			want[name] = w
		}
	}
	if len(want) != len(onDisk.Files) || len(want) == 0 {
		t.Fatalf("%d expectations for %d files", len(want), len(onDisk.Files))
	}
	for _, f := range onDisk.Files {
		p, err := hex.DecodeString(strings.ReplaceAll(string(f.Data), "\n", ""))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		_, err = UnmarshalPayload(p)
		switch w := want[f.Name]; {
		case w == "accept" && err != nil:
			t.Errorf("%s: refused (%v), want accepted", f.Name, err)
		case w != "accept" && (err == nil || !strings.Contains(err.Error(), w)):
			t.Errorf("%s: %v, want a refusal saying %q", f.Name, err, w)
		}
	}
	// The writer refuses what the reader refuses (nothing is signed that
	// verify would refuse).
	for i, n := range names {
		l, err := UnmarshalPayload(payloads[i])
		if wants[i] == "accept" {
			if _, err := l.MarshalPayload(); err != nil {
				t.Errorf("%s: MarshalPayload: %v", n, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", n)
		}
	}
}

// The writer refuses every time the reader refuses.
func TestWriterRefusesTimesOutOfRange(t *testing.T) {
	for _, u := range []int64{0, -1, MaxUnixTime + 1, 1 << 40} {
		l := sampleLicense(0, false)
		l.KeyID = testKey(t, 1).ID()
		l.Expires = tp(time.Unix(u, 0).UTC())
		if _, err := l.MarshalPayload(); err == nil || !strings.Contains(err.Error(), "9999-12-31T23:59:59Z") {
			t.Errorf("expires at %d: %v", u, err)
		}
		rl := (*RevocationList)(nil).Next([]string{"A"}, time.Unix(u, 0).UTC())
		if err := rl.Sign(testKey(t, 1)); err == nil {
			t.Errorf("revocation list issued at %d signed", u)
		}
	}
}
