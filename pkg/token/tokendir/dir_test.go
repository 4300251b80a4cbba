package tokendir

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
)

var testPass = []byte("test passphrase")

func TestDirInitRotateRetire(t *testing.T) {
	d := newTestDir(t)
	if _, err := d.Init(testIssuer, testPass); err == nil {
		t.Fatal("second Init succeeded")
	}
	if _, err := d.Signer([]byte("wrong")); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	s1, err := d.Signer(testPass)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := mustMint(t, s1, testRequest())

	if _, err := d.Rotate([]byte("wrong")); err == nil {
		t.Fatal("rotate with the wrong passphrase succeeded")
	}
	ki, err := d.Rotate(testPass)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := d.Signer(testPass)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() != ki.ID || s2.KeyID() == s1.KeyID() {
		t.Fatalf("after rotate the signer is %s, want new key %s", s2.KeyID(), ki.ID)
	}
	fresh, _ := mustMint(t, s2, testRequest())
	ring, st, err := d.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	v := &token.Verifier{Keys: ring, Issuer: st.Issuer, Audience: testAud}
	for _, tok := range []string{old, fresh} {
		if _, err := v.Verify(tok, testNow); err != nil {
			t.Fatalf("after rotate: %v", err)
		}
	}
	if err := d.Retire(s2.KeyID(), testPass); err == nil {
		t.Fatal("retiring the active key succeeded")
	}
	// A revocation list signed by the key about to be retired must be
	// signed again so it keeps verifying.
	if _, err := d.Revoke(s1, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Retire(s1.KeyID(), testPass); err != nil {
		t.Fatal(err)
	}
	ring, st, _ = d.Keyring()
	v.Keys = ring
	if _, err := v.Verify(old, testNow); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("token of a retired key: %v, want unknown key", err)
	}
	if _, err := v.Verify(fresh, testNow); err != nil {
		t.Fatal(err)
	}
	l, err := d.Revocations(ring, st.Issuer)
	if err != nil || l == nil || l.Seq != 2 || !l.HasJTI("x") {
		t.Fatalf("revocation list after retire: %+v, %v", l, err)
	}
	jwks, _ := token.MarshalJWKS(ring)
	if strings.Contains(string(jwks), string(s1.KeyID())) {
		t.Error("retired key still in the JWKS")
	}
}

func TestLedger(t *testing.T) {
	d := newTestDir(t)
	s, _ := d.Signer(testPass)
	var jtis []string
	for range 3 {
		_, c := mustMint(t, s, testRequest())
		if err := d.Record(s.KeyID(), c); err != nil {
			t.Fatal(err)
		}
		jtis = append(jtis, c.ID)
	}
	// A crash mid-write leaves a torn last line; it is skipped and reported.
	f, _ := os.OpenFile(filepath.Join(d.Path, LedgerFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`0badc0de {"jti":"torn`)
	f.Close()
	recs, torn, err := d.Ledger()
	if err != nil || !torn || len(recs) != 3 {
		t.Fatalf("ledger: %d records, torn %v, %v", len(recs), torn, err)
	}
	for i, r := range recs {
		if r.JTI != jtis[i] || r.Subject != "1" || r.Audience[0] != testAud || r.ExpiresAt == 0 || r.KeyID != s.KeyID() {
			t.Errorf("record %d = %+v", i, r)
		}
	}
	_, c := mustMint(t, s, testRequest())
	if err := d.Record(s.KeyID(), c); err != nil {
		t.Fatal(err)
	}
	recs, torn, _ = d.Ledger()
	if torn || len(recs) != 4 {
		t.Fatalf("after a new append: %d records, torn %v", len(recs), torn)
	}
	if st, _ := os.Stat(filepath.Join(d.Path, LedgerFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v", st.Mode())
	}
}

func TestRevocationMonotonic(t *testing.T) {
	d := newTestDir(t)
	s, _ := d.Signer(testPass)
	l1, err := d.Revoke(s, []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(d.Path, RevocationsFile))
	l2, err := d.Revoke(s, []string{"b"}, []string{"LIC"})
	if err != nil {
		t.Fatal(err)
	}
	if l1.Seq != 1 || l2.Seq != 2 || !l2.HasJTI("a") || !l2.HasJTI("b") {
		t.Fatalf("lists %+v %+v", l1, l2)
	}
	same, _ := d.Revoke(s, []string{"a"}, nil)
	if same.Seq != 2 {
		t.Errorf("revoking a listed jti again made list #%d", same.Seq)
	}
	ring, st, _ := d.Keyring()
	// Putting the old list back is refused.
	os.WriteFile(filepath.Join(d.Path, RevocationsFile), old, 0o644)
	if _, err := d.Revocations(ring, st.Issuer); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("old list: %v, want rollback", err)
	}
	if _, err := d.Revoke(s, []string{"c"}, nil); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("revoke on top of an old list: %v, want rollback", err)
	}
	// Deleting the list is refused too.
	os.Remove(filepath.Join(d.Path, RevocationsFile))
	if _, err := d.Revocations(ring, st.Issuer); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("missing list: %v, want rollback", err)
	}
	// A verifier with its own state file.
	seen := filepath.Join(t.TempDir(), "seen")
	listPath := filepath.Join(t.TempDir(), "rl.jwt")
	tok2, _ := s.SignRevocations(l2)
	os.WriteFile(listPath, []byte(tok2), 0o644)
	if _, err := LoadRevocationFile(ring, listPath, seen, testIssuer); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(listPath, old, 0o644)
	if _, err := LoadRevocationFile(ring, listPath, seen, testIssuer); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("state file: %v, want rollback", err)
	}
}

