package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in testdata/golden")

const goldenDir = "testdata/golden"

// vector is one entry of testdata/golden/vectors.json: a license file and
// the verification inputs and outcome it must produce.
type vector struct {
	Name        string     `json:"name"`
	File        string     `json:"file"`
	Now         time.Time  `json:"now"`
	Product     string     `json:"product,omitempty"`
	Machine     *vecMach   `json:"machine"`
	Revocations string     `json:"revocations,omitempty"`
	ReleaseDate *time.Time `json:"release_date,omitempty"`
	WantExit    int        `json:"want_exit"`
	WantError   string     `json:"want_error,omitempty"`
}

// vecMach describes the live machine: the test machine with some
// components changed, real or virtual.
type vecMach struct {
	Changed        []string `json:"changed,omitempty"`
	Virtualization string   `json:"virtualization"`
}

var sentinelNames = map[string]error{
	"ErrMalformed": ErrMalformed, "ErrBadSignature": ErrBadSignature, "ErrUnknownKey": ErrUnknownKey,
	"ErrWrongMachine": ErrWrongMachine, "ErrExpired": ErrExpired, "ErrNotYetValid": ErrNotYetValid,
	"ErrRevoked": ErrRevoked, "ErrClockRollback": ErrClockRollback, "ErrVirtualMachine": ErrVirtualMachine,
	"ErrUpdatesExpired": ErrUpdatesExpired, "ErrWrongProduct": ErrWrongProduct,
}

// publishedMachine is testdata/golden/machine.json: the test machine's
// component values in clear, published beside the vectors so that an
// implementer can recompute every hash, the bound licenses' bindings and
// the live machine of each vector without Go (issue 8 item 18).
type publishedMachine struct {
	Comment       string               `json:"comment"`
	Product       string               `json:"product"`
	ChangedSuffix string               `json:"changed_suffix"`
	RootRead      bool                 `json:"root_read"`
	Components    []publishedComponent `json:"components"`
	Need          int                  `json:"need"`
	ID            string               `json:"id"`
}

type publishedComponent struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Weight    int    `json:"weight"`
	NeedsRoot bool   `json:"needs_root"`
	Hash      string `json:"hash"`
}

