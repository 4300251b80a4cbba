package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	v1, v2 := filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	makeTree(t, v1, "1.0.0", 3<<20)
	makeTree(t, v2, "1.1.0", 5<<20)
	b1, b2 := filepath.Join(dir, "v1.bundle"), filepath.Join(dir, "v2.bundle")
	pack(t, key, v1, b1, "1.0.0", nil)
	res := pack(t, key, v2, b2, "1.1.0", func(o *bundle.PackOptions) { o.FromVersions = []string{"1.0.0"} })
	if len(res.Volumes) != 1 || len(res.Manifest.Payload.Chunks) < 2 {
		t.Fatalf("want one volume with several chunks, got %d volumes, %d chunks", len(res.Volumes), len(res.Manifest.Payload.Chunks))
	}

	b, err := bundle.Open([]string{b2}, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := b.Verify(bundle.VerifyOptions{})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Complete || vr.FilesChecked != len(res.Manifest.Files) || vr.ChunksChecked != len(res.Manifest.Payload.Chunks) {
		t.Fatalf("verify result %+v", vr)
	}

	target := filepath.Join(dir, "target")
	if _, err := Installed(target, ring); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Installed on empty target: %v, want ErrNotInstalled", err)
	}
	if _, err := Apply([]string{b1}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v1); got != want {
		t.Fatalf("after apply v1:\n%s\nwant\n%s", got, want)
	}
	plan, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring, Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Applied || plan.Plan.From != "1.0.0" || plan.Plan.To != "1.1.0" || len(plan.Plan.Changes) == 0 {
		t.Fatalf("plan %+v", plan.Plan)
	}
	if got := treeDigest(t, filepath.Join(target, "current")); got != treeDigest(t, v1) {
		t.Fatal("--plan changed the target")
	}
	if _, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v2); got != want {
		t.Fatalf("after apply v2:\n%s\nwant\n%s", got, want)
	}
	m, err := Installed(target, ring)
	if err != nil || m.Version != "1.1.0" || !m.ReleaseDate.Equal(testDate) {
		t.Fatalf("Installed = %v, %v", m, err)
	}
	st, err := TargetStatus(target, ring)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current.Version != "1.1.0" || st.Previous == nil || st.Previous.Version != "1.0.0" {
		t.Fatalf("status %+v", st)
	}
	if _, err := Rollback(target, ring); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v1); got != want {
		t.Fatalf("after rollback:\n%s\nwant\n%s", got, want)
	}
	if m, _ := Installed(target, ring); m.Version != "1.0.0" {
		t.Fatalf("after rollback installed %s", m.Version)
	}
	// The rolled-back release can be applied again.
	if _, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if m, _ := Installed(target, ring); m.Version != "1.1.0" {
		t.Fatalf("re-apply installed %s", m.Version)
	}
}

