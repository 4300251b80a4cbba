// Package keys embeds the vendor's trusted public keys into customer-side
// binaries (verify, bundle apply). Every file named *.pub in this directory
// is compiled in; a vendor puts its own public key here before building.
//
// A private key never belongs here, and is never compiled in: the embed
// pattern below takes README.md and the *.pub files only, so the NAME.key
// that `issue keygen -o keys/NAME` would leave beside NAME.pub stays out of
// every binary; TestNoPrivateKeys fails while one sits in this directory,
// Keyring fails on a *.pub file that holds a private key, and .gitignore
// keeps everything but public keys out of the repository.
package keys

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	pkeys "github.com/airseal/airseal/pkg/keys"
)

// files holds README.md and the *.pub files. The pattern matches names
// ending in ".md" or "pub" (and a few other two- and three-letter endings
// built from those letters, such as ".ub"); a plain "*.pub" cannot be used
// because go:embed refuses a pattern that matches no file, and this
// repository ships no key of its own. Keyring reads only the *.pub names.
//
//go:embed *[.p][mu][db]
var files embed.FS

// Keyring returns a keyring holding every embedded public key. A file that
// does not parse is an error: a broken build must not silently trust less,
// and a private key named *.pub must not go unnoticed.
func Keyring() (*pkeys.Keyring, error) {
	return keyringFrom(files)
}

// keyringFrom reads every *.pub file at the top of fsys.
func keyringFrom(fsys fs.FS) (*pkeys.Keyring, error) {
	r := pkeys.NewKeyring()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		if pkeys.IsPrivate(data) {
			return nil, fmt.Errorf("embedded key keys/%s is a PRIVATE key: remove it from keys/ and rebuild; put only NAME.pub there", e.Name())
		}
		k, err := pkeys.ParsePublic(data)
		if err != nil {
			return nil, fmt.Errorf("embedded key keys/%s: %w", e.Name(), err)
		}
		r.Add(k)
	}
	return r, nil
}
