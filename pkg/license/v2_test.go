package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

var updateV2 = flag.Bool("update-v2", false, "rewrite the golden vectors in testdata/golden-v2")

const goldenV2Dir = "testdata/golden-v2"

// responseKey derives a deterministic node response key from a seed byte.
func responseKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func responsePub(seed byte) ed25519.PublicKey {
	return responseKey(seed).Public().(ed25519.PublicKey)
}

// sampleServer returns an unsigned server license with the named nodes;
// node i gets response key seed 0x40+i, and the first node is bound to the
// test machine.
func sampleServer(names ...string) *ServerLicense {
	l := sampleLicense(3, false)
	l.Comment = "golden vector v2"
	s := &ServerLicense{License: *l, SeatUnit: PerSession}
	s.Seats = 50
	for i, n := range names {
		nd := Node{Name: n, ResponseKey: responsePub(byte(0x40 + i))}
		if i == 0 {
			nd.Machine = &fingerprint.Fingerprint{Components: testMachine(testProduct), Need: 6}
		}
		s.Nodes = append(s.Nodes, nd)
	}
	return s
}

// signV2Raw signs an arbitrary (possibly non-canonical) payload under
// prefix and armors it: the refused vectors are built this way.
func signV2Raw(k *keys.PrivateKey, prefix string, payload []byte) []byte {
	sig := k.Sign(append([]byte(prefix), payload...))
	return armor(armorLabel, append(bytes.Clone(payload), sig...), "refused vector")
}

// vectorV2 is one entry of testdata/golden-v2/vectors.json.
type vectorV2 struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	WantError string `json:"want_error,omitempty"`
	Reason    string `json:"reason,omitempty"` // a substring of the error
	Nodes     int    `json:"nodes,omitempty"`
	SeatUnit  string `json:"seat_unit,omitempty"`
}

func makeGoldenV2(t *testing.T) (map[string][]byte, []vectorV2) {
	k := testKey(t, 1)
	files := map[string][]byte{"vendor.pub": k.Public().MarshalPublic()}
	var vecs []vectorV2
	good := func(name, file string, s *ServerLicense) {
		if err := s.Sign(k); err != nil {
			t.Fatal(err)
		}
		b, err := s.Armor()
		if err != nil {
			t.Fatal(err)
		}
		files[file] = b
		vecs = append(vecs, vectorV2{Name: name, File: file, Nodes: len(s.Nodes), SeatUnit: s.SeatUnit.String()})
	}
	bad := func(name, file, want, reason string, payload []byte, prefix string) {
		files[file] = signV2Raw(k, prefix, payload)
		vecs = append(vecs, vectorV2{Name: name, File: file, WantError: want, Reason: reason})
	}
	good("one node", "one-node.lic", sampleServer("srv1"))
	good("three nodes", "three-nodes.lic", sampleServer("a", "b", "c"))
	pc := sampleServer("srv1")
	pc.SeatUnit, pc.Serial = PerComputer, "PC00-0000-0000-0001"
	good("per computer", "per-computer.lic", pc)

	// Refused: the license-level machine flag (bit 2) set.
	s := sampleServer("srv1")
	s.KeyID = k.ID()
	lv := s.License
	lv.Machine = &fingerprint.Fingerprint{Components: testMachine(testProduct), Need: 6}
	p := lv.appendPayload(nil)
	p[0] = VersionV2
	p = append(p, byte(PerSession))
	p = append(p, s.appendPayload(nil)[len(s.License.appendPayload(nil))+1:]...)
	bad("license-level machine flag", "refused-flag-bound.lic", "ErrMalformed", "flags: bits 0x4", p, SignaturePrefixV2)

	s = sampleServer("srv1")
	s.KeyID, s.Nodes = k.ID(), nil
	bad("zero nodes", "refused-zero-nodes.lic", "ErrMalformed", "0 nodes", s.appendPayload(nil), SignaturePrefixV2)

	s = sampleServer("b", "a")
	s.KeyID = k.ID()
	bad("unsorted nodes", "refused-unsorted.lic", "ErrMalformed", "not sorted", s.appendPayload(nil), SignaturePrefixV2)

	s = sampleServer("a", "b")
	s.KeyID = k.ID()
	s.Nodes[1].ResponseKey = s.Nodes[0].ResponseKey
	bad("duplicate response key", "refused-dup-key.lic", "ErrMalformed", "same response key", s.appendPayload(nil), SignaturePrefixV2)

	s = sampleServer("srv1")
	s.KeyID = k.ID()
	bad("v2 payload under the v1 prefix", "refused-v1-prefix.lic", "ErrBadSignature", "", s.appendPayload(nil), SignaturePrefix)
	return files, vecs
}

