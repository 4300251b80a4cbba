package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestManifestRefusesCaseVariants (issue 10): a signed manifest with a
// member named in another case or given twice is refused: encoding/json
// would read "Files" as "files" and keep the last of two, another reader
// of the same signed bytes would not.
func TestManifestRefusesCaseVariants(t *testing.T) {
	var manifest []byte
	paths, _ := filepath.Glob(filepath.Join("testdata", "crafted", "*.bundle"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			continue
		}
		if _, err := ParseManifest(h.Manifest); err == nil {
			manifest = h.Manifest
			break
		}
	}
	if manifest == nil {
		t.Fatal("no valid manifest among the crafted bundles")
	}
	m := regexp.MustCompile(`"([a-z_]+)":`).FindSubmatch(manifest)
	if m == nil {
		t.Fatalf("no member in %s", manifest)
	}
	name := string(m[1])
	for _, bad := range [][]byte{
		bytes.Replace(manifest, []byte(`"`+name+`":`), []byte(`"`+strings.ToUpper(name)+`":`), 1),
		bytes.Replace(manifest, []byte(`{`), []byte(`{"`+strings.ToUpper(name)+`":null,`), 1),
		bytes.Replace(manifest, []byte(`{`), []byte(`{"`+name+`":null,`), 1),
	} {
		if _, err := ParseManifest(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.80s…: %v", bad, err)
		}
	}
}
