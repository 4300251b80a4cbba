package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// groupOrder is L, the order of the Ed25519 base point.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// addL returns the 32-byte little-endian scalar s + L: the same value mod L
// in a non-canonical encoding, which RFC 8032 and crypto/ed25519 refuse.
func addL(s []byte) []byte {
	be := make([]byte, 32)
	for i := range s {
		be[31-i] = s[i]
	}
	n := new(big.Int).Add(new(big.Int).SetBytes(be), groupOrder)
	out := make([]byte, 32)
	nb := n.Bytes()
	for i := range nb {
		out[i] = nb[len(nb)-1-i]
	}
	return out
}

// torsion are encodings of points of small order (and non-canonical
// encodings of them), the usual edge cases of Ed25519 verifiers.
var torsion = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// same fails when verifyEd25519 and crypto/ed25519 disagree on one input.
func same(t *testing.T, what string, pub, msg, sig []byte) bool {
	t.Helper()
	want := ed25519.Verify(pub, msg, sig)
	if got := verifyEd25519(pub, msg, sig); got != want {
		t.Errorf("%s: verifyEd25519 = %v, crypto/ed25519 = %v (pub %x, msg %x, sig %x)", what, got, want, pub, msg, sig)
		return false
	}
	return want
}

// verifyEd25519 (which skips crypto/ed25519's per-process base-point
// precomputation, issue 9 Measures) accepts exactly what crypto/ed25519
// accepts: genuine signatures, every single-bit change of them, the
// non-canonical S+L, the high bits of S, and small-order and
// non-canonical public keys and R values.
func TestVerifyMatchesCryptoEd25519(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for i := range 16 {
		seed := make([]byte, 32)
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		msg := make([]byte, i*7)
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		sig := ed25519.Sign(priv, msg)
		if same(t, "genuine", pub, msg, sig) {
			accepted++
		}
		for bit := 0; bit < 512; bit += 3 + i%5 {
			bad := bytes.Clone(sig)
			bad[bit/8] ^= 1 << (bit % 8)
			same(t, "signature bit flipped", pub, msg, bad)
		}
		for bit := i % 3; bit < 256; bit += 11 {
			bad := bytes.Clone(pub)
			bad[bit/8] ^= 1 << (bit % 8)
			same(t, "key bit flipped", bad, msg, sig)
		}
		if len(msg) > 0 {
			same(t, "message changed", pub, msg[1:], sig)
		}
		nonCanonical := append(bytes.Clone(sig[:32]), addL(sig[32:])...)
		if same(t, "S+L", pub, msg, nonCanonical) {
			t.Errorf("S+L accepted")
		}
	}
	if accepted != 16 {
		t.Fatalf("%d of 16 genuine signatures accepted", accepted)
	}
	// Small-order keys and R: with S = 0 the equation is R = -[k]A.
	msgs := [][]byte{nil, []byte("airseal"), []byte("license")}
	for _, a := range torsion {
		for _, r := range torsion {
			for _, m := range msgs {
				sig := append(mustHex(t, r), make([]byte, 32)...)
				same(t, "small order", mustHex(t, a), m, sig)
			}
		}
	}
	// The same edge cases accept something at all: the test would pass
	// vacuously if every small-order case were refused by both.
	if !verifyEd25519(mustHex(t, torsion[0]), nil, append(mustHex(t, torsion[0]), make([]byte, 32)...)) {
		t.Errorf("identity key with identity R and S = 0 refused; crypto/ed25519 accepts it")
	}
}

func FuzzVerifyMatchesCryptoEd25519(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	sig := ed25519.Sign(priv, []byte("msg"))
	f.Add([]byte(priv.Public().(ed25519.PublicKey)), []byte("msg"), sig)
	f.Add(mustHex(f, torsion[1]), []byte("x"), append(mustHex(f, torsion[4]), make([]byte, 32)...))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize {
			return // crypto/ed25519.Verify panics on a wrong key length
		}
		same(t, "fuzz", pub, msg, sig)
	})
}

// Every signature this package checks goes through verifySignature, whose
// first calls in a process use verifyEd25519: a call to
// crypto/ed25519.Verify anywhere else in the package would bring back the
// per-process base-point precomputation on verify's start-up (issue 9,
// Measures).
func TestNoCryptoEd25519Verify(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name == "verifySignature" {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "ed25519" && strings.HasPrefix(sel.Sel.Name, "Verify") {
					t.Errorf("%s: %s calls ed25519.%s; check signatures with verifySignature", fset.Position(sel.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}

// PublicKey.Verify gives the same answers before and after the switch from
// verifyEd25519 to crypto/ed25519 (tableFreeVerifications calls).
func TestVerifyAcrossTheSwitch(t *testing.T) {
	k := seedKey(t, 9)
	msg := []byte("license payload")
	sig := k.Sign(msg)
	bad := bytes.Clone(sig)
	bad[5] ^= 1
	for i := range 3 * tableFreeVerifications {
		if !k.Public().Verify(msg, sig) {
			t.Fatalf("call %d: genuine signature refused", i)
		}
		if k.Public().Verify(msg, bad) {
			t.Fatalf("call %d: changed signature accepted", i)
		}
		if k.Public().Verify(msg, sig[:63]) {
			t.Fatalf("call %d: short signature accepted", i)
		}
	}
	if verifications.Load() <= tableFreeVerifications {
		t.Fatalf("only %d verifications counted: the switch was not reached", verifications.Load())
	}
}