func TestRevocationListRejected(t *testing.T) {
	k := testKey(t, 1)
	s := testSigner(t, 1)
	ring := keys.NewKeyring(k.Public())
	l, _ := (*token.RevocationList)(nil).Next(testIssuer, []string{"j"}, nil, testNow)
	good, _ := s.SignRevocations(l)
	if _, err := token.ParseRevocations(ring, []byte(good), testIssuer); err != nil {
		t.Fatal(err)
	}
	other, _ := testSigner(t, 2).SignRevocations(l)
	at, _ := mustMint(t, s, testRequest())
	for name, in := range map[string]string{
		"unknown key":        other,
		"access token":       at,
		"tampered":           good[:len(good)-3] + "AAA",
		"wrong issuer check": good,
	} {
		iss := testIssuer
		if name == "wrong issuer check" {
			iss = "https://other"
		}
		if _, err := token.ParseRevocations(ring, []byte(in), iss); !errors.Is(err, token.ErrRevocationList) {
			t.Errorf("%s: %v, want ErrRevocationList", name, err)
		}
	}
	// And a revocation list is never accepted as an access token.
	if _, err := testVerifier(k).Verify(good, testNow); !errors.Is(err, token.ErrMalformed) {
		t.Errorf("revocation list as a token: %v", err)
	}
}

func TestJWKS(t *testing.T) {
	k1, k2 := testKey(t, 1), testKey(t, 2)
	ring := keys.NewKeyring(k1.Public(), k2.Public())
	b, err := token.MarshalJWKS(ring)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"d"`) {
		t.Fatal("JWKS holds a private member")
	}
	back, err := token.ParseJWKS(b)
	if err != nil || back.Len() != 2 {
		t.Fatalf("round trip: %v", err)
	}
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k1.Ed25519(), KeyID: string(k1.ID()), Algorithm: "EdDSA"}}})
	misnamed, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ed25519.PublicKey(k1.Public().Bytes()), KeyID: string(k2.ID())}}})
	hs, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "x", Algorithm: "HS256"}}})
	encUse, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ed25519.PublicKey(k1.Public().Bytes()), KeyID: string(k1.ID()), Use: "enc"}}})
	for name, in := range map[string][]byte{"private": priv, "misnamed": misnamed, "hmac": hs, "enc": encUse, "empty": []byte(`{"keys":[]}`), "junk": []byte("{")} {
		if _, err := token.ParseJWKS(in); !errors.Is(err, token.ErrJWKS) {
			t.Errorf("%s: %v, want ErrJWKS", name, err)
		}
	}
}

func TestClients(t *testing.T) {
	d := newTestDir(t)
	c, secret, err := d.AddClient("local.itgrix.1", testAud, "crm,telephony")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 || c.Scope != "crm telephony" {
		t.Fatalf("secret %q, client %+v", secret, c)
	}
	if _, _, err := d.AddClient("local.itgrix.1", "", ""); err == nil {
		t.Error("duplicate client added")
	}
	for _, bad := range []string{"", "a b", "x/y", strings.Repeat("a", 129)} {
		if _, _, err := d.AddClient(bad, "", ""); err == nil {
			t.Errorf("client name %q accepted", bad)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(d.Path, ClientsFile))
	if strings.Contains(string(raw), secret) {
		t.Fatal("clients.json holds the secret in clear")
	}
	cs, err := d.Clients()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Authenticate("local.itgrix.1", secret); err != nil || got.ID != "local.itgrix.1" {
		t.Fatalf("good secret: %v", err)
	}
	for _, bad := range [][2]string{{"local.itgrix.1", secret + "x"}, {"local.itgrix.1", ""}, {"nobody", secret}} {
		if _, err := cs.Authenticate(bad[0], bad[1]); !errors.Is(err, ErrClientAuth) {
			t.Errorf("Authenticate(%q, %q): %v", bad[0], bad[1], err)
		}
	}
}

// TestRetireCrashKeepsListVerifiable simulates a crash inside Retire, after
// its first step: whatever the order of the two writes, the revocation list
// on disk must still verify, and retiring again must work.
func TestRetireCrashKeepsListVerifiable(t *testing.T) {
	d := newTestDir(t)
	s1, _ := d.Signer(testPass)
	if _, err := d.Revoke(s1, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Rotate(testPass); err != nil {
		t.Fatal(err)
	}
	calls := 0
	d.Now = func() time.Time {
		if calls++; calls == 2 {
			panic("crash")
		}
		return testNow
	}
	func() {
		defer func() { recover() }()
		d.Retire(s1.KeyID(), testPass)
	}()
	if calls != 2 {
		t.Fatalf("Retire read the clock %d times; the simulated crash did not happen", calls)
	}
	d.Now = nil
	ring, st, err := d.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := d.Revocations(ring, st.Issuer); err != nil || !l.HasJTI("x") {
		t.Fatalf("after a crash in Retire the revocation list is unusable: %v", err)
	}
	if err := d.Retire(s1.KeyID(), testPass); err != nil {
		t.Fatal(err)
	}
	ring, st, _ = d.Keyring()
	if l, err := d.Revocations(ring, st.Issuer); err != nil || !l.HasJTI("x") {
		t.Fatalf("after retiring: %v", err)
	}
}

// TestInitRace: of several inits racing on one directory exactly one
// succeeds, so no state file is silently replaced.
func TestInitRace(t *testing.T) {
	d := &Dir{Path: t.TempDir(), Seal: &keys.SealOptions{LogN: 10}}
	const n = 6
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			_, err := d.Init(testIssuer, testPass)
			errs <- err
		}()
	}
	close(start)
	ok := 0
	for range n {
		if <-errs == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d racing inits succeeded, want 1", ok, n)
	}
	if _, err := d.Signer(testPass); err != nil {
		t.Fatal(err)
	}
}
