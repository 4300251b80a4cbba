package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/airseal/airseal/internal/fileio"
)

// File format tags. See docs/spec/keys-v1.md.
const (
	publicTag  = "airseal-public-key-v1"
	privateTag = "airseal-private-key-v1"
)

// DefaultLogN is the default scrypt work factor (N = 2^DefaultLogN): about
// 100 ms and 32 MiB on a current server core.
const DefaultLogN = 15

// maxLogN bounds the work an attacker-supplied key file can demand.
const maxLogN = 22

// MarshalPublic returns the text of a public key file.
func (p *PublicKey) MarshalPublic() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# airseal public key %s\n", p.id)
	fmt.Fprintf(&b, "# Trusted by verifiers; it can check signatures but not make them.\n")
	fmt.Fprintf(&b, "%s %s %s\n", publicTag, p.id, base64.StdEncoding.EncodeToString(p.key))
	return b.Bytes()
}

// keyLines returns the non-comment, non-blank lines of a key file, each
// with the spaces, tabs and CR around it removed.
func keyLines(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.Trim(l, blanks+"\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// blanks are the field separators of both key files (docs/spec/keys-v1.md,
// one rule): runs of spaces and tabs. Other white space (U+00A0, U+0085,
// ...) is not a separator, so a field containing it is refused.
const blanks = " \t"

// fields splits a key file line into its fields on runs of spaces and tabs.
func fields(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
}

// ParsePublic parses a public key file. Given a private key file it returns
// an error matching [ErrPrivateKeyGiven].
func ParsePublic(data []byte) (*PublicKey, error) {
	lines := keyLines(data)
	if len(lines) > 0 && strings.HasPrefix(lines[0], privateTag) {
		return nil, ErrPrivateKeyGiven
	}
	if len(lines) != 1 {
		return nil, fmt.Errorf("%w: want one line %q, found %d lines", ErrMalformed, publicTag+" ID KEY", len(lines))
	}
	f := fields(lines[0])
	if len(f) != 3 || f[0] != publicTag {
		return nil, fmt.Errorf("%w: want %q", ErrMalformed, publicTag+" ID KEY")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(f[2])
	if err != nil {
		return nil, fmt.Errorf("%w: key is not base64: %v", ErrMalformed, err)
	}
	k, err := NewPublicKey(raw)
	if err != nil {
		return nil, err
	}
	if string(k.id) != f[1] {
		return nil, fmt.Errorf("%w: key ID %s does not match the key (its ID is %s)", ErrMalformed, f[1], k.id)
	}
	return k, nil
}

// SealOptions tune [PrivateKey.Seal].
type SealOptions struct {
	// LogN is the scrypt work factor; 0 means DefaultLogN. Tests may lower it.
	LogN int
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader
}

// Seal encrypts the private key with passphrase and returns the text of a
// private key file.
func (k *PrivateKey) Seal(passphrase []byte, opts *SealOptions) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("empty passphrase: a private key must be protected by a passphrase")
	}
	logN, r := DefaultLogN, io.Reader(rand.Reader)
	if opts != nil {
		if opts.LogN != 0 {
			logN = opts.LogN
		}
		if opts.Rand != nil {
			r = opts.Rand
		}
	}
	if logN < 1 || logN > maxLogN {
		return nil, fmt.Errorf("scrypt work factor %d out of range 1..%d", logN, maxLogN)
	}
	salt := make([]byte, 16)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, err
	}
	header := fmt.Sprintf("%s %s scrypt %d 8 1 %s %s", privateTag, k.ID(),
		logN, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(nonce))
	aead, err := sealKey(passphrase, salt, logN, 8, 1)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, k.priv.Seed(), []byte(header))
	var b bytes.Buffer
	fmt.Fprintf(&b, "# airseal private key %s\n", k.ID())
	fmt.Fprintf(&b, "# Encrypted with a passphrase. Keep it secret, keep a backup, never ship it.\n")
	fmt.Fprintf(&b, "%s\n%s\n", header, base64.StdEncoding.EncodeToString(ct))
	return b.Bytes(), nil
}

