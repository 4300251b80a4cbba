package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/pkg/keys"
)

// Layout of a target directory (see docs/spec/bundle-v1.md):
//
//	DIR/current   -> releases/VERSION   the installed release
//	DIR/previous  -> releases/VERSION   kept for rollback
//	DIR/releases/VERSION/.airseal/header   signed header of that release
//	DIR/trust/keys/ID.pub                  keys added by applied bundles
//	DIR/trust/revoked-keys                 key IDs revoked by applied bundles
//	DIR/trust/revoked-licenses             license serials revoked
const (
	currentLink    = "current"
	previousLink   = "previous"
	releasesDir    = "releases"
	trustDir       = "trust"
	revokedKeys    = "revoked-keys"
	revokedSerials = "revoked-licenses"
	headerFile     = MetaDir + "/header"
	lockFile       = ".lock"
)

// Trust returns ring (which may be nil) extended with the keys recorded in
// target's trust store, DIR/trust/keys/ID.pub (added by applied bundles, or
// pinned by an apply that was given the signing key, see
// [ApplyOptions.Pin]), and the key IDs that applied bundles revoked. ring
// itself is not modified.
func Trust(target string, ring *keys.Keyring) (*keys.Keyring, map[keys.ID]bool, error) {
	out := union(ring)
	revoked := map[keys.ID]bool{}
	rp := filepath.Join(target, trustDir, revokedKeys)
	ids, err := readLines(rp)
	if err != nil {
		return nil, nil, err
	}
	for i, s := range ids {
		// Fail closed: a revocation that cannot be read is not ignored.
		id, err := keys.ParseID(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: entry %d: %w (each line must be a key ID; restore the file)", rp, i+1, err)
		}
		revoked[id] = true
	}
	ents, err := os.ReadDir(filepath.Join(target, trustDir, "keys"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		k, err := keys.LoadPublic(filepath.Join(target, trustDir, "keys", e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("trust store of %s: %w (remove or replace the file)", target, err)
		}
		out.Add(k)
	}
	return out, revoked, nil
}

// RevokedLicenses returns the license serials revoked by bundles applied to
// target, for license verifiers to refuse.
func RevokedLicenses(target string) ([]string, error) {
	return readLines(filepath.Join(target, trustDir, revokedSerials))
}

// readLines returns the non-empty lines of the trust store file p exactly
// as written (serials may contain spaces or start with '#'); a missing file
// has no lines.
func readLines(p string) ([]string, error) {
	data, err := os.ReadFile(p)
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

// Installed returns the verified manifest of the release under
// target/current: its signed header is read and checked against ring plus
// the keys that applied bundles added to target. It returns an error
// matching ErrNotInstalled when no release is installed.
func Installed(target string, ring *keys.Keyring) (*Manifest, error) {
	m, _, err := installedAt(target, currentLink, ring)
	return m, err
}

func installedAt(target, link string, ring *keys.Keyring) (*Manifest, *Header, error) {
	full, revoked, err := Trust(target, ring)
	if err != nil {
		return nil, nil, err
	}
	p := filepath.Join(target, link)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w in %s (no %s)", ErrNotInstalled, target, link)
	}
	data, err := os.ReadFile(filepath.Join(p, headerFile))
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	h, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	m, err := h.Verify(full, revoked)
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	return m, h, nil
}

// ReleaseInfo describes one installed release: its signed product,
// version and release date, the key that signed it, the link's target
// relative to DIR, and the number and total size of its entries.
type ReleaseInfo struct {
	Product     string    `json:"product"`
	Version     string    `json:"version"`
	ReleaseDate time.Time `json:"release_date"`
	KeyID       keys.ID   `json:"key_id"`
	Path        string    `json:"path"`
	Files       int       `json:"files"`
	Bytes       int64     `json:"bytes"`
}

// Status describes a target directory: the current and previous
// releases, the release directories present, and the keys trusted
// (compiled-in, given and recorded in DIR/trust) and revoked there.
type Status struct {
	Target   string       `json:"target"`
	Current  *ReleaseInfo `json:"current"`
	Previous *ReleaseInfo `json:"previous,omitempty"`
	// PreviousError says why DIR/previous exists but cannot be rolled back
	// to (its header does not verify, or it is missing); "" otherwise.
	PreviousError string    `json:"previous_error,omitempty"`
	Releases      []string  `json:"releases"`
	TrustedKeys   []keys.ID `json:"trusted_keys"`
	RevokedKeys   []keys.ID `json:"revoked_keys,omitempty"`
}

// TargetStatus reports what is installed in target. The current release's
// signature is verified; an error matching ErrNotInstalled means nothing is
// installed.
func TargetStatus(target string, ring *keys.Keyring) (*Status, error) {
	full, revoked, err := Trust(target, ring)
	if err != nil {
		return nil, err
	}
	st := &Status{Target: target, TrustedKeys: full.IDs()}
	for id := range revoked {
		st.RevokedKeys = append(st.RevokedKeys, id)
	}
	sort.Slice(st.RevokedKeys, func(i, j int) bool { return st.RevokedKeys[i] < st.RevokedKeys[j] })
	info := func(link string) (*ReleaseInfo, error) {
		m, h, err := installedAt(target, link, ring)
		if err != nil {
			return nil, err
		}
		dest, _ := os.Readlink(filepath.Join(target, link))
		ri := &ReleaseInfo{Product: m.Product, Version: m.Version, ReleaseDate: m.ReleaseDate, KeyID: h.KeyID, Path: dest, Files: len(m.Files)}
		for _, f := range m.Files {
			ri.Bytes += f.Size
		}
		return ri, nil
	}
	if st.Current, err = info(currentLink); err != nil {
		return nil, err
	}
	if p, err := info(previousLink); err == nil {
		st.Previous = p
	} else if !errors.Is(err, ErrNotInstalled) {
		st.PreviousError = err.Error()
	}
	ents, _ := os.ReadDir(filepath.Join(target, releasesDir))
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			st.Releases = append(st.Releases, e.Name())
		}
	}
	return st, nil
}

