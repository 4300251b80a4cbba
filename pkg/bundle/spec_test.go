package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecVectors checks the vectors of docs/spec/bundle-v1.md: the
// manifest bytes of a release holding one empty file (size omitted, sha256
// present), an empty release's "files": [], the optional members omitted,
// and the volume file names (issue 8 item 17).
func TestSpecVectors(t *testing.T) {
	spec, err := os.ReadFile("../../docs/spec/bundle-v1.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "empty"), nil, 0o644)
	os.Chmod(filepath.Join(src, "empty"), 0o644)
	res := pack(t, testKey(t, 1), src, filepath.Join(dir, "e.bundle"), "1.0.0", func(o *PackOptions) { o.Product = "acme" })
	f, err := os.Open(res.Volumes[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"airseal-bundle-v1","product":"acme","version":"1.0.0","release_date":"2026-03-01T12:00:00Z","files":[{"path":"empty","type":"file","mode":"0644","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}],"payload":{`
	if !bytes.HasPrefix(h.Manifest, []byte(want)) {
		t.Errorf("manifest of one empty file:\n%s\nwant prefix\n%s", h.Manifest, want)
	}
	if !bytes.Contains(spec, []byte("\n"+want+"\n")) {
		t.Errorf("the spec does not show the vector\n%s", want)
	}
	for _, opt := range []string{"from_versions", "downgrade", "hooks", "licenses", "trust_keys", "revoked_keys", "revoked_licenses"} {
		if bytes.Contains(h.Manifest, []byte(`"`+opt+`"`)) {
			t.Errorf("optional member %q written although empty", opt)
		}
	}

	// An empty release: "files": [], and a reader accepts it.
	empty := filepath.Join(dir, "none")
	os.MkdirAll(empty, 0o755)
	res = pack(t, testKey(t, 1), empty, filepath.Join(dir, "n.bundle"), "1.0.0", nil)
	f2, _ := os.Open(res.Volumes[0])
	defer f2.Close()
	h2, err := ReadHeader(f2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(h2.Manifest, []byte(`"files":[]`)) {
		t.Errorf("empty release manifest: %s, want \"files\":[]", h2.Manifest)
	}
	for _, in := range []string{`"files":[],`, `"files":null,`, ``} {
		m := strings.Replace(string(h2.Manifest), `"files":[],`, in, 1)
		if _, err := ParseManifest([]byte(m)); err != nil {
			t.Errorf("manifest with %q: %v", in, err)
		}
	}

	for _, c := range []struct {
		i    int
		name string
	}{{0, "acme.bundle"}, {1, "acme.bundle.002"}, {998, "acme.bundle.999"}, {999, "acme.bundle.1000"}, {9998, "acme.bundle.9999"}} {
		if got := VolumeName("acme.bundle", c.i); got != c.name {
			t.Errorf("VolumeName(%d) = %q, want %q", c.i, got, c.name)
		}
		if !bytes.Contains(spec, []byte("`"+c.name+"`")) {
			t.Errorf("the spec does not name volume %d as %s", c.i+1, c.name)
		}
	}
}