func TestGoldenV2(t *testing.T) {
	files, vecs := makeGoldenV2(t)
	js, err := json.MarshalIndent(vecs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files["vectors.json"] = append(js, '\n')
	if *updateV2 {
		if err := os.MkdirAll(goldenV2Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(goldenV2Dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(goldenV2Dir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenV2 -update-v2 to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the encoder makes now: the v2 format changed", name)
		}
	}
	// Verify the stored files (not the regenerated ones) as a product would.
	pub, err := keys.ParsePublic(files["vendor.pub"])
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Keyring: keys.NewKeyring(pub), Now: tNow, Product: testProduct}
	for _, v := range vecs {
		t.Run(v.Name, func(t *testing.T) {
			b, _ := os.ReadFile(filepath.Join(goldenV2Dir, v.File))
			s, err := VerifyServer(b, opts)
			if v.WantError == "" {
				if err != nil {
					t.Fatalf("VerifyServer: %v", err)
				}
				if len(s.Nodes) != v.Nodes || s.SeatUnit.String() != v.SeatUnit {
					t.Fatalf("got %d nodes, unit %s; want %d, %s", len(s.Nodes), s.SeatUnit, v.Nodes, v.SeatUnit)
				}
				// A v1-only verifier refuses a v2 license as malformed.
				if _, err := Verify(b, opts); !errors.Is(err, ErrMalformed) {
					t.Fatalf("v1 Verify of a v2 license: %v, want ErrMalformed", err)
				}
				return
			}
			if !errors.Is(err, sentinelNames[v.WantError]) || !strings.Contains(err.Error(), v.Reason) {
				t.Fatalf("VerifyServer: %v, want %s (%q)", err, v.WantError, v.Reason)
			}
		})
	}
}

func TestServerLicenseEncodings(t *testing.T) {
	k := testKey(t, 1)
	s := sampleServer("a", "b")
	if err := s.Sign(k); err != nil {
		t.Fatal(err)
	}
	raw, _ := s.Raw()
	code, err := s.Code()
	if err != nil {
		t.Fatal(err)
	}
	arm, _ := s.Armor()
	for _, in := range [][]byte{raw, []byte(code), arm} {
		if v, err := PayloadVersion(in); err != nil || v != 2 {
			t.Fatalf("PayloadVersion = %d, %v", v, err)
		}
		got, err := VerifyServer(in, VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: tNow})
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := got.Raw()
		if !bytes.Equal(r2, raw) {
			t.Fatal("encodings do not decode to the same license")
		}
	}
}

func TestVerifyServerRefusesV1(t *testing.T) {
	k := testKey(t, 1)
	l := signed(t, sampleLicense(2, false), k)
	_, err := VerifyServer(mustArmor(t, l), VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: tNow})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "v1 license") {
		t.Fatalf("VerifyServer(v1) = %v, want ErrMalformed naming v1", err)
	}
}

func TestVerifyServerChecks(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	mk := func(edit func(*ServerLicense), signer *keys.PrivateKey) []byte {
		s := sampleServer("srv1")
		if edit != nil {
			edit(s)
		}
		if err := s.Sign(signer); err != nil {
			t.Fatal(err)
		}
		b, _ := s.Armor()
		return b
	}
	opts := VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: tNow, Product: testProduct}
	for _, tc := range []struct {
		name string
		in   []byte
		opts func(*VerifyOptions)
		want error
	}{
		{"unknown key", mk(nil, other), nil, ErrUnknownKey},
		{"wrong product", mk(nil, k), func(o *VerifyOptions) { o.Product = "Other" }, ErrWrongProduct},
		{"expired", mk(func(s *ServerLicense) { s.Expires = tp(tNow.Add(-time.Hour)) }, k), nil, ErrExpired},
		{"not yet valid", mk(func(s *ServerLicense) { s.NotBefore = tNow.Add(48 * time.Hour) }, k), nil, ErrNotYetValid},
		{"clock rollback", mk(nil, k), func(o *VerifyOptions) { o.Now = tIssued.Add(-48 * time.Hour) }, ErrClockRollback},
		{"revoked", mk(nil, k), func(o *VerifyOptions) { o.RevokedSerials = []string{"7K3M-Q9TX-4HZP-2W8R"} }, ErrRevoked},
		{"updates expired", mk(nil, k), func(o *VerifyOptions) { o.ReleaseDate = tUpdates.Add(time.Hour) }, ErrUpdatesExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			if tc.opts != nil {
				tc.opts(&o)
			}
			s, err := VerifyServer(tc.in, o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if (s != nil) != errors.Is(err, ErrUpdatesExpired) {
				t.Fatalf("license returned = %v with %v", s != nil, err)
			}
		})
	}
}