func sealKey(passphrase, salt []byte, logN, r, p int) (interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}, error) {
	key, err := scrypt.Key(passphrase, salt, 1<<logN, r, p, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}

// IsPrivate reports whether data looks like a private key file.
func IsPrivate(data []byte) bool {
	lines := keyLines(data)
	return len(lines) > 0 && strings.HasPrefix(lines[0], privateTag)
}

// PrivateID returns the key ID written in a private key file's header
// without decrypting it.
func PrivateID(data []byte) (ID, error) {
	lines := keyLines(data)
	if len(lines) == 0 {
		return "", fmt.Errorf("%w: empty file", ErrMalformed)
	}
	f := fields(lines[0])
	if len(f) < 2 || f[0] != privateTag {
		return "", fmt.Errorf("%w: not an airseal private key (want a line starting %q)", ErrMalformed, privateTag)
	}
	return ParseID(f[1])
}

// Open decrypts a private key file with passphrase.
func Open(data, passphrase []byte) (*PrivateKey, error) {
	lines := keyLines(data)
	if len(lines) > 0 && strings.HasPrefix(lines[0], publicTag) {
		return nil, fmt.Errorf("%w: this is a public key; signing needs the private key (NAME.key)", ErrMalformed)
	}
	if len(lines) != 2 {
		return nil, fmt.Errorf("%w: want a header line and a sealed key line, found %d lines", ErrMalformed, len(lines))
	}
	f := fields(lines[0])
	if len(f) != 8 || f[0] != privateTag || f[2] != "scrypt" {
		return nil, fmt.Errorf("%w: header must be %q", ErrMalformed, privateTag+" ID scrypt LOGN R P SALT NONCE")
	}
	id, err := ParseID(f[1])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var nums [3]int
	for i := range nums {
		n, err := strconv.Atoi(f[3+i])
		if err != nil || n < 1 || strconv.Itoa(n) != f[3+i] {
			return nil, fmt.Errorf("%w: scrypt parameter %q is not a positive integer", ErrMalformed, f[3+i])
		}
		nums[i] = n
	}
	// scrypt needs 128*r*N bytes of memory: cap it at 1 GiB so a hostile
	// file cannot exhaust memory (the default needs 32 MiB).
	if nums[0] > maxLogN || nums[1] > 32 || nums[2] > 16 || int64(128*nums[1])<<nums[0] > 1<<30 {
		return nil, fmt.Errorf("%w: scrypt parameters too large", ErrMalformed)
	}
	salt, err1 := base64.StdEncoding.Strict().DecodeString(f[6])
	nonce, err2 := base64.StdEncoding.Strict().DecodeString(f[7])
	ct, err3 := base64.StdEncoding.Strict().DecodeString(lines[1])
	if err := errors.Join(err1, err2, err3); err != nil || len(nonce) != chacha20poly1305.NonceSizeX || len(salt) < 8 {
		return nil, fmt.Errorf("%w: bad salt, nonce or sealed key", ErrMalformed)
	}
	aead, err := sealKey(passphrase, salt, nums[0], nums[1], nums[2])
	if err != nil {
		return nil, err
	}
	// The associated data is the header in its canonical form, fields
	// joined by one space: what Seal wrote and authenticated. A header
	// re-spaced by an editor still opens; changing any field does not.
	header := strings.Join(f, " ")
	seed, err := aead.Open(nil, nonce, ct, []byte(header))
	if err != nil {
		return nil, ErrDecrypt
	}
	k, err := NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	if k.ID() != id {
		return nil, fmt.Errorf("%w: key ID %s in the header does not match the key", ErrMalformed, id)
	}
	return k, nil
}

// LoadPublic reads a public key file, bounded (a FIFO, device or oversized
// file is refused before it is read). Errors name the file and say what to do.
func LoadPublic(path string) (*PublicKey, error) {
	data, err := fileio.ReadRegular(nil, path, fileio.LimitPublicKey, "public key")
	if err != nil {
		return nil, err
	}
	k, err := ParsePublic(data)
	if errors.Is(err, ErrPrivateKeyGiven) {
		return nil, fmt.Errorf("%s: %w; give the matching .pub file, and never copy a private key to a customer machine", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPrivate reads and decrypts a private key file.
func LoadPrivate(path string, passphrase []byte) (*PrivateKey, error) {
	data, err := fileio.ReadRegular(nil, path, fileio.LimitPrivateKey, "private key")
	if err != nil {
		return nil, err
	}
	k, err := Open(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteNew writes data to path with the given mode, refusing to overwrite an
// existing file (O_EXCL), and syncs it to disk.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it (move it away or choose another name)", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