// checkTree compares the release tree at dir with m: every entry present with
// its type, mode, size, link target and SHA-256, and nothing else but MetaDir.
func checkTree(dir string, m *Manifest) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	seen := map[string]bool{MetaDir: true}
	buf := make([]byte, 256<<10)
	for _, f := range m.Files {
		seen[f.Path] = true
		fi, err := root.Lstat(f.Path)
		if err != nil {
			return fmt.Errorf("%w: release %s: %v", ErrDamaged, dir, err)
		}
		bad := func(what string) error {
			return fmt.Errorf("%w: release %s: %s: %s differs from its manifest", ErrDamaged, dir, f.Path, what)
		}
		switch f.Type {
		case TypeDir:
			if !fi.IsDir() || uint32(fi.Mode().Perm()) != uint32(f.Mode) {
				return bad("type or mode")
			}
		case TypeSymlink:
			t, err := root.Readlink(f.Path)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 || t != f.Target {
				return bad("link")
			}
		case TypeFile:
			if !fi.Mode().IsRegular() || uint32(fi.Mode().Perm()) != uint32(f.Mode) || fi.Size() != f.Size {
				return bad("type, mode or size")
			}
			fh, err := root.Open(f.Path)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.CopyBuffer(h, fh, buf)
			fh.Close()
			if err != nil {
				return err
			}
			if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
				return bad("content")
			}
		}
	}
	var extra string
	fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if !seen[p] && extra == "" {
			extra = p
		}
		if d.IsDir() && p == MetaDir {
			return fs.SkipDir
		}
		return nil
	})
	if extra != "" {
		return fmt.Errorf("%w: release %s: %s is not in its manifest", ErrDamaged, dir, extra)
	}
	return nil
}

// lockTarget takes an exclusive lock on target; it fails at once with
// ErrBusy if another process holds it.
func lockTarget(target string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(target, lockFile), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is locked by another apply or rollback", ErrBusy, target)
	}
	return func() { f.Close() }, nil
}

// swapLink points target/name at dest by creating a temporary symlink and
// renaming it over name, then syncing target.
func swapLink(target, name, dest string) error {
	tmp := filepath.Join(target, "."+name+".tmp")
	os.Remove(tmp)
	if err := os.Symlink(dest, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(target, name)); err != nil {
		return err
	}
	return atomicfile.SyncDir(target)
}

// Rollback makes the previous release current again, after checking its
// signature and every file against its manifest. The release it replaces
// becomes the previous one. Hooks are not run.
func Rollback(target string, ring *keys.Keyring) (*Manifest, error) {
	unlock, err := lockTarget(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s", ErrNotInstalled, target)
		}
		return nil, err
	}
	defer unlock()
	cur, err := os.Readlink(filepath.Join(target, currentLink))
	if err != nil {
		return nil, fmt.Errorf("%w in %s (no current release)", ErrNotInstalled, target)
	}
	prev, err := os.Readlink(filepath.Join(target, previousLink))
	if err != nil || prev == cur {
		return nil, fmt.Errorf("%w: %s has no previous release to roll back to", ErrNotInstalled, target)
	}
	m, _, err := installedAt(target, previousLink, ring)
	if err != nil {
		return nil, err
	}
	if err := checkTree(filepath.Join(target, prev), m); err != nil {
		return nil, err
	}
	if err := swapLink(target, currentLink, prev); err != nil {
		return nil, err
	}
	crashpoint()
	if err := swapLink(target, previousLink, cur); err != nil {
		return nil, err
	}
	return m, nil
}
