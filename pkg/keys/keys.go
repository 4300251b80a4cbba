// Package keys holds airseal's Ed25519 signing keys: key pairs with a short
// printable key ID, private keys encrypted at rest with a passphrase, public
// key files, and keyrings of several trusted public keys (for rotation).
//
// # Security
//
// A private key file is sealed with XChaCha20-Poly1305 under a key derived
// from the passphrase with scrypt (N=2^15, r=8, p=1 by default). The file's
// header (format, key ID and KDF parameters) is authenticated as associated
// data, so editing any of it makes the file fail to open. A wrong passphrase
// and a damaged file cannot be told apart; both return [ErrDecrypt].
//
// A key ID is the first 8 bytes of SHA-256 over a domain-separation prefix
// and the public key, in lower-case hex. It names a key; it does not
// authenticate it. Trust comes only from the keyring the caller builds.
//
// Nothing here protects a private key while it is decrypted in memory.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnknownKey means a signature names a key ID that is not in the keyring.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrBadSignature means the signature does not verify under the named key.
	ErrBadSignature = errors.New("bad signature")
	// ErrPrivateKeyGiven means a private key file was given where a public key was expected.
	ErrPrivateKeyGiven = errors.New("private key given where a public key is expected")
	// ErrDecrypt means a private key could not be opened: wrong passphrase or damaged file.
	ErrDecrypt = errors.New("cannot decrypt private key: wrong passphrase or damaged file")
	// ErrMalformed means a key file cannot be parsed.
	ErrMalformed = errors.New("malformed key file")
)

// IDLen is the length in characters of a key ID.
const IDLen = 16

// ID is a key's short printable identifier: 16 lower-case hex characters.
type ID string

const idPrefix = "airseal key id v1\x00"

// idOf derives the ID of an Ed25519 public key.
func idOf(pub ed25519.PublicKey) ID {
	h := sha256.New()
	h.Write([]byte(idPrefix))
	h.Write(pub)
	return ID(hex.EncodeToString(h.Sum(nil)[:IDLen/2]))
}

// ParseID checks that s has the form of a key ID and returns it.
func ParseID(s string) (ID, error) {
	if len(s) != IDLen {
		return "", fmt.Errorf("key ID %q: want %d hex characters", s, IDLen)
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("key ID %q: want lower-case hex", s)
		}
	}
	return ID(s), nil
}

// PublicKey is an Ed25519 public key with its ID.
type PublicKey struct {
	id  ID
	key ed25519.PublicKey
}

// NewPublicKey wraps a raw 32-byte Ed25519 public key.
func NewPublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(raw), ed25519.PublicKeySize)
	}
	k := make(ed25519.PublicKey, ed25519.PublicKeySize)
	copy(k, raw)
	return &PublicKey{id: idOf(k), key: k}, nil
}

// ID returns the key's ID.
func (p *PublicKey) ID() ID { return p.id }

// Bytes returns the raw Ed25519 public key. The caller must not modify it.
func (p *PublicKey) Bytes() ed25519.PublicKey { return p.key }

// Verify reports whether sig is a valid signature of msg by this key.
func (p *PublicKey) Verify(msg, sig []byte) bool {
	return verifySignature(p.key, msg, sig)
}

// PrivateKey is an Ed25519 private key with its ID.
type PrivateKey struct {
	pub  *PublicKey
	priv ed25519.PrivateKey
}

// Generate creates a new key pair from rand (crypto/rand when nil).
func Generate(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return NewPrivateKey(seed)
}

// NewPrivateKey derives a key pair from a 32-byte seed. The same seed always
// gives the same key, which test vectors rely on.
func NewPrivateKey(seed []byte) (*PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: seed is %d bytes, want %d", ErrMalformed, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub, _ := NewPublicKey(priv.Public().(ed25519.PublicKey))
	return &PrivateKey{pub: pub, priv: priv}, nil
}

// ID returns the key's ID (the ID of its public half).
func (k *PrivateKey) ID() ID { return k.pub.id }

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Sign signs msg with Ed25519. Callers prefix msg with their own domain
// separation string so a signature over one kind of object can never be
// taken for another.
func (k *PrivateKey) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Ed25519 returns the raw private key, for libraries (such as JOSE) that
// need it. The caller must not modify it.
func (k *PrivateKey) Ed25519() ed25519.PrivateKey { return k.priv }
