package install

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// LicenseTerms are the facts of a verified license that apply checks: the
// caller verifies the license (pkg/license) and passes them in.
type LicenseTerms struct {
	Serial       string
	Product      string
	UpdatesUntil *time.Time // nil: updates without end
}

// ApplyOptions configures [Apply].
type ApplyOptions struct {
	// Target is the directory holding releases/, current and previous.
	// It is created if missing.
	Target string
	// Keyring holds the keys trusted everywhere (for example the keys
	// compiled into the program); keys recorded in Target's trust store
	// (DIR/trust/keys) are trusted too.
	Keyring *keys.Keyring
	// Pin holds keys the administrator trusts for this target by explicit
	// choice (bundle apply --pub). They are trusted like Keyring, and when
	// one of them signed the applied bundle and neither Keyring nor the
	// target's trust store holds it yet, Apply records it in
	// DIR/trust/keys/ID.pub before switching, so that later status,
	// rollback, [Installed] and applies of that target trust the release
	// without the key being given again. [ApplyResult.PinnedKey] names it.
	Pin *keys.Keyring
	// License, if set, refuses releases dated after its UpdatesUntil and
	// bundles for another product.
	License *LicenseTerms
	// Plan computes what would change and returns without writing.
	Plan bool
	// NoHooks skips the manifest's hooks (a site policy).
	NoHooks bool
	// Progress, if set, is called as the payload is unpacked.
	Progress func(files int, bytes int64)
	// HookOutput receives the hooks' stdout and stderr (default os.Stderr).
	HookOutput io.Writer
}

// Change is one line of a plan.
type Change struct {
	Op   string `json:"op"` // "add", "change", "mode", "remove"
	Path string `json:"path"`
	Type string `json:"type"`
	Size int64  `json:"size,omitempty"`
}

// Plan is what an apply would do.
type Plan struct {
	Product   string        `json:"product"`
	From      string        `json:"from,omitempty"` // installed version, "" if none
	To        string        `json:"to"`
	Changes   []Change      `json:"changes"`
	Unchanged int           `json:"unchanged"`
	Hooks     []bundle.Hook `json:"hooks,omitempty"`
	// PinKey is the signing key that apply records in the target's trust
	// store (see [ApplyOptions.Pin]); "" if none.
	PinKey      keys.ID  `json:"pin_key,omitempty"`
	SpaceNeeded int64    `json:"space_needed"`
	SpaceFree   int64    `json:"space_free"`
	TrustKeys   []string `json:"trust_keys,omitempty"`
	RevokeKeys  []string `json:"revoke_keys,omitempty"`
}

// ApplyResult is what [Apply] did.
type ApplyResult struct {
	Manifest *bundle.Manifest `json:"-"`
	Plan     *Plan            `json:"plan"`
	Applied  bool             `json:"applied"`
	Release  string           `json:"release,omitempty"` // path of the new release, relative to the target
	// PinnedKey is the signing key recorded in the target's trust store
	// because it was trusted through [ApplyOptions.Pin]; "" if none.
	PinnedKey keys.ID `json:"pinned_key,omitempty"`
	// PostHookErr is a failed post-switch hook; the new release stays
	// current. PostHookError is its message, for JSON output.
	PostHookErr   error  `json:"-"`
	PostHookError string `json:"post_hook_error,omitempty"`
}

// Apply verifies the bundle in volume files names and installs it into
// opts.Target atomically: it opens the target once under its lock
// ([OpenTarget]), verifies the bundle once with the target's trust
// ([Target.Open]) and installs it ([Target.Apply]). See the package
// documentation for the refusals.
func Apply(names []string, opts ApplyOptions) (*ApplyResult, error) {
	if opts.Target == "" {
		return nil, errors.New("apply: no target directory")
	}
	t, err := OpenTarget(opts.Target, TargetOptions{Keyring: opts.Keyring, Pin: opts.Pin, Lock: !opts.Plan})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	b, err := t.Open(names)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return t.Apply(b, opts)
}