func TestHooks(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	mk := func(version, script string, phase string) string {
		src := filepath.Join(dir, "src-"+version)
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\n"+script+"\n"), 0o755)
		out := filepath.Join(dir, version+".bundle")
		pack(t, key, src, out, version, func(o *bundle.PackOptions) {
			o.Hooks = []bundle.Hook{{Phase: phase, Path: "hook.sh", Timeout: 1}}
		})
		return out
	}
	target := filepath.Join(dir, "target")
	var log bytes.Buffer
	if _, err := Apply([]string{mk("1.0.0", `echo "pre $AIRSEAL_VERSION in $PWD"`, bundle.PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log}); err != nil {
		t.Fatal(err)
	}
	if want := "pre 1.0.0 in " + filepath.Join(target, "releases", "1.0.0"); !strings.Contains(log.String(), want) {
		t.Fatalf("hook output %q, want %q", log.String(), want)
	}
	// A failing pre-switch hook: nothing is switched and the staged release is gone.
	_, err := Apply([]string{mk("2.0.0", "exit 3", bundle.PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "pre-switch hook hook.sh: exit status 3") {
		t.Fatalf("failing hook: %v", err)
	}
	if m, _ := Installed(target, ring); m.Version != "1.0.0" {
		t.Fatalf("failing pre-switch hook switched to %s", m.Version)
	}
	if _, err := os.Stat(filepath.Join(target, "releases", "2.0.0")); err == nil {
		t.Fatal("release of a failed hook left behind")
	}
	// A hook that hangs is killed at its timeout; --no-hooks skips it.
	_, err = Apply([]string{mk("3.0.0", "sleep 30", bundle.PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "timed out after 1 s") {
		t.Fatalf("hanging hook: %v", err)
	}
	if _, err := Apply([]string{filepath.Join(dir, "3.0.0.bundle")}, ApplyOptions{Target: target, Keyring: ring, NoHooks: true}); err != nil {
		t.Fatal(err)
	}
	// A failing post-switch hook is reported; the release stays current.
	res, err := Apply([]string{mk("4.0.0", "exit 1", bundle.PhasePostSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if err != nil || res.PostHookErr == nil || !errors.Is(res.PostHookErr, ErrHook) || !strings.Contains(res.PostHookError, "post-switch hook hook.sh: exit status 1") {
		t.Fatalf("post-switch: %v %v", err, res)
	}
	if m, _ := Installed(target, ring); m.Version != "4.0.0" {
		t.Fatalf("after failing post-switch hook: %s", m.Version)
	}
}

// Serials revoked by a bundle are stored and read back exactly, even with
// spaces or a leading '#'.
func TestRevokedLicensesExact(t *testing.T) {
	dir := t.TempDir()
	serials := []string{"#42", " lead and trail ", "ACME 2026/7"}
	tg, err := OpenTarget(dir, TargetOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.addRevocations(&bundle.Manifest{RevokedLicenses: serials}); err != nil {
		t.Fatal(err)
	}
	if err := tg.addRevocations(&bundle.Manifest{RevokedLicenses: []string{"#42", "new"}}); err != nil {
		t.Fatal(err)
	}
	got, err := RevokedLicenses(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(serials, "new"); !slices.Equal(got, want) {
		t.Fatalf("RevokedLicenses = %q, want %q", got, want)
	}
}

// A revoked-keys file that cannot be read is an error, never an empty list.
func TestTrustFailsClosed(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, trustDir), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, trustDir, revokedKeys)
	if err := os.WriteFile(p, []byte("not-a-key-id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Trust(dir, nil); err == nil || !strings.Contains(err.Error(), p+": entry 1") {
		t.Fatalf("Trust with a garbled revocation list: %v, want an error naming %s", err, p)
	}
}

// Reinstalling the version that is the previous release (after a rollback)
// with a failing pre-switch hook leaves that previous release in place, and
// so does a crash after it was moved aside.
func TestReinstallPreviousKeepsIt(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	target := filepath.Join(dir, "target")
	apply := func(version string, hooks []bundle.Hook) error {
		t.Helper()
		src := filepath.Join(dir, "src-"+version+fmt.Sprint(len(hooks)))
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\nexit 3\n"), 0o755)
		out := src + ".bundle"
		pack(t, key, src, out, version, func(o *bundle.PackOptions) { o.Hooks = hooks })
		_, err := Apply([]string{out}, ApplyOptions{Target: target, Keyring: ring, HookOutput: io.Discard})
		return err
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if err := apply(v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Rollback(target, ring); err != nil {
		t.Fatal(err)
	}
	err := apply("2.0.0", []bundle.Hook{{Phase: bundle.PhasePreSwitch, Path: "hook.sh", Timeout: 5}})
	if !errors.Is(err, ErrHook) {
		t.Fatalf("failing pre-switch hook: %v", err)
	}
	st, err := TargetStatus(target, ring)
	if err != nil || st.Previous == nil || st.Previous.Version != "2.0.0" {
		t.Fatalf("after a failed reinstall of the previous release: %+v, %v", st, err)
	}
	// Crash after moving it aside: the next apply puts it back first.
	rel := filepath.Join(target, releasesDir)
	if err := os.Rename(filepath.Join(rel, "2.0.0"), filepath.Join(rel, ".trash-2.0.0")); err != nil {
		t.Fatal(err)
	}
	err = apply("1.0.0", nil)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("applying the installed version: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rel, ".trash-2.0.0")); err != nil {
		t.Fatalf("a refused apply touched the target: %v", err)
	}
	if err := apply("1.5.0", []bundle.Hook{{Phase: bundle.PhasePreSwitch, Path: "hook.sh", Timeout: 5}}); !errors.Is(err, ErrHook) {
		t.Fatalf("1.5.0 with failing hook: %v", err)
	}
	if m, err := Rollback(target, ring); err != nil || m.Version != "2.0.0" {
		t.Fatalf("rollback after the interrupted reinstall: %v %v", m, err)
	}
	// A previous release that no longer verifies is reported, not hidden.
	hp := filepath.Join(rel, "1.0.0", headerFile)
	h, err := os.ReadFile(hp)
	if err != nil {
		t.Fatal(err)
	}
	h[100] ^= 1 // in the signature
	os.Chmod(hp, 0o644)
	if err := os.WriteFile(hp, h, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = TargetStatus(target, ring)
	if err != nil || st.Previous != nil || !strings.Contains(st.PreviousError, "bad signature") {
		t.Fatalf("status with a damaged previous release: %+v, %v", st, err)
	}
}

// ApplyOptions.Pin records the signer in the target's trust store; a key
// from Keyring is not recorded.
func TestPinSigner(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, "1.0.0", 1000)
	vendor, builtin := testKey(t, 1), testKey(t, 2)
	a := filepath.Join(dir, "a.bundle")
	pack(t, vendor, src, a, "1.0.0", nil)
	b := filepath.Join(dir, "b.bundle")
	pack(t, builtin, src, b, "1.0.0", nil)
	target := filepath.Join(dir, "t")
	if _, err := Installed(target, nil); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Installed on an empty target: %v", err)
	}
	res, err := Apply([]string{a}, ApplyOptions{Target: target, Keyring: keys.NewKeyring(builtin.Public()), Pin: keys.NewKeyring(vendor.Public())})
	if err != nil || res.PinnedKey != vendor.ID() {
		t.Fatalf("Apply: %v, pinned %q", err, res.PinnedKey)
	}
	if m, err := Installed(target, nil); err != nil || m.Version != "1.0.0" {
		t.Fatalf("Installed without the key after pinning: %v %v", m, err)
	}
	t2 := filepath.Join(dir, "t2")
	res, err = Apply([]string{b}, ApplyOptions{Target: t2, Keyring: keys.NewKeyring(builtin.Public()), Pin: keys.NewKeyring(builtin.Public(), vendor.Public())})
	if err != nil || res.PinnedKey != "" {
		t.Fatalf("Apply with a built-in signer: %v, pinned %q", err, res.PinnedKey)
	}
	if _, err := os.Stat(filepath.Join(t2, trustDir)); err == nil {
		t.Fatal("a built-in signer was recorded in the trust store")
	}
}

// The free space is checked from the signed sizes before anything is
// written; a held lock refuses a second apply at once.
func TestNoSpaceAndBusy(t *testing.T) {
	dir := t.TempDir()
	ring := keys.NewKeyring(testKey(t, 1).Public())
	huge := simpleSpec(t, "1.0.0")
	huge.mod = func(m *bundle.Manifest) {
		m.Files[1].Size = 1 << 49 // 512 TiB, signed
		m.Payload.TarSize = 1<<49 + 8192
	}
	p := filepath.Join(dir, "huge.bundle")
	os.WriteFile(p, huge.build(t), 0o644)
	target := filepath.Join(dir, "t")
	res, err := Apply([]string{p}, ApplyOptions{Target: target, Keyring: ring})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "the release needs 5629499534") || res == nil || res.Plan.SpaceFree <= 0 {
		t.Fatalf("apply of a 512 TiB release: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a refused apply created the target")
	}

	ok := filepath.Join(dir, "ok.bundle")
	os.WriteFile(ok, simpleSpec(t, "1.0.0").build(t), 0o644)
	os.MkdirAll(target, 0o755)
	unlock, err := lockTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply([]string{ok}, ApplyOptions{Target: target, Keyring: ring}); !errors.Is(err, ErrBusy) {
		t.Fatalf("apply while locked: %v", err)
	}
	unlock()
	if _, err := Apply([]string{ok}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatalf("apply after unlock: %v", err)
	}
}

func TestPolicyRefusals(t *testing.T) {
	k1 := testKey(t, 1)
	ring := keys.NewKeyring(k1.Public())
	dir := t.TempDir()
	write := func(name string, s *craftSpec) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, s.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	target := filepath.Join(dir, "target")
	if _, err := Apply([]string{write("v2", simpleSpec(t, "2.0.0"))}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	other := simpleSpec(t, "3.0.0")
	other.product = "other"
	from := simpleSpec(t, "3.0.0")
	from.mod = func(m *bundle.Manifest) { m.FromVersions = []string{"2.5.0"} }
	until := testDate.Add(-24 * time.Hour)
	for _, c := range []struct {
		name string
		spec *craftSpec
		lic  *LicenseTerms
		want error
		msg  string
	}{
		{"other-product", other, nil, ErrWrongProduct, `the bundle is for "other", the target has "demo" installed`},
		{"downgrade", simpleSpec(t, "1.0.0"), nil, ErrVersion, "1.0.0 is older than the installed 2.0.0"},
		{"same-version", simpleSpec(t, "2.0.0"), nil, ErrVersion, "2.0.0 is already installed"},
		{"from-version", from, nil, ErrVersion, "updates only from 2.5.0; the installed version is 2.0.0"},
		{"subscription", simpleSpec(t, "3.0.0"), &LicenseTerms{Serial: "S-1", Product: "demo", UpdatesUntil: &until}, ErrSubscription,
			"release 3.0.0 is dated 2026-03-01, but license S-1 covers updates released until 2026-02-28"},
		{"license-product", simpleSpec(t, "3.0.0"), &LicenseTerms{Serial: "S-1", Product: "other"}, ErrWrongProduct, `the license for "other"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Apply([]string{write(c.name, c.spec)}, ApplyOptions{Target: target, Keyring: ring, License: c.lic})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v\nwant %v containing %q", err, c.want, c.msg)
			}
			if m, err := Installed(target, ring); err != nil || m.Version != "2.0.0" {
				t.Fatalf("target changed: %v %v", m, err)
			}
		})
	}
	// A license whose subscription covers the release lets it through, and
	// a signed downgrade is accepted.
	later := testDate.Add(24 * time.Hour)
	if _, err := Apply([]string{write("ok", simpleSpec(t, "3.0.0"))}, ApplyOptions{Target: target, Keyring: ring,
		License: &LicenseTerms{Serial: "S-1", Product: "demo", UpdatesUntil: &later}}); err != nil {
		t.Fatal(err)
	}
	down := simpleSpec(t, "2.5.0")
	down.mod = func(m *bundle.Manifest) { m.Downgrade = true }
	if _, err := Apply([]string{write("down", down)}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatalf("signed downgrade: %v", err)
	}
}

func TestKeyRotationAndRevocation(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	ring := keys.NewKeyring(k1.Public(), k2.Public())
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	write := func(name string, s *craftSpec) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, s.build(t), 0o644)
		return p
	}
	// Signed by k3, unknown yet.
	s3 := simpleSpec(t, "3.0.0")
	s3.key = k3
	if _, err := Apply([]string{write("v3", s3)}, ApplyOptions{Target: target, Keyring: ring}); !errors.Is(err, bundle.ErrUnknownKey) {
		t.Fatalf("k3 before rotation: %v", err)
	}
	// k1 introduces k3 and revokes k2.
	rot := simpleSpec(t, "2.0.0")
	rot.mod = func(m *bundle.Manifest) {
		m.TrustKeys = []string{lastLine(k3.Public().MarshalPublic())}
		m.RevokedKeys = []string{string(k2.ID())}
	}
	if _, err := Apply([]string{write("rot", rot)}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply([]string{write("v3", s3)}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatalf("k3 after rotation: %v", err)
	}
	s4 := simpleSpec(t, "4.0.0")
	s4.key = k2
	_, err := Apply([]string{write("v4", s4)}, ApplyOptions{Target: target, Keyring: ring})
	if !errors.Is(err, bundle.ErrUnknownKey) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked k2: %v", err)
	}
	if m, err := Installed(target, ring); err != nil || m.Version != "3.0.0" {
		t.Fatalf("installed %v %v", m, err)
	}
}
