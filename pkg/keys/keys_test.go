package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedKey(t testing.TB, b byte) *PrivateKey {
	t.Helper()
	k, err := NewPrivateKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedRand makes Seal deterministic in tests.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

func sealed(t testing.TB, k *PrivateKey, pass string) []byte {
	t.Helper()
	b, err := k.Seal([]byte(pass), &SealOptions{LogN: 10, Rand: fixedRand(3)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIDIsStableAndPrintable(t *testing.T) {
	k := seedKey(t, 1)
	if k.ID() != seedKey(t, 1).ID() || k.ID() == seedKey(t, 2).ID() {
		t.Fatal("key IDs are not derived from the key")
	}
	if _, err := ParseID(string(k.ID())); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdef0"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestParsePublic(t *testing.T) {
	k := seedKey(t, 1)
	good := k.Public().MarshalPublic()
	line := strings.Split(strings.TrimSpace(string(good)), "\n")[2]
	f := strings.Fields(line)
	other := seedKey(t, 2).Public()
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"file as written", string(good), nil},
		{"bare line", line + "\n", nil},
		{"CRLF and blank lines", "\r\n# c\r\n" + line + "\r\n\r\n", nil},
		{"private key", string(sealed(t, k, "pw")), ErrPrivateKeyGiven},
		{"empty", "", ErrMalformed},
		{"comments only", "# nothing\n", ErrMalformed},
		{"two keys", line + "\n" + line + "\n", ErrMalformed},
		{"wrong tag", "airseal-public-key-v2 " + f[1] + " " + f[2], ErrMalformed},
		{"missing field", f[0] + " " + f[2], ErrMalformed},
		{"extra field", line + " extra", ErrMalformed},
		{"ID of another key", f[0] + " " + string(other.ID()) + " " + f[2], ErrMalformed},
		{"not base64", f[0] + " " + f[1] + " !!!!", ErrMalformed},
		{"short key", f[0] + " " + f[1] + " AAAA", ErrMalformed},
		{"non-canonical base64 padding bits", f[0] + " " + f[1] + " " + f[2][:len(f[2])-2] + "B=", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePublic([]byte(tt.in))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.ID() != k.ID() || !bytes.Equal(p.Bytes(), k.Public().Bytes()) {
					t.Fatal("parsed a different key")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k := seedKey(t, 1)
	file := sealed(t, k, "correct horse")
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	header, ct := lines[2], lines[3]
	f := strings.Fields(header)
	tests := []struct {
		name string
		in   string
		pass string
		want error
	}{
		{"as written", string(file), "correct horse", nil},
		{"wrong passphrase", string(file), "wrong", ErrDecrypt},
		{"empty passphrase", string(file), "", ErrDecrypt},
		{"public key", string(k.Public().MarshalPublic()), "correct horse", ErrMalformed},
		{"empty", "", "x", ErrMalformed},
		{"no ciphertext", header, "x", ErrMalformed},
		{"edited ID", strings.Replace(header, f[1], string(seedKey(t, 2).ID()), 1) + "\n" + ct, "correct horse", ErrDecrypt},
		{"edited logN", strings.Replace(header, " scrypt 10 ", " scrypt 11 ", 1) + "\n" + ct, "correct horse", ErrDecrypt},
		{"huge logN", strings.Replace(header, " scrypt 10 ", " scrypt 40 ", 1) + "\n" + ct, "x", ErrMalformed},
		{"too much memory", strings.Replace(header, " 10 8 1 ", " 22 32 1 ", 1) + "\n" + ct, "x", ErrMalformed},
		{"zero r", strings.Replace(header, " 10 8 1 ", " 10 0 1 ", 1) + "\n" + ct, "x", ErrMalformed},
		{"leading zero", strings.Replace(header, " 10 8 1 ", " 010 8 1 ", 1) + "\n" + ct, "x", ErrMalformed},
		{"other KDF", strings.Replace(header, " scrypt ", " argon2 ", 1) + "\n" + ct, "x", ErrMalformed},
		{"short nonce", strings.Replace(header, f[7], "AAAA", 1) + "\n" + ct, "x", ErrMalformed},
		{"bad ciphertext base64", header + "\n!!!!", "x", ErrMalformed},
		{"flipped ciphertext", header + "\n" + flipB64(ct), "correct horse", ErrDecrypt},
		{"double space", strings.Replace(header, " ", "  ", 1) + "\n" + ct, "correct horse", nil},
		{"tabs", strings.ReplaceAll(header, " ", "\t") + "\r\n" + ct, "correct horse", nil},
		{"no-break space", strings.Replace(header, " ", "\u00a0", 1) + "\n" + ct, "correct horse", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open([]byte(tt.in), []byte(tt.pass))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got.ID() != k.ID() || !bytes.Equal(got.Ed25519(), k.Ed25519()) {
					t.Fatal("opened a different key")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if id, err := PrivateID(file); err != nil || id != k.ID() {
		t.Errorf("PrivateID = %v, %v", id, err)
	}
	if !IsPrivate(file) || IsPrivate(k.Public().MarshalPublic()) {
		t.Error("IsPrivate is wrong")
	}
	if _, err := k.Seal(nil, nil); err == nil {
		t.Error("Seal accepted an empty passphrase")
	}
}

func flipB64(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestKeyringVerify(t *testing.T) {
	a, b := seedKey(t, 1), seedKey(t, 2)
	ring := NewKeyring(a.Public())
	msg := []byte("message")
	if err := ring.Verify(a.ID(), msg, a.Sign(msg)); err != nil {
		t.Fatal(err)
	}
	if err := ring.Verify(b.ID(), msg, b.Sign(msg)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	if err := ring.Verify(a.ID(), []byte("other"), a.Sign(msg)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	if err := ring.Verify(a.ID(), msg, a.Sign(msg)[:10]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short signature: %v", err)
	}
	ring.Add(b.Public())
	ring.Add(b.Public())
	if ring.Len() != 2 || len(ring.IDs()) != 2 {
		t.Errorf("keyring holds %d keys", ring.Len())
	}
	var nilRing *Keyring
	if _, ok := nilRing.Get(a.ID()); ok || nilRing.Len() != 0 {
		t.Error("nil keyring is not empty")
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	k := seedKey(t, 1)
	priv, pub := filepath.Join(dir, "v.key"), filepath.Join(dir, "v.pub")
	if err := WriteNew(priv, sealed(t, k, "pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(pub, k.Public().MarshalPublic(), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %o", st.Mode().Perm())
	}
	if err := WriteNew(priv, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := LoadPublic(priv); !errors.Is(err, ErrPrivateKeyGiven) || !strings.Contains(err.Error(), "v.key") {
		t.Errorf("LoadPublic(private) = %v", err)
	}
	if p, err := LoadPublic(pub); err != nil || p.ID() != k.ID() {
		t.Errorf("LoadPublic = %v", err)
	}
	if _, err := LoadPrivate(priv, []byte("pw")); err != nil {
		t.Error(err)
	}
	if _, err := LoadPrivate(priv, []byte("no")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("LoadPrivate wrong passphrase = %v", err)
	}
}

// FuzzParsePublic: whatever parses must marshal to a file that parses to the same key.
func FuzzParsePublic(f *testing.F) {
	k := seedKey(f, 1)
	f.Add(k.Public().MarshalPublic())
	f.Add(sealed(f, k, "pw"))
	f.Add([]byte("airseal-public-key-v1 0000000000000000 AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePublic(data)
		if err != nil {
			return
		}
		q, err := ParsePublic(p.MarshalPublic())
		if err != nil || q.ID() != p.ID() || !bytes.Equal(q.Bytes(), p.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzOpen: the private key parser never panics and only opens with the
// right passphrase. The work factor is capped so the fuzzer stays fast.
func FuzzOpen(f *testing.F) {
	k := seedKey(f, 1)
	f.Add(sealed(f, k, "pw"), []byte("pw"))
	f.Add(k.Public().MarshalPublic(), []byte("pw"))
	f.Fuzz(func(t *testing.T, data, pass []byte) {
		for _, l := range keyLines(data) {
			if fs := strings.Fields(l); len(fs) > 3 && fs[0] == privateTag && fs[3] > "12" && len(fs[3]) >= 2 {
				return // a large scrypt work factor: slow, not interesting here
			}
		}
		p, err := Open(data, pass)
		if err != nil {
			return
		}
		if _, err := NewPrivateKey(p.Ed25519().Seed()); err != nil {
			t.Fatal(err)
		}
	})
}