// Open opens and verifies the bundle in volume files names with the
// target's trust: the given keyrings, the trust store and the current
// release's trust changes, refusing revoked keys.
func (t *Target) Open(names []string) (*bundle.Bundle, error) {
	return bundle.Open(names, t.ring, t.revoked)
}

// Apply installs the bundle b, opened with [Target.Open], into the
// target, in steps that each read only what the earlier ones produced:
//
//  1. check: every volume present, the installed release readable, the
//     license and version policy; plan the changes and the space;
//  2. lock (a target created by this apply is locked only now, then
//     checked to be still empty; an existing one was locked by
//     [OpenTarget], which also recorded the trust changes of the current
//     release that an interrupted apply left unrecorded);
//  3. stage: unpack and verify the payload into releases/.staging-VERSION,
//     fsync, rename to releases/VERSION;
//  4. run the pre-switch hooks;
//  5. record the pinned signer (see [ApplyOptions.Pin]), so that the new
//     release verifies without --pub once it is current; only adding
//     trust, which cannot make the installed release unusable;
//  6. switch previous and current, each with one rename: from here, and
//     not before, the bundle's trust_keys and revoked_keys are in force,
//     because the current release carries them;
//  7. record them in the trust store (so that rollback keeps them),
//     collect old releases, run the post-switch hooks.
//
// A crash at any point leaves a working target: the old or the new release
// current, verifiable, with status, rollback and a new apply working.
// opts.Target, opts.Keyring and opts.Pin are ignored: the target's are used.
func (t *Target) Apply(b *bundle.Bundle, opts ApplyOptions) (*ApplyResult, error) {
	plan, pin, err := t.check(b, opts)
	res := &ApplyResult{Manifest: b.Manifest, Plan: plan}
	if err != nil {
		if plan == nil {
			res = nil
		}
		return res, err
	}
	if opts.Plan {
		return res, nil
	}
	if err := t.prepare(); err != nil {
		return nil, err
	}
	final, trash, err := t.stage(b, opts.Progress)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	env := hookEnv(t.dir, final, m, t.current)
	if !opts.NoHooks {
		if err := runHooks(m, bundle.PhasePreSwitch, final, env, opts.HookOutput); err != nil {
			// Nothing was switched: put the target back as it was.
			os.RemoveAll(final)
			if trash != "" {
				os.Rename(trash, final)
			}
			return nil, err
		}
		crashpoint()
	}
	// The pinned signer is recorded before the switch: the new release
	// must verify without --pub from the moment it is current.
	if err := t.addKeys(nil, pin); err != nil {
		return nil, err
	}
	if pin != nil {
		res.PinnedKey = pin.ID()
	}
	crashpoint()
	if err := t.switchTo(m.Version); err != nil {
		return nil, err
	}
	res.Applied, res.Release = true, filepath.Join(releasesDir, m.Version)
	t.current, t.curHdr, t.curErr = m, b.Header, nil
	crashpoint()
	// The bundle's trust changes took effect with the switch (the current
	// release carries them); record them so that rollback keeps them.
	if err := t.recordTrust(); err != nil {
		return res, fmt.Errorf("%s %s is current, but its trust changes could not be recorded in %s: %w (they are in force while it is current; the next apply or rollback records them)",
			m.Product, m.Version, filepath.Join(t.dir, trustDir), err)
	}
	crashpoint()
	collectGarbage(t.dir)
	crashpoint()
	if !opts.NoHooks {
		res.PostHookErr = runHooks(m, bundle.PhasePostSwitch, final, env, opts.HookOutput)
		if res.PostHookErr != nil {
			res.PostHookError = res.PostHookErr.Error()
		}
	}
	return res, nil
}

