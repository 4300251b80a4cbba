package keys

import (
	"os"
	"strings"
	"testing"

	pkeys "github.com/airseal/airseal/pkg/keys"
)

// Every *.pub file in this directory is in the embedded keyring, and
// nothing else is.
func TestKeyringMatchesDirectory(t *testing.T) {
	ring, err := Keyring()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		want++
		k, err := pkeys.LoadPublic(e.Name())
		if err != nil {
			t.Fatalf("keys/%s: %v", e.Name(), err)
		}
		if _, ok := ring.Get(k.ID()); !ok {
			t.Errorf("keys/%s (key %s) is not in the embedded keyring", e.Name(), k.ID())
		}
	}
	if ring.Len() != want {
		t.Errorf("embedded keyring has %d keys, directory has %d .pub files", ring.Len(), want)
	}
}

// No private key may sit in this directory, committed or not.
func TestNoPrivateKeys(t *testing.T) {
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		data, err := os.ReadFile(e.Name())
		if err != nil || e.IsDir() {
			continue
		}
		if pkeys.IsPrivate(data) {
			t.Errorf("keys/%s is a private key: move it out of the repository", e.Name())
		}
	}
}
