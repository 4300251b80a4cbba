package bundle_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// Pack a release directory, then verify it on the customer side.
func Example() {
	dir, _ := os.MkdirTemp("", "bundle-example")
	defer os.RemoveAll(dir)
	release := filepath.Join(dir, "release")
	os.MkdirAll(filepath.Join(release, "bin"), 0o755)
	os.WriteFile(filepath.Join(release, "bin", "app"), []byte("#!/bin/sh\necho hello\n"), 0o755)

	// Vendor: a key (from a fixed seed here; use keys.LoadPrivate in real code).
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{42}, 32))
	_, err := bundle.Pack(bundle.PackOptions{Key: key, Product: "acme", Version: "1.0.0",
		ReleaseDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Dir: release, Output: filepath.Join(dir, "acme.bundle")})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Customer: trust the vendor's public key, verify, apply.
	ring := keys.NewKeyring(key.Public())
	b, err := bundle.Open([]string{filepath.Join(dir, "acme.bundle")}, ring, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := b.Verify(bundle.VerifyOptions{})
	b.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified", res.Product, res.Version, "files:", res.FilesChecked)
	// Installing it into a target directory is pkg/install's job.
	// Output:
	// verified acme 1.0.0 files: 2
}