// check is step 1 of [Target.Apply]: the refusals, the plan and the key
// to pin (nil: none).
func (t *Target) check(b *bundle.Bundle, opts ApplyOptions) (*Plan, *keys.PublicKey, error) {
	if err := b.MissingError(); err != nil {
		return nil, nil, err
	}
	if t.curErr != nil && !errors.Is(t.curErr, ErrNotInstalled) {
		return nil, nil, fmt.Errorf("%w (the installed release cannot be checked; repair or remove %s)", t.curErr, filepath.Join(t.dir, currentLink))
	}
	m := b.Manifest
	// A signer trusted only through Pin is recorded for this target.
	var pin *keys.PublicKey
	if k, ok := t.opts.Pin.Get(b.Header.KeyID); ok {
		_, inStore := t.storeKeys.Get(k.ID())
		_, inRing := t.opts.Keyring.Get(k.ID())
		if !inStore && !inRing {
			pin = k
		}
	}
	if err := checkPolicy(m, t.current, opts.License); err != nil {
		return nil, nil, err
	}
	plan := makePlan(m, t.current)
	if pin != nil {
		plan.PinKey = pin.ID()
	}
	if !opts.NoHooks {
		plan.Hooks = m.Hooks
	}
	free, err := freeSpace(t.dir)
	if err != nil {
		return nil, nil, err
	}
	plan.SpaceFree = free
	if plan.SpaceFree >= 0 && plan.SpaceNeeded > plan.SpaceFree {
		return plan, nil, fmt.Errorf("%w in %s: the release needs %d bytes, %d are free", ErrNoSpace, t.dir, plan.SpaceNeeded, plan.SpaceFree)
	}
	return plan, pin, nil
}

// prepare is step 2 of [Target.Apply]: hold the lock and remove the leftovers of an interrupted apply.
func (t *Target) prepare() error {
	if !t.locked {
		if !t.opts.Lock {
			return errors.New("apply: the target was opened without its lock (TargetOptions.Lock)")
		}
		// The target did not exist when it was opened: nothing was read
		// from it. Create and lock it, and make sure nobody installed
		// into it meanwhile.
		if err := t.lock(); err != nil {
			return err
		}
		for _, p := range []string{currentLink, trustDir} {
			if _, err := os.Lstat(filepath.Join(t.dir, p)); err == nil {
				return fmt.Errorf("%w: another apply installed into %s while this one was verifying; run it again", ErrBusy, t.dir)
			}
		}
	}
	// Leftovers of an interrupted apply are never part of a release, except
	// a release moved aside to make room for a reinstall of its version: it
	// may be the previous release, so it goes back unless the new one was
	// completed.
	rel := filepath.Join(t.dir, releasesDir)
	if ents, err := os.ReadDir(rel); err == nil {
		for _, e := range ents {
			name := e.Name()
			if v, ok := strings.CutPrefix(name, ".trash-"); ok {
				if _, err := os.Lstat(filepath.Join(rel, v)); errors.Is(err, fs.ErrNotExist) {
					if os.Rename(filepath.Join(rel, name), filepath.Join(rel, v)) == nil {
						continue
					}
				}
			}
			if strings.HasPrefix(name, ".staging-") || strings.HasPrefix(name, ".trash-") {
				os.RemoveAll(filepath.Join(rel, name))
			}
		}
	}
	crashpoint()
	return nil
}

// stage is step 3 of [Target.Apply]: the verified, durable release in
// releases/VERSION. trash is where an earlier release of the same version
// was moved ("" if none).
func (t *Target) stage(b *bundle.Bundle, progress func(int, int64)) (final, trash string, err error) {
	m := b.Manifest
	rel := filepath.Join(t.dir, releasesDir)
	staging := filepath.Join(rel, ".staging-"+m.Version)
	if err := os.Mkdir(staging, 0o700); err != nil {
		return "", "", err
	}
	defer os.RemoveAll(staging) // no-op once renamed
	if err := unpack(b, staging, progress); err != nil {
		return "", "", err
	}
	// The whole payload is verified and durable: only now may anything act
	// on it.
	crashpoint()
	final = filepath.Join(rel, m.Version)
	if _, err := os.Lstat(final); err == nil {
		// A release of this version rolled back earlier (never current:
		// checkPolicy refused that), possibly the previous one.
		trash = filepath.Join(rel, ".trash-"+m.Version)
		if err := os.Rename(final, trash); err != nil {
			return "", "", err
		}
		crashpoint()
	}
	if err := os.Rename(staging, final); err != nil {
		return "", "", err
	}
	if err := atomicfile.SyncDir(rel); err != nil {
		return "", "", err
	}
	crashpoint()
	return final, trash, nil
}

