package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// Every crafted bundle that pkg/bundle refuses (testdata/crafted, see its
// TestRefusals) is refused by apply with the same error, leaving the target
// without a current release and nothing written outside it.
func TestApplyRefusesCrafted(t *testing.T) {
	crafted := filepath.Join("..", "bundle", "testdata", "crafted")
	ents, err := os.ReadDir(crafted)
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewKeyring(testKey(t, 1).Public())
	dir := t.TempDir()
	n := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".bundle") || strings.HasPrefix(name, "demo-") || strings.HasPrefix(name, "other-") {
			continue
		}
		p := filepath.Join(crafted, name)
		b, verr := bundle.Open([]string{p}, ring, nil)
		if verr == nil {
			_, verr = b.Verify(bundle.VerifyOptions{})
			b.Close()
		}
		if verr == nil {
			t.Errorf("%s: pkg/bundle accepts it", name)
			continue
		}
		target := filepath.Join(dir, name+"-target")
		_, err := Apply([]string{p}, ApplyOptions{Target: target, Keyring: ring})
		if err == nil || err.Error() != verr.Error() {
			t.Errorf("%s: apply: %v\nverify: %v", name, err, verr)
		}
		for _, s := range []error{bundle.ErrMalformed, bundle.ErrUnsafe, bundle.ErrDamaged, bundle.ErrUnknownKey, bundle.ErrVolume} {
			if errors.Is(verr, s) != errors.Is(err, s) {
				t.Errorf("%s: apply error %v and verify error %v differ on %v", name, err, verr, s)
			}
		}
		if _, err := os.Lstat(filepath.Join(target, "current")); err == nil {
			t.Errorf("%s: apply left a current release", name)
		}
		n++
	}
	if _, err := os.Lstat(filepath.Join(dir, "evil")); err == nil {
		t.Fatal("a file was written outside the target")
	}
	if n < 20 {
		t.Fatalf("only %d crafted bundles checked", n)
	}
}
