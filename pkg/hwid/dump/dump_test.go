package dump

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/pkg/hwid"
)

// untar unpacks a dump into a new temporary directory.
func untar(t *testing.T, data []byte) string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
	}
	return dir
}

// A dump of each fixture machine (pkg/hwid/testdata/envs), unpacked,
// replays to the same report, and the same facts give the same archive.
func TestDumpReplays(t *testing.T) {
	files, err := filepath.Glob("../testdata/envs/*.txtar")
	if err != nil || len(files) < 30 {
		t.Fatalf("fixture environments under ../testdata/envs: %d, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			a, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			for _, af := range a.Files {
				p := filepath.Join(root, filepath.FromSlash(af.Name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, af.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			want, err := Write(&buf, hwid.Options{Root: root, Product: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := hwid.Collect(hwid.Options{Root: untar(t, buf.Bytes()), Product: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("replay differs:\n got %+v\nwant %+v", got, want)
			}
			var again bytes.Buffer
			if _, err := Write(&again, hwid.Options{Root: root, Product: "acme"}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Error("two dumps of one tree differ")
			}
		})
	}
}

// A dump of this machine replays to the same report.
func TestLiveDumpReplays(t *testing.T) {
	var buf bytes.Buffer
	want, err := Write(&buf, hwid.Options{Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := hwid.Collect(hwid.Options{Root: untar(t, buf.Bytes()), Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replay of the live dump differs:\n got %+v\nwant %+v", got, want)
	}
}

// A root that cannot be opened is an error, and nothing is written.
func TestDumpBadRoot(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Write(&buf, hwid.Options{Root: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("Write with a missing --root: no error")
	}
	if buf.Len() != 0 {
		t.Fatalf("Write with a missing --root wrote %d bytes", buf.Len())
	}
}