// switchTo is step 6 of [Target.Apply]: previous -> the current release,
// then current -> releases/version, each one rename.
func (t *Target) switchTo(version string) error {
	if old, err := os.Readlink(filepath.Join(t.dir, currentLink)); err == nil {
		if err := swapLink(t.dir, previousLink, old); err != nil {
			return err
		}
		crashpoint()
	}
	if err := swapLink(t.dir, currentLink, filepath.Join(releasesDir, version)); err != nil {
		return err
	}
	crashpoint()
	return nil
}

// checkPolicy applies the refusals that compare the bundle with the
// installed release and the license.
func checkPolicy(m, installed *bundle.Manifest, lic *LicenseTerms) error {
	if lic != nil {
		if lic.Product != "" && lic.Product != m.Product {
			return fmt.Errorf("%w: the bundle is for %q, the license for %q", ErrWrongProduct, m.Product, lic.Product)
		}
		if lic.UpdatesUntil != nil && m.ReleaseDate.After(*lic.UpdatesUntil) {
			return fmt.Errorf("%w: release %s is dated %s, but license %s covers updates released until %s",
				ErrSubscription, m.Version, m.ReleaseDate.UTC().Format(time.DateOnly), lic.Serial, lic.UpdatesUntil.UTC().Format(time.DateOnly))
		}
	}
	if installed == nil {
		return nil
	}
	if installed.Product != m.Product {
		return fmt.Errorf("%w: the bundle is for %q, the target has %q installed", ErrWrongProduct, m.Product, installed.Product)
	}
	switch c := bundle.CompareVersions(m.Version, installed.Version); {
	case c == 0:
		return fmt.Errorf("%w: version %s is already installed", ErrVersion, m.Version)
	case c < 0 && !m.Downgrade:
		return fmt.Errorf("%w: version %s is older than the installed %s, and the bundle is not a signed downgrade", ErrVersion, m.Version, installed.Version)
	}
	if len(m.FromVersions) > 0 && !slices.Contains(m.FromVersions, installed.Version) {
		return fmt.Errorf("%w: this bundle updates only from %s; the installed version is %s",
			ErrVersion, strings.Join(m.FromVersions, ", "), installed.Version)
	}
	return nil
}

func makePlan(m, installed *bundle.Manifest) *Plan {
	p := &Plan{Product: m.Product, To: m.Version, TrustKeys: m.TrustKeys, RevokeKeys: m.RevokedKeys}
	old := map[string]bundle.File{}
	if installed != nil {
		p.From = installed.Version
		for _, f := range installed.Files {
			old[f.Path] = f
		}
	}
	for _, f := range m.Files {
		p.SpaceNeeded += (f.Size+4095)/4096*4096 + 4096
		o, ok := old[f.Path]
		delete(old, f.Path)
		switch {
		case !ok:
			p.Changes = append(p.Changes, Change{Op: "add", Path: f.Path, Type: f.Type, Size: f.Size})
		case o.Type != f.Type || o.SHA256 != f.SHA256 || o.Target != f.Target || o.Size != f.Size:
			p.Changes = append(p.Changes, Change{Op: "change", Path: f.Path, Type: f.Type, Size: f.Size})
		case o.Mode != f.Mode:
			p.Changes = append(p.Changes, Change{Op: "mode", Path: f.Path, Type: f.Type, Size: f.Size})
		default:
			p.Unchanged++
		}
	}
	if installed != nil {
		for _, f := range installed.Files {
			if _, gone := old[f.Path]; gone {
				p.Changes = append(p.Changes, Change{Op: "remove", Path: f.Path, Type: f.Type, Size: f.Size})
			}
		}
	}
	return p
}

