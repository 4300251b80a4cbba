package install

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/bundle"
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
	headerFile     = bundle.MetaDir + "/header"
	lockFile       = ".lock"
)

// Limits of the files of a target directory read by [OpenTarget]
// (docs/spec/bundle-v1.md, "Target layout"). The customer controls the
// directory: each file is read bounded, and anything but a regular file is
// refused before it is opened.
const (
	// HeaderLimit bounds a stored header: the preamble and a manifest of at
	// most bundle.MaxManifestSize bytes.
	HeaderLimit = bundle.PreambleSize + bundle.MaxManifestSize
	// PublicKeyLimit bounds one DIR/trust/keys/ID.pub.
	PublicKeyLimit = 4 << 10
	// ListLimit bounds DIR/trust/revoked-keys and DIR/trust/revoked-licenses.
	ListLimit = 16 << 20
)

// TargetOptions configures [OpenTarget].
type TargetOptions struct {
	// Keyring holds the keys trusted everywhere (for example the keys
	// compiled into the program).
	Keyring *keys.Keyring
	// Pin holds keys the administrator trusts for this target by explicit
	// choice (bundle apply --pub); see [ApplyOptions.Pin].
	Pin *keys.Keyring
	// Lock takes the target's exclusive lock (creating the directory when
	// the first install needs it); without it the target is only read.
	Lock bool
}

// Target is a target directory opened once: its trust store and the
// signed header of its current release are read (each exactly once) when
// it is opened, under the target's lock when [TargetOptions.Lock] is set,
// and every later step works from what was read. Trust is the union of the
// given keyrings, the trust store and the current release's own signed
// trust changes, so a key rotation takes effect in the same rename that
// makes its release current (see [Target.Apply]).
type Target struct {
	dir    string
	opts   TargetOptions
	locked bool
	unlock func()

	// What DIR/trust records.
	storeKeys    *keys.Keyring
	storeRevoked []string // key IDs, as written
	storeSerials []string

	ring    *keys.Keyring    // Keyring ∪ Pin ∪ store ∪ current trust_keys
	revoked map[keys.ID]bool // store ∪ current revoked_keys
	current *bundle.Manifest // nil: nothing installed, or currentErr
	curHdr  *bundle.Header
	curErr  error // why the current release cannot be used; nil if none or verified
	reads   map[string]int
}

