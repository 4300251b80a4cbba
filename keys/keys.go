// Package keys embeds the vendor's trusted public keys into customer-side
// binaries (verify, bundle apply). Every file named *.pub in this directory
// is compiled in; a vendor puts its own public key here before building. A
// private key never belongs here (.gitignore refuses *.key).
package keys

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	pkeys "github.com/airseal/airseal/pkg/keys"
)

//go:embed *
var files embed.FS

// Keyring returns a keyring holding every embedded public key. A file that
// does not parse is an error: a broken build must not silently trust less.
func Keyring() (*pkeys.Keyring, error) {
	r := pkeys.NewKeyring()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		data, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		k, err := pkeys.ParsePublic(data)
		if err != nil {
			return nil, fmt.Errorf("embedded key keys/%s: %w", e.Name(), err)
		}
		r.Add(k)
	}
	return r, nil
}