// freeSpace returns the bytes available to unprivileged users on the file
// system holding target (or its nearest existing parent), -1 if unknown.
func freeSpace(target string) (int64, error) {
	p := target
	for {
		var st unix.Statfs_t
		err := unix.Statfs(p, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		if !errors.Is(err, unix.ENOENT) || filepath.Dir(p) == p {
			return -1, nil
		}
		p = filepath.Dir(p)
	}
}

// unpack writes the verified payload into staging and makes it durable.
// Files are created exclusively, beneath staging only (os.Root), with
// owner-only modes until their content is complete; directories get their
// manifest modes at the end. Every file and directory is fsynced (after its
// writeback was started early) before unpack returns.
func unpack(b *bundle.Bundle, staging string, progress func(int, int64)) (err error) {
	root, err := os.OpenRoot(staging)
	if err != nil {
		return err
	}
	defer root.Close()
	w := newAsyncWriter()
	defer func() {
		if serr := w.finish(); err == nil {
			err = serr
		}
	}()
	files := 0
	var written int64
	err = b.Walk(func(f *bundle.File, r io.Reader) ([]byte, error) {
		var err error
		var sum []byte
		switch f.Type {
		case bundle.TypeDir:
			err = root.Mkdir(f.Path, 0o700)
		case bundle.TypeSymlink:
			err = root.Symlink(f.Target, f.Path)
		case bundle.TypeFile:
			var out *os.File
			out, err = root.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				break
			}
			if progress != nil {
				// Report bytes as they are unpacked, so that one large
				// file moves the progress bar too.
				r = &progressReader{r: r, report: func(n int64) { progress(files, written+n) }}
			}
			var n int64
			n, sum, err = w.copy(out, r, fs.FileMode(f.Mode))
			written += n
		}
		if err != nil {
			return nil, fmt.Errorf("apply: %s: %w", f.Path, err)
		}
		files++
		if progress != nil {
			progress(files, written)
		}
		crashpoint()
		return sum, nil
	}, nil)
	if err != nil {
		return err
	}
	// Metadata: the signed header, so the release can be re-verified, and
	// the carried licenses.
	meta := []string{bundle.MetaDir, headerFile}
	if err := root.Mkdir(bundle.MetaDir, 0o755); err != nil {
		return err
	}
	if err := root.WriteFile(headerFile, b.Header.Marshal(), 0o644); err != nil {
		return err
	}
	if len(b.Manifest.Licenses) > 0 {
		if err := root.Mkdir(bundle.MetaDir+"/licenses", 0o755); err != nil {
			return err
		}
		meta = append(meta, bundle.MetaDir+"/licenses")
		for _, l := range b.Manifest.Licenses {
			if err := root.WriteFile(bundle.MetaDir+"/licenses/"+l.Name, []byte(l.Data), 0o644); err != nil {
				return err
			}
			meta = append(meta, bundle.MetaDir+"/licenses/"+l.Name)
		}
	}
	// Directory modes, deepest first so a read-only directory does not
	// block its children; then fsync directories and metadata.
	fl := b.Manifest.Files
	var dirs []string
	for i := len(fl) - 1; i >= 0; i-- {
		if fl[i].Type != bundle.TypeDir {
			continue
		}
		dirs = append(dirs, fl[i].Path)
		if err := root.Chmod(fl[i].Path, fs.FileMode(fl[i].Mode)); err != nil {
			return fmt.Errorf("apply: %s: %w", fl[i].Path, err)
		}
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}
	if err := w.finish(); err != nil {
		return err
	}
	for _, p := range append(append(meta, dirs...), ".") {
		f, err := root.Open(p)
		if errors.Is(err, fs.ErrPermission) {
			// A directory whose mode denies us reading (possible without
			// root): flush the whole file system instead.
			return syncfs(staging)
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("apply: fsync %s: %w", p, err)
		}
	}
	return nil
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// recordTrust writes into the trust store the trust changes of the current
// release that it does not hold yet: an apply killed between its switch
// and its last write left them in force (the current release carries
// them) but unrecorded, and rollback must not undo them.
func (t *Target) recordTrust() error {
	if t.current == nil {
		return nil
	}
	if err := t.addKeys(t.current.TrustKeys, nil); err != nil {
		return err
	}
	return t.addRevocations(t.current)
}

// addKeys records the keys of trust (public key lines) and pin (nil: none)
// in DIR/trust/keys. Trust only grows: rollback does not undo it.
func (t *Target) addKeys(trust []string, pin *keys.PublicKey) error {
	var add []*keys.PublicKey
	if pin != nil {
		add = append(add, pin)
	}
	for _, line := range trust {
		k, err := keys.ParsePublic([]byte(line))
		if err != nil {
			return err
		}
		add = append(add, k)
	}
	kd := filepath.Join(t.dir, trustDir, "keys")
	for _, k := range add {
		if _, ok := t.storeKeys.Get(k.ID()); ok {
			continue
		}
		if err := os.MkdirAll(kd, 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(kd, string(k.ID())+".pub"), k.MarshalPublic(), 0o644); err != nil {
			return err
		}
		t.storeKeys.Add(k)
		t.ring.Add(k)
	}
	return nil
}

// addRevocations records the key IDs and license serials m revokes in
// DIR/trust/revoked-keys and DIR/trust/revoked-licenses.
func (t *Target) addRevocations(m *bundle.Manifest) error {
	merge := func(name string, have *[]string, add []string) error {
		var missing []string
		for _, a := range add {
			if !slices.Contains(*have, a) && !slices.Contains(missing, a) {
				missing = append(missing, a)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if err := os.MkdirAll(filepath.Join(t.dir, trustDir), 0o755); err != nil {
			return err
		}
		all := append(slices.Clone(*have), missing...)
		if err := atomicfile.Write(filepath.Join(t.dir, trustDir, name), []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		*have = all
		return nil
	}
	if err := merge(revokedKeys, &t.storeRevoked, m.RevokedKeys); err != nil {
		return err
	}
	for _, s := range m.RevokedKeys {
		t.revoked[keys.ID(s)] = true
	}
	return merge(revokedSerials, &t.storeSerials, m.RevokedLicenses)
}

// union returns a keyring holding the keys of every non-nil ring given.
func union(rings ...*keys.Keyring) *keys.Keyring {
	out := keys.NewKeyring()
	for _, r := range rings {
		if r == nil {
			continue
		}
		for _, id := range r.IDs() {
			k, _ := r.Get(id)
			out.Add(k)
		}
	}
	return out
}

// collectGarbage removes releases that are neither current nor previous.
func collectGarbage(target string) {
	keep := map[string]bool{}
	for _, l := range []string{currentLink, previousLink} {
		if d, err := os.Readlink(filepath.Join(target, l)); err == nil {
			keep[filepath.Base(d)] = true
		}
	}
	rel := filepath.Join(target, releasesDir)
	ents, _ := os.ReadDir(rel)
	for _, e := range ents {
		if !keep[e.Name()] {
			os.RemoveAll(filepath.Join(rel, e.Name()))
		}
	}
}

func hookEnv(target, dir string, m, installed *bundle.Manifest) []string {
	prev := ""
	if installed != nil {
		prev = installed.Version
	}
	return append(os.Environ(),
		"AIRSEAL_TARGET="+target, "AIRSEAL_RELEASE_DIR="+dir, "AIRSEAL_PRODUCT="+m.Product,
		"AIRSEAL_VERSION="+m.Version, "AIRSEAL_PREVIOUS_VERSION="+prev)
}

func runHooks(m *bundle.Manifest, phase, dir string, env []string, out io.Writer) error {
	if out == nil {
		out = os.Stderr
	}
	for _, h := range m.Hooks {
		if h.Phase != phase {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(h.Timeout)*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(dir, filepath.FromSlash(h.Path)))
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
		cmd.Env = append(env, "AIRSEAL_PHASE="+phase)
		// On timeout kill the hook's whole process group, not just the
		// shell, and stop waiting for output its children still hold.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		err := cmd.Run()
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %d s", h.Timeout)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("%w: %s hook %s: %v", ErrHook, phase, h.Path, err)
		}
	}
	return nil
}

// crashHook is called at every numbered step of apply and rollback. It is
// nil in every build of the package: only the crash test (a _test.go file,
// compiled into the test binary alone) sets it, so no environment variable
// or flag can make a production binary kill itself mid-apply.
var crashHook func()

func crashpoint() {
	if crashHook != nil {
		crashHook()
	}
}

// asyncWriter writes and hashes file content on goroutines of its own, so
// that decompression (on the caller's goroutine), hashing, the write system
// calls and waiting for the disk overlap. Each buffer is hashed and written
// concurrently and recycled when both are done. A finished file gets its
// mode, its writeback is started, and a third goroutine fsyncs and closes
// it while the next files are unpacked.
type asyncWriter struct {
	writes chan *writeJob
	hashes chan *writeJob
	syncs  chan *os.File
	free   chan []byte
	synced chan error // first fsync error, once syncs is drained
	done   bool
}

type writeJob struct {
	f    *os.File
	data []byte
	refs atomic.Int32
	// On the last job of a file (data nil), the writer sends the write
	// error and the hasher the sum.
	mode   fs.FileMode
	closed chan error
	sum    chan []byte
}

func newAsyncWriter() *asyncWriter {
	w := &asyncWriter{writes: make(chan *writeJob, 4), hashes: make(chan *writeJob, 4), syncs: make(chan *os.File, 64),
		free: make(chan []byte, 4), synced: make(chan error, 1)}
	for range 4 {
		w.free <- make([]byte, 256<<10)
	}
	release := func(j *writeJob) {
		if j.refs.Add(-1) == 0 {
			w.free <- j.data[:cap(j.data)]
		}
	}
	go func() {
		defer close(w.syncs)
		var err error
		for j := range w.writes {
			if j.data != nil {
				if err == nil {
					_, err = j.f.Write(j.data)
				}
				release(j)
				continue
			}
			if err == nil {
				err = j.f.Chmod(j.mode)
			}
			if err == nil {
				// Start writeback now; the syncer's fsync then has little
				// left to wait for.
				unix.SyncFileRange(int(j.f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
				w.syncs <- j.f
			} else {
				j.f.Close()
			}
			j.closed <- err
			err = nil
		}
	}()
	go func() {
		h := sha256.New()
		for j := range w.hashes {
			if j.data != nil {
				h.Write(j.data)
				release(j)
				continue
			}
			j.sum <- h.Sum(nil)
			h.Reset()
		}
	}()
	go func() {
		var first error
		for f := range w.syncs {
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil && first == nil {
				first = fmt.Errorf("apply: fsync %s: %w", f.Name(), err)
			}
		}
		w.synced <- first
	}()
	return w
}

// copy writes all of r to f, gives f the mode, hands it to the syncer and
// returns the SHA-256 of what was written.
func (w *asyncWriter) copy(f *os.File, r io.Reader, mode fs.FileMode) (int64, []byte, error) {
	var n int64
	var rerr error
	for {
		buf := <-w.free
		k, err := io.ReadFull(r, buf)
		n += int64(k)
		if k > 0 {
			j := &writeJob{f: f, data: buf[:k]}
			j.refs.Store(2)
			w.writes <- j
			w.hashes <- j
		} else {
			w.free <- buf
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	end := &writeJob{f: f, mode: mode, closed: make(chan error, 1), sum: make(chan []byte, 1)}
	w.writes <- end
	w.hashes <- end
	werr, sum := <-end.closed, <-end.sum
	if rerr != nil {
		return n, nil, rerr
	}
	return n, sum, werr
}

// finish stops the goroutines, waits until every file is fsynced and
// closed, and returns the first error. Calling it again returns nil.
func (w *asyncWriter) finish() error {
	if w.done {
		return nil
	}
	w.done = true
	close(w.writes)
	close(w.hashes)
	return <-w.synced
}

// progressReader reports the bytes read so far through report.
type progressReader struct {
	r      io.Reader
	n      int64
	report func(n int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	k, err := p.r.Read(b)
	p.n += int64(k)
	if k > 0 {
		p.report(p.n)
	}
	return k, err
}