// OpenTarget opens the target directory dir: it takes the lock if asked,
// reads the trust store and verifies the current release's header. A
// missing directory is an empty target. A current release that does not
// verify is not an error here; [Target.Installed] reports it.
func OpenTarget(dir string, opts TargetOptions) (*Target, error) {
	if dir == "" {
		return nil, errors.New("target: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	t := &Target{dir: abs, opts: opts, reads: map[string]int{}, unlock: func() {}}
	st, err := os.Stat(abs)
	switch {
	case err == nil && !st.IsDir():
		return nil, fmt.Errorf("target %s is not a directory: give the directory to install into (it is created if missing)", dir)
	case err == nil && opts.Lock:
		if err := t.lock(); err != nil {
			return nil, err
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := t.load(); err != nil {
		t.Close()
		return nil, err
	}
	if t.locked {
		// Record what an interrupted apply left in force but unrecorded.
		if err := t.recordTrust(); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// Close releases the target's lock.
func (t *Target) Close() error {
	t.unlock()
	t.unlock, t.locked = func() {}, false
	return nil
}

// Dir returns the target directory (absolute).
func (t *Target) Dir() string { return t.dir }

// Reads returns how often each file or directory of the target was read
// since it was opened, by path relative to the target: the seam that
// shows an apply reads its trust store and installed header once.
func (t *Target) Reads() map[string]int { return maps.Clone(t.reads) }

// Keyring returns every key trusted for this target: the given keyrings,
// the trust store, and the keys the current release introduced.
func (t *Target) Keyring() *keys.Keyring { return union(t.ring) }

// Revoked returns the key IDs revoked for this target: the trust store's
// and the current release's.
func (t *Target) Revoked() map[keys.ID]bool {
	return maps.Clone(t.revoked)
}

// RevokedLicenses returns the license serials revoked for this target: the
// trust store's and the current release's.
func (t *Target) RevokedLicenses() []string {
	out := slices.Clone(t.storeSerials)
	if t.current != nil {
		for _, s := range t.current.RevokedLicenses {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Installed returns the verified manifest of the current release, an
// error matching ErrNotInstalled when none is installed, or why the
// installed release cannot be used.
func (t *Target) Installed() (*bundle.Manifest, error) {
	if t.curErr != nil {
		return nil, t.curErr
	}
	return t.current, nil
}

// InstalledHeader returns the verified header of the current release (nil
// when none is installed or it does not verify).
func (t *Target) InstalledHeader() *bundle.Header { return t.curHdr }

// lock creates the target (and DIR/releases) if needed and takes its lock.
func (t *Target) lock() error {
	if err := os.MkdirAll(filepath.Join(t.dir, releasesDir), 0o755); err != nil {
		return err
	}
	unlock, err := lockTarget(t.dir)
	if err != nil {
		return err
	}
	t.unlock, t.locked = unlock, true
	return nil
}

// load reads the trust store and the current header once.
func (t *Target) load() error {
	t.storeKeys = keys.NewKeyring()
	rp := filepath.Join(trustDir, revokedKeys)
	ids, err := t.readLines(rp)
	if err != nil {
		return err
	}
	t.storeRevoked = ids
	t.revoked = map[keys.ID]bool{}
	for i, s := range ids {
		// Fail closed: a revocation that cannot be read is not ignored.
		id, err := keys.ParseID(s)
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w (each line must be a key ID; restore the file)", filepath.Join(t.dir, rp), i+1, err)
		}
		t.revoked[id] = true
	}
	kd := filepath.Join(trustDir, "keys")
	t.reads[kd]++
	ents, err := os.ReadDir(filepath.Join(t.dir, kd))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		p := filepath.Join(kd, e.Name())
		data, err := t.readFile(p, PublicKeyLimit, "public key")
		if err == nil {
			var k *keys.PublicKey
			if k, err = keys.ParsePublic(data); err == nil {
				t.storeKeys.Add(k)
				continue
			}
			err = fmt.Errorf("%s: %w", filepath.Join(t.dir, p), err)
		}
		return fmt.Errorf("trust store of %s: %w (remove or replace the file)", t.dir, err)
	}
	if t.storeSerials, err = t.readLines(filepath.Join(trustDir, revokedSerials)); err != nil {
		return err
	}
	t.ring = union(t.opts.Keyring, t.opts.Pin, t.storeKeys)
	t.current, t.curHdr, t.curErr = nil, nil, nil
	m, h, err := t.verifyRelease(currentLink)
	if err != nil {
		t.curErr = err
		return nil
	}
	t.current, t.curHdr = m, h
	// The current release's signed trust changes are in force from the
	// moment it became current, whether or not the store records them yet
	// (an apply killed right after the switch).
	for _, line := range m.TrustKeys {
		if k, err := keys.ParsePublic([]byte(line)); err == nil {
			t.ring.Add(k)
		}
	}
	for _, s := range m.RevokedKeys {
		t.revoked[keys.ID(s)] = true
	}
	return nil
}

// verifyRelease reads and verifies the header of the release link points
// to, with the target's trust.
func (t *Target) verifyRelease(link string) (*bundle.Manifest, *bundle.Header, error) {
	p := filepath.Join(t.dir, link)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w in %s (no %s)", ErrNotInstalled, t.dir, link)
	}
	data, err := t.readFile(filepath.Join(link, headerFile), HeaderLimit, "installed header")
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	h, err := bundle.ReadHeader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	m, err := h.Verify(t.ring, t.revoked)
	if err != nil {
		return nil, nil, fmt.Errorf("installed release %s: %w", p, err)
	}
	return m, h, nil
}

// readFile reads the regular file rel (relative to the target), at most
// limit bytes, counting the read (internal/fileio.ReadRegular: a FIFO,
// device or directory is refused on the open descriptor before a byte is
// read). A missing file matches fs.ErrNotExist.
func (t *Target) readFile(rel string, limit int64, what string) ([]byte, error) {
	t.reads[rel]++
	data, err := fileio.ReadRegular(nil, filepath.Join(t.dir, rel), limit, what)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (restore it, or reinstall with 'bundle apply')", err)
	}
	return data, err
}

// readLines returns the non-empty lines of the trust store file rel
// exactly as written (serials may contain spaces or start with '#'); a
// missing file has no lines.
func (t *Target) readLines(rel string) ([]string, error) {
	data, err := t.readFile(rel, ListLimit, "trust store list")
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

// Trust returns ring (which may be nil) extended with the keys trusted for
// target (its trust store DIR/trust/keys/ID.pub, and the keys its current
// release introduced), and the key IDs revoked there (DIR/trust/revoked-keys
// and the current release's revoked_keys). ring itself is not modified.
func Trust(target string, ring *keys.Keyring) (*keys.Keyring, map[keys.ID]bool, error) {
	t, err := OpenTarget(target, TargetOptions{Keyring: ring})
	if err != nil {
		return nil, nil, err
	}
	return t.Keyring(), t.Revoked(), nil
}

// RevokedLicenses returns the license serials revoked by bundles applied to
// target (the trust store's list), for license verifiers to refuse. The
// current release's own revoked_licenses are in [Target.RevokedLicenses].
func RevokedLicenses(target string) ([]string, error) {
	t := &Target{dir: target, reads: map[string]int{}}
	return t.readLines(filepath.Join(trustDir, revokedSerials))
}

// Installed returns the verified manifest of the release under
// target/current: its signed header is read and checked against ring plus
// the keys trusted for target. It returns an error matching ErrNotInstalled
// when no release is installed.
func Installed(target string, ring *keys.Keyring) (*bundle.Manifest, error) {
	t, err := OpenTarget(target, TargetOptions{Keyring: ring})
	if err != nil {
		return nil, err
	}
	return t.Installed()
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
	t, err := OpenTarget(target, TargetOptions{Keyring: ring})
	if err != nil {
		return nil, err
	}
	return t.Status()
}

// Status reports what is installed in the target.
func (t *Target) Status() (*Status, error) {
	st := &Status{Target: t.dir, TrustedKeys: t.ring.IDs()}
	for id := range t.revoked {
		st.RevokedKeys = append(st.RevokedKeys, id)
	}
	sort.Slice(st.RevokedKeys, func(i, j int) bool { return st.RevokedKeys[i] < st.RevokedKeys[j] })
	info := func(link string, m *bundle.Manifest, h *bundle.Header) *ReleaseInfo {
		dest, _ := os.Readlink(filepath.Join(t.dir, link))
		ri := &ReleaseInfo{Product: m.Product, Version: m.Version, ReleaseDate: m.ReleaseDate, KeyID: h.KeyID, Path: dest, Files: len(m.Files)}
		for _, f := range m.Files {
			ri.Bytes += f.Size
		}
		return ri
	}
	if t.curErr != nil {
		return nil, t.curErr
	}
	st.Current = info(currentLink, t.current, t.curHdr)
	if m, h, err := t.verifyRelease(previousLink); err == nil {
		st.Previous = info(previousLink, m, h)
	} else if !errors.Is(err, ErrNotInstalled) {
		st.PreviousError = err.Error()
	}
	ents, _ := os.ReadDir(filepath.Join(t.dir, releasesDir))
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			st.Releases = append(st.Releases, e.Name())
		}
	}
	return st, nil
}

// checkTree compares the release tree at dir with m: every entry present with
// its type, mode, size, link target and SHA-256, and nothing else but bundle.MetaDir.
func checkTree(dir string, m *bundle.Manifest) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	seen := map[string]bool{bundle.MetaDir: true}
	buf := make([]byte, 256<<10)
	for _, f := range m.Files {
		seen[f.Path] = true
		fi, err := root.Lstat(f.Path)
		if err != nil {
			return fmt.Errorf("%w: release %s: %v", bundle.ErrDamaged, dir, err)
		}
		bad := func(what string) error {
			return fmt.Errorf("%w: release %s: %s: %s differs from its manifest", bundle.ErrDamaged, dir, f.Path, what)
		}
		switch f.Type {
		case bundle.TypeDir:
			if !fi.IsDir() || uint32(fi.Mode().Perm()) != uint32(f.Mode) {
				return bad("type or mode")
			}
		case bundle.TypeSymlink:
			t, err := root.Readlink(f.Path)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 || t != f.Target {
				return bad("link")
			}
		case bundle.TypeFile:
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
		if d.IsDir() && p == bundle.MetaDir {
			return fs.SkipDir
		}
		return nil
	})
	if extra != "" {
		return fmt.Errorf("%w: release %s: %s is not in its manifest", bundle.ErrDamaged, dir, extra)
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
func Rollback(target string, ring *keys.Keyring) (*bundle.Manifest, error) {
	if _, err := os.Stat(target); err != nil {
		return nil, fmt.Errorf("%w in %s (%v)", ErrNotInstalled, target, err)
	}
	t, err := OpenTarget(target, TargetOptions{Keyring: ring, Lock: true})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.Rollback()
}

// Rollback makes the previous release current again (see [Rollback]). The
// target must have been opened with [TargetOptions.Lock]. Before switching
// away, the trust changes of the current release are recorded in the
// trust store, so that rolling back never undoes a key or license
// revocation.
func (t *Target) Rollback() (*bundle.Manifest, error) {
	if !t.locked {
		return nil, errors.New("rollback: the target was not opened with its lock")
	}
	cur, err := os.Readlink(filepath.Join(t.dir, currentLink))
	if err != nil {
		return nil, fmt.Errorf("%w in %s (no current release)", ErrNotInstalled, t.dir)
	}
	prev, err := os.Readlink(filepath.Join(t.dir, previousLink))
	if err != nil || prev == cur {
		return nil, fmt.Errorf("%w: %s has a current release (%s) but no previous release to roll back to", ErrNoPrevious, t.dir, cur)
	}
	m, _, err := t.verifyRelease(previousLink)
	if err != nil {
		return nil, err
	}
	if err := checkTree(filepath.Join(t.dir, prev), m); err != nil {
		return nil, err
	}
	if err := swapLink(t.dir, currentLink, prev); err != nil {
		return nil, err
	}
	crashpoint()
	if err := swapLink(t.dir, previousLink, cur); err != nil {
		return nil, err
	}
	return m, nil
}
