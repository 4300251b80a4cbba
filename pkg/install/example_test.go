package install_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/keys"
)

// Pack a release (vendor side), then install it into a target directory
// and read back what is installed (customer side).
func Example() {
	dir, _ := os.MkdirTemp("", "install-example")
	defer os.RemoveAll(dir)
	release := filepath.Join(dir, "release")
	os.MkdirAll(filepath.Join(release, "bin"), 0o755)
	os.WriteFile(filepath.Join(release, "bin", "app"), []byte("#!/bin/sh\necho hello\n"), 0o755)
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{42}, 32))
	if _, err := bundle.Pack(bundle.PackOptions{Key: key, Product: "acme", Version: "1.0.0",
		ReleaseDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Dir: release, Output: filepath.Join(dir, "acme.bundle")}); err != nil {
		fmt.Println(err)
		return
	}

	ring := keys.NewKeyring(key.Public())
	target := filepath.Join(dir, "opt", "acme")
	res, err := install.Apply([]string{filepath.Join(dir, "acme.bundle")}, install.ApplyOptions{Target: target, Keyring: ring})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("applied", res.Plan.To, "->", res.Release)
	m, _ := install.Installed(target, ring)
	fmt.Println("installed", m.Version, "released", m.ReleaseDate.Format(time.DateOnly))
	// Output:
	// applied 1.0.0 -> releases/1.0.0
	// installed 1.0.0 released 2026-03-01
}

// Apply in steps: open the target once under its lock, verify the bundle
// once with the target's trust, look at it (for a progress bar's total),
// then install.
func ExampleTarget_Apply() {
	dir, _ := os.MkdirTemp("", "install-example")
	defer os.RemoveAll(dir)
	release := filepath.Join(dir, "release")
	os.MkdirAll(release, 0o755)
	os.WriteFile(filepath.Join(release, "README"), []byte("hello\n"), 0o644)
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{42}, 32))
	bundle.Pack(bundle.PackOptions{Key: key, Product: "acme", Version: "1.0.0",
		ReleaseDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Dir: release, Output: filepath.Join(dir, "acme.bundle")})

	tg, err := install.OpenTarget(filepath.Join(dir, "target"), install.TargetOptions{Keyring: keys.NewKeyring(key.Public()), Lock: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tg.Close()
	b, err := tg.Open([]string{filepath.Join(dir, "acme.bundle")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	fmt.Println("files:", len(b.Manifest.Files), "bytes:", b.Manifest.Payload.TarSize)
	res, err := tg.Apply(b, install.ApplyOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("applied:", res.Applied)
	// Output:
	// files: 1 bytes: 2048
	// applied: true
}
