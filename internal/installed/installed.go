// Package installed reads what 'bundle apply' left in a target directory,
// for a verifier: the signed header of the current release and the target's
// trust store (docs/spec/bundle-v1.md, "Target layout" and "Keys, rotation
// and revocation").
//
// It exists apart from pkg/bundle and pkg/install so that a license verifier does not link
// the bundle format's decompressor and archive code (issue 9: start-up pays
// for every linked package's init). The full format rules stay in
// pkg/bundle and pkg/install; this package checks the header's framing and signature and
// decodes only the fields a verifier uses. A test checks that it agrees
// with install.Installed on an applied release.
//
// # Security
//
// Every file is read bounded: a path that is not a regular file (FIFO,
// device, directory) is refused before it is opened, and a file over its
// limit is refused after reading at most limit+1 bytes, so a target
// directory the customer controls can neither hang nor exhaust the
// verifier. The release is trusted only when its manifest signature
// verifies with a trusted key that no applied bundle revoked.
package installed

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// Limits of the files read, from docs/spec/bundle-v1.md.
const (
	// HeaderLimit is the largest stored header: the 128-byte preamble and
	// a manifest of at most 16 MiB.
	HeaderLimit = preambleSize + 16<<20
	// PublicKeyLimit bounds one DIR/trust/keys/ID.pub.
	PublicKeyLimit = 4 << 10
	// ListLimit bounds DIR/trust/revoked-keys and DIR/trust/revoked-licenses.
	ListLimit = 16 << 20
)

const (
	preambleSize = 128
	magic        = "ASBUNDLE"
	sigContext   = "airseal-bundle-v1\x00"
	formatName   = "airseal-bundle-v1"
)

// Errors, matched with errors.Is.
var (
	// ErrNotInstalled means the target has no current release.
	ErrNotInstalled = errors.New("no release installed")
	// ErrMalformed means a file of the target is not in its format.
	ErrMalformed = errors.New("malformed installed release")
	// ErrUnknownKey means the release was signed by a key that is not
	// trusted, or that an applied bundle revoked.
	ErrUnknownKey = errors.New("installed release signed by an untrusted key")
	// ErrBadSignature means the header's signature does not verify.
	ErrBadSignature = errors.New("installed release signature does not verify")
	// ErrTooLarge means a file is over its limit or is not a regular file.
	ErrTooLarge = errors.New("file over its size limit")
)

// Release is the verified description of the installed release.
type Release struct {
	Product     string
	Version     string
	ReleaseDate time.Time
	KeyID       keys.ID
	// RevokedLicenses are the serials revoked by every bundle applied to
	// the target (DIR/trust/revoked-licenses) and by this release.
	RevokedLicenses []string
}

// Read returns the verified current release of target. ring is extended
// with the keys the target's trust store records; keys that applied
// bundles revoked are refused.
func Read(target string, ring *keys.Keyring) (*Release, error) {
	st, err := os.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (the directory does not exist)", ErrNotInstalled, target)
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory; give the directory 'bundle apply --target' installed into", target)
	}
	trustDir := filepath.Join(target, "trust")
	full := keys.NewKeyring()
	if ring != nil {
		for _, id := range ring.IDs() {
			k, _ := ring.Get(id)
			full.Add(k)
		}
	}
	revoked := map[keys.ID]bool{}
	lines, err := readLines(filepath.Join(trustDir, "revoked-keys"))
	if err != nil {
		return nil, err
	}
	for i, s := range lines {
		id, err := keys.ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: entry %d: %v (each line must be a key ID; restore the file)", ErrMalformed, filepath.Join(trustDir, "revoked-keys"), i+1, err)
		}
		revoked[id] = true
	}
	ents, err := os.ReadDir(filepath.Join(trustDir, "keys"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		p := filepath.Join(trustDir, "keys", e.Name())
		data, err := readFile(p, PublicKeyLimit, "public key")
		if err != nil {
			return nil, fmt.Errorf("trust store of %s: %w (remove or replace the file)", target, err)
		}
		k, err := keys.ParsePublic(data)
		if err != nil {
			return nil, fmt.Errorf("trust store of %s: %s: %w (remove or replace the file)", target, p, err)
		}
		full.Add(k)
	}

	cur := filepath.Join(target, "current")
	if _, err := os.Lstat(cur); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (no current)", ErrNotInstalled, target)
	}
	hp := filepath.Join(cur, ".airseal", "header")
	data, err := readFile(hp, HeaderLimit, "installed header")
	if err != nil {
		return nil, fmt.Errorf("installed release %s: %w", cur, err)
	}
	rel, err := verifyHeader(data, full, revoked)
	if err != nil {
		return nil, fmt.Errorf("installed release %s: %w", cur, err)
	}
	serials, err := readLines(filepath.Join(trustDir, "revoked-licenses"))
	if err != nil {
		return nil, err
	}
	rel.RevokedLicenses = append(serials, rel.RevokedLicenses...)
	return rel, nil
}

