package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// Issue 8 item 17: the rules docs/spec/request-v1.md states for every
// fingerprint (request file, request code, license), one vector each.
func TestSpecRules(t *testing.T) {
	h := HashValue("acme", "mac", "x")
	one := func(name string, weight, need int) Fingerprint {
		return Fingerprint{Components: []Component{{Name: name, Weight: weight, Hash: h}}, Need: need}
	}
	for _, c := range []struct {
		f    Fingerprint
		want string // "" = valid
	}{
		{one("disk_serial", 1, 1), ""},
		{one("vendor.tpm-ek_2", 1, 1), ""},
		{one(strings.Repeat("a", MaxNameLen), 1, 1), ""},
		{one(strings.Repeat("a", MaxNameLen+1), 1, 1), "want 1 to 64 characters"},
		{one("", 1, 1), "want 1 to 64 characters"},
		{one("Disk", 1, 1), "use only a-z, 0-9"},
		{one("disk serial", 1, 1), "use only a-z, 0-9"},
		{one("disk\x1b", 1, 1), "use only a-z, 0-9"},
		{one("mac", MaxWeight, MaxWeight), ""},
		{one("mac", MaxWeight+1, 1), "weight 1001; want 1 to 1000"},
		{one("mac", 0, 1), "weight 0; want 1 to 1000"},
		{one("mac", 2, 3), "need must be between 1 and the total"},
		{one("mac", 2, 0), "need must be between 1 and the total"},
		{Fingerprint{Need: 1}, "no components"},
	} {
		err := c.f.Validate()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
}

// needs_root is omitted from JSON when false and written when true.
func TestNeedsRootOmitted(t *testing.T) {
	b, _ := json.Marshal(Component{Name: "mac", Weight: 2, Hash: "00"})
	if string(b) != `{"name":"mac","weight":2,"hash":"00"}` {
		t.Errorf("false: %s", b)
	}
	b, _ = json.Marshal(Component{Name: "system_uuid", Weight: 3, Hash: "00", NeedsRoot: true})
	if string(b) != `{"name":"system_uuid","weight":3,"hash":"00","needs_root":true}` {
		t.Errorf("true: %s", b)
	}
}

// The ID derivation of the spec, done step by step, gives ID().
func TestIDDerivation(t *testing.T) {
	f := machine()
	var lines []string
	for _, c := range f.Components {
		lines = append(lines, c.Name+":"+c.Hash)
	}
	// Sorted bytewise, joined by "\n", no final newline.
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			if lines[j] < lines[i] {
				lines[i], lines[j] = lines[j], lines[i]
			}
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	x := strings.ToUpper(hex.EncodeToString(sum[:10]))
	want := x[0:5] + "-" + x[5:10] + "-" + x[10:15] + "-" + x[15:20]
	if f.ID() != want || want != idVector {
		t.Errorf("ID %s, spec derivation %s, vector %s", f.ID(), want, idVector)
	}
	// Need does not enter the ID; order does not either.
	g := f
	g.Need = 1
	g.Components = append([]Component{f.Components[len(f.Components)-1]}, f.Components[:len(f.Components)-1]...)
	if g.ID() != f.ID() {
		t.Error("the ID depends on need or order")
	}
}