// machineFile returns machine.json for the test machine, as the vectors
// use it.
func machineFile(t *testing.T) []byte {
	bound := sampleLicense(0, true).Machine
	m := publishedMachine{
		Comment: "The test machine of the golden vectors. hash = first 16 bytes of HMAC-SHA-256(key = \"airseal fingerprint v1\\x00\" + product, " +
			"msg = name + \"\\x00\" + value), hex. A vector's \"changed\" components have the value + changed_suffix. need and id are those of the binding in the bound licenses.",
		Product: testProduct, ChangedSuffix: "-changed", RootRead: true, Need: bound.Need, ID: bound.ID(),
	}
	for _, v := range machineValues {
		m.Components = append(m.Components, publishedComponent{Name: v.name, Value: v.value, Weight: v.weight,
			NeedsRoot: v.root, Hash: fingerprint.HashValue(testProduct, v.name, v.value)})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// loadMachine reads machine.json as data and returns the live machine of a
// vector: every hash recomputed from the published value, the named
// components changed by the published rule.
func loadMachine(t *testing.T, changed []string) (*Machine, publishedMachine) {
	data, err := os.ReadFile(filepath.Join(goldenDir, "machine.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pm publishedMachine
	if err := json.Unmarshal(data, &pm); err != nil {
		t.Fatalf("machine.json: %v", err)
	}
	m := &Machine{RootRead: pm.RootRead, Virtualization: "none"}
	for _, c := range pm.Components {
		v := c.Value
		for _, n := range changed {
			if n == c.Name {
				v += pm.ChangedSuffix
			}
		}
		m.Components = append(m.Components, fingerprint.Component{Name: c.Name, Weight: c.Weight, NeedsRoot: c.NeedsRoot,
			Hash: fingerprint.HashValue(pm.Product, c.Name, v)})
	}
	return m, pm
}

// makeGolden builds every vector deterministically: fixed key seeds, fixed
// times, Ed25519's deterministic signatures.
func makeGolden(t *testing.T) (files map[string][]byte, vecs []vector) {
	k, other := testKey(t, 1), testKey(t, 2)
	files = map[string][]byte{"vendor.pub": k.Public().MarshalPublic(), "machine.json": machineFile(t)}
	real := &vecMach{Virtualization: "none"}
	add := func(v vector, l *License, signer *keys.PrivateKey, enc Encoding, edit func([]byte) []byte) {
		if l != nil {
			signed(t, l, signer)
			var b []byte
			switch enc {
			case EncodingCode:
				b = []byte(mustCode(t, l) + "\n")
			default:
				b = mustArmor(t, l)
			}
			if edit != nil {
				b = edit(b)
			}
			files[v.File] = b
		}
		if v.Now.IsZero() {
			v.Now = tNow
		}
		if v.Product == "" {
			v.Product = testProduct
		}
		vecs = append(vecs, v)
	}
	lic := func(edit func(*License)) *License {
		l := sampleLicense(20, true)
		l.Comment = "golden vector"
		if edit != nil {
			edit(l)
		}
		return l
	}
	add(vector{Name: "valid bound file", File: "valid-bound.lic", Machine: real}, lic(nil), k, EncodingFile, nil)
	add(vector{Name: "valid unbound code", File: "valid-unbound.code", Machine: real}, lic(func(l *License) {
		l.Machine, l.Features, l.Serial = nil, l.Features[:3], "0000-1111-2222-3333"
	}), k, EncodingCode, nil)
	add(vector{Name: "valid additional", File: "valid-additional.lic", Machine: real}, lic(func(l *License) {
		l.Kind, l.MainSerial, l.Serial, l.Seats = KindAdditional, "7K3M-Q9TX-4HZP-2W8R", "ADD0-0000-0000-0001", 10
	}), k, EncodingFile, nil)
	add(vector{Name: "valid virtual allowed", File: "valid-virtual.lic", Machine: &vecMach{Virtualization: "vm"}},
		lic(func(l *License) { l.AllowVirtual = true }), k, EncodingFile, nil)
	add(vector{Name: "bad signature", File: "bad-signature.lic", Machine: real, WantExit: 10, WantError: "ErrBadSignature"},
		lic(nil), k, EncodingFile, func(b []byte) []byte {
			i := bytes.Index(b, []byte("\n-----END"))
			b = bytes.Clone(b)
			b[i-8] ^= 1 // inside the signature's base64
			return b
		})
	add(vector{Name: "malformed", File: "malformed.lic", Machine: real, WantExit: 10, WantError: "ErrMalformed"},
		lic(nil), k, EncodingFile, func(b []byte) []byte { return bytes.Replace(b, []byte("-----END"), []byte("----END"), 1) })
	add(vector{Name: "unknown key", File: "unknown-key.lic", Machine: real, WantExit: 11, WantError: "ErrUnknownKey"}, lic(nil), other, EncodingFile, nil)
	add(vector{Name: "wrong machine", File: "valid-bound.lic", Machine: &vecMach{Changed: []string{"system_uuid", "mac"}, Virtualization: "none"},
		WantExit: 12, WantError: "ErrWrongMachine"}, nil, nil, "", nil)
	add(vector{Name: "expired", File: "expired.lic", Machine: real, WantExit: 13, WantError: "ErrExpired"},
		lic(func(l *License) { l.Expires = tp(tNow.Add(-24 * time.Hour)) }), k, EncodingFile, nil)
	add(vector{Name: "not yet valid", File: "not-yet-valid.lic", Machine: real, WantExit: 13, WantError: "ErrNotYetValid"},
		lic(func(l *License) { l.NotBefore = tNow.Add(30 * 24 * time.Hour) }), k, EncodingFile, nil)
	rl := (*RevocationList)(nil).Next([]string{"7K3M-Q9TX-4HZP-2W8R"}, tIssued.Add(24*time.Hour))
	if err := rl.Sign(k); err != nil {
		t.Fatal(err)
	}
	files["revoked.list"], _ = rl.Armor()
	add(vector{Name: "revoked", File: "valid-bound.lic", Machine: real, Revocations: "revoked.list", WantExit: 14, WantError: "ErrRevoked"}, nil, nil, "", nil)
	add(vector{Name: "clock set back", File: "valid-bound.lic", Now: tIssued.Add(-48 * time.Hour), Machine: real, WantExit: 15, WantError: "ErrClockRollback"}, nil, nil, "", nil)
	add(vector{Name: "virtual machine", File: "valid-bound.lic", Machine: &vecMach{Virtualization: "container"}, WantExit: 16, WantError: "ErrVirtualMachine"}, nil, nil, "", nil)
	add(vector{Name: "updates expired", File: "valid-bound.lic", Machine: real, ReleaseDate: tp(tUpdates.Add(24 * time.Hour)), WantExit: 17, WantError: "ErrUpdatesExpired"}, nil, nil, "", nil)
	add(vector{Name: "wrong product", File: "valid-bound.lic", Product: "Acme Reader", Machine: real, WantExit: 18, WantError: "ErrWrongProduct"}, nil, nil, "", nil)
	return files, vecs
}

func TestGolden(t *testing.T) {
	files, vecs := makeGolden(t)
	js, err := json.MarshalIndent(vecs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files["vectors.json"] = append(js, '\n')
	if *update {
		os.MkdirAll(goldenDir, 0o755)
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(goldenDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./pkg/license -run TestGolden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the code generates now; the format changed? (review, then -update)", name)
		}
	}

	// Check the vectors as data, from disk.
	pub, err := keys.LoadPublic(filepath.Join(goldenDir, "vendor.pub"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(goldenDir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []vector
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	for _, v := range onDisk {
		t.Run(v.Name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(goldenDir, v.File))
			if err != nil {
				t.Fatal(err)
			}
			opts := VerifyOptions{Keyring: keys.NewKeyring(pub), Now: v.Now, Product: v.Product}
			if v.Machine != nil {
				// The live machine from the published values, not from Go.
				opts.Machine, _ = loadMachine(t, v.Machine.Changed)
				opts.Machine.Virtualization = v.Machine.Virtualization
			}
			if v.Revocations != "" {
				if opts.Revocations, err = os.ReadFile(filepath.Join(goldenDir, v.Revocations)); err != nil {
					t.Fatal(err)
				}
			}
			if v.ReleaseDate != nil {
				opts.ReleaseDate = *v.ReleaseDate
			}
			_, err = Verify(in, opts)
			if got := exitCode(err); got != v.WantExit {
				t.Errorf("exit %d (%v), want %d", got, err, v.WantExit)
			}
			if v.WantError != "" {
				if s := sentinelNames[v.WantError]; s == nil || !errors.Is(err, s) {
					t.Errorf("err = %v, want %s", err, v.WantError)
				}
			}
		})
	}
}

// The published component values are the ones the vectors were made from:
// each published hash is HashValue of the published value, and the binding
// signed into every bound golden license is exactly the published
// components (names, weights, needs_root, hashes), need and ID.
func TestGoldenMachineValues(t *testing.T) {
	live, pm := loadMachine(t, nil)
	if pm.Product != testProduct || len(pm.Components) != len(machineValues) {
		t.Fatalf("machine.json: product %q, %d components", pm.Product, len(pm.Components))
	}
	for i, c := range pm.Components {
		if got := fingerprint.HashValue(pm.Product, c.Name, c.Value); got != c.Hash || live.Components[i].Hash != c.Hash {
			t.Errorf("%s: published hash %s, HashValue of the published value %s", c.Name, c.Hash, got)
		}
	}
	for _, name := range []string{"valid-bound.lic", "valid-virtual.lic", "expired.lic", "not-yet-valid.lic"} {
		in, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatal(err)
		}
		l, err := Decode(in)
		if err != nil || l.Machine == nil {
			t.Fatalf("%s: %v, bound %v", name, err, l != nil && l.Machine != nil)
		}
		if len(l.Machine.Components) != len(live.Components) || l.Machine.Need != pm.Need || l.Machine.ID() != pm.ID {
			t.Fatalf("%s: binding need %d id %s, published need %d id %s", name, l.Machine.Need, l.Machine.ID(), pm.Need, pm.ID)
		}
		for i, c := range l.Machine.Components {
			if c != live.Components[i] {
				t.Errorf("%s: component %d is %+v, published %+v", name, i, c, live.Components[i])
			}
		}
	}
}