// verifyHeader checks a stored header (preamble + manifest, no padding) and
// decodes the fields a verifier uses.
func verifyHeader(data []byte, ring *keys.Keyring, revoked map[keys.ID]bool) (*Release, error) {
	if len(data) < preambleSize || string(data[:8]) != magic {
		return nil, fmt.Errorf("%w: header: not an airseal bundle header", ErrMalformed)
	}
	pre := data[:preambleSize]
	if v := binary.BigEndian.Uint16(pre[8:10]); v != 1 {
		return nil, fmt.Errorf("%w: header: format %d, this program reads format 1", ErrMalformed, v)
	}
	id, err := keys.ParseID(string(pre[16:32]))
	if err != nil {
		return nil, fmt.Errorf("%w: header: key ID: %v", ErrMalformed, err)
	}
	mlen := int(binary.BigEndian.Uint32(pre[32:36]))
	if mlen == 0 || preambleSize+mlen != len(data) {
		return nil, fmt.Errorf("%w: header: manifest length %d, file has %d bytes after the preamble", ErrMalformed, mlen, len(data)-preambleSize)
	}
	manifest := data[preambleSize:]
	if revoked[id] {
		return nil, fmt.Errorf("%w: key %s was revoked by a release applied to this target", ErrUnknownKey, id)
	}
	k, ok := ring.Get(id)
	if !ok {
		return nil, fmt.Errorf("%w: key %s is not trusted", ErrUnknownKey, id)
	}
	if !k.Verify(append([]byte(sigContext), manifest...), pre[64:128]) {
		return nil, fmt.Errorf("%w with key %s (the header was altered or damaged)", ErrBadSignature, id)
	}
	var m struct {
		Format          string    `json:"format"`
		Product         string    `json:"product"`
		Version         string    `json:"version"`
		ReleaseDate     time.Time `json:"release_date"`
		RevokedLicenses []string  `json:"revoked_licenses"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if m.Format != formatName || m.Product == "" || m.Version == "" {
		return nil, fmt.Errorf("%w: manifest: format %q, product %q, version %q", ErrMalformed, m.Format, m.Product, m.Version)
	}
	return &Release{Product: m.Product, Version: m.Version, ReleaseDate: m.ReleaseDate, KeyID: id, RevokedLicenses: m.RevokedLicenses}, nil
}

// readLines returns the non-empty lines of p; a missing file has none.
func readLines(p string) ([]string, error) {
	data, err := readFile(p, ListLimit, "trust store list")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// readFile reads the regular file p, refusing any other kind of file
// before opening it (a FIFO would block the open) and more than limit bytes.
func readFile(p string, limit int64, what string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file (%s): %w", p, what, st.Mode().Type(), ErrTooLarge)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %s is larger than its %s limit: %w", p, what, human(limit), ErrTooLarge)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(b.Len()) > limit {
		return nil, fmt.Errorf("%s: %s is larger than its %s limit: %w", p, what, human(limit), ErrTooLarge)
	}
	return b.Bytes(), nil
}

func human(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