func TestMatchNode(t *testing.T) {
	s := sampleServer("a", "b")
	s.Nodes[0].AllowVirtual = false
	vm := liveMachine()
	vm.Virtualization = "vm"
	for _, tc := range []struct {
		name string
		m    *Machine
		key  ed25519.PublicKey
		want error
		node string
	}{
		{"bound node on its machine", liveMachine(), responsePub(0x40), nil, "a"},
		{"one component changed", liveMachine("mac"), responsePub(0x40), nil, "a"},
		{"unbound node anywhere", vm, responsePub(0x41), nil, "b"},
		{"key not named", liveMachine(), responsePub(0x55), ErrUnknownKey, ""},
		{"other machine", liveMachine("system_uuid", "board_serial"), responsePub(0x40), ErrWrongMachine, ""},
		{"virtual refused", vm, responsePub(0x40), ErrVirtualMachine, ""},
		{"no facts", nil, responsePub(0x40), ErrWrongMachine, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.MatchNode(tc.m, tc.key)
			if !errors.Is(err, tc.want) || (err == nil && n.Name != tc.node) {
				t.Fatalf("got %v, %v; want node %q, %v", n, err, tc.node, tc.want)
			}
		})
	}
	s.Nodes[0].AllowVirtual = true
	if _, err := s.MatchNode(vm, responsePub(0x40)); err != nil {
		t.Fatalf("virtual allowed: %v", err)
	}
}

func TestServerLicenseValidate(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(*ServerLicense)
	}{
		{"license-level machine", "machine:", func(s *ServerLicense) {
			s.License.Machine = &fingerprint.Fingerprint{Components: testMachine(testProduct), Need: 6}
		}},
		{"license-level virtual", "allow_virtual:", func(s *ServerLicense) { s.License.AllowVirtual = true }},
		{"seat unit", "seat_unit:", func(s *ServerLicense) { s.SeatUnit = 9 }},
		{"no nodes", "nodes:", func(s *ServerLicense) { s.Nodes = nil }},
		{"bad node name", "nodes:", func(s *ServerLicense) { s.Nodes[0].Name = "Srv 1" }},
		{"short key", "response key", func(s *ServerLicense) { s.Nodes[0].ResponseKey = s.Nodes[0].ResponseKey[:31] }},
		{"virtual unbound", "allow_virtual", func(s *ServerLicense) { s.Nodes[1].AllowVirtual = true }},
		{"17 nodes", "nodes:", func(s *ServerLicense) {
			for i := 0; i < 15; i++ {
				s.Nodes = append(s.Nodes, Node{Name: "z" + string(rune('a'+i)), ResponseKey: responsePub(byte(0x60 + i))})
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sampleServer("a", "b")
			s.KeyID = testKey(t, 1).ID()
			tc.edit(s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// Issue 8 item 15: the seat server reads licenses through PayloadVersion,
// DecodeServer and VerifyServer, which take a typed code however typed (no
// dashes, lower case, folded over lines), as verify does.
func TestServerLicenseLooseCode(t *testing.T) {
	in, err := os.ReadFile("testdata/golden-v2/one-node.lic")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := DecodeServer(in)
	if err != nil {
		t.Fatal(err)
	}
	code, err := sl.Code()
	if err != nil {
		t.Fatal(err)
	}
	bare := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	var folded strings.Builder
	for i := 0; i < len(bare); i += 11 {
		folded.WriteString(bare[i:min(i+11, len(bare))] + "\n")
	}
	for _, c := range []string{bare, folded.String(), "AS-L1" + bare[4:]} {
		if v, err := PayloadVersion([]byte(c)); err != nil || v != 2 {
			t.Errorf("PayloadVersion(%.20q...) = %d, %v", c, v, err)
		}
		got, err := DecodeServer([]byte(c))
		if err != nil || got.Serial != sl.Serial {
			t.Errorf("DecodeServer(%.20q...): %v", c, err)
		}
	}
}
