package hwid

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// envCase is one fixture environment: a tree laid out like / in a txtar
// archive whose comment holds the expected verdict.
type envCase struct {
	name       string
	expect     string   // none, vm or container
	technology string   // as systemd-detect-virt names it
	components []string // expected component names, sorted (nil: not checked)
	archive    *txtar.Archive
}

func loadEnvs(t testing.TB) []envCase {
	t.Helper()
	files, err := filepath.Glob("testdata/envs/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixture environments under testdata/envs: %v", err)
	}
	var out []envCase
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := envCase{name: strings.TrimSuffix(filepath.Base(f), ".txtar"), archive: a}
		for _, l := range strings.Split(string(a.Comment), "\n") {
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				continue
			}
			switch k {
			case "expect":
				c.expect = v
			case "technology":
				c.technology = v
			case "components":
				c.components = strings.Fields(v)
				slices.Sort(c.components)
			}
		}
		if c.expect == "" || c.technology == "" {
			t.Fatalf("%s: the comment must say expect: and technology:", f)
		}
		out = append(out, c)
	}
	return out
}

// unpack writes an archive into a new temporary directory.
func unpack(t testing.TB, a *txtar.Archive) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range a.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEnvironments(t *testing.T) {
	envs := loadEnvs(t)
	counts := map[string]int{}
	for _, e := range envs {
		counts[e.expect]++
	}
	if len(envs) < 30 || counts[TypeNone] < 10 || counts[TypeVM] < 10 || counts[TypeContainer] < 8 {
		t.Fatalf("corpus too small: %d environments %v", len(envs), counts)
	}
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Collect(Options{Root: unpack(t, e.archive), Product: "test"})
			if err != nil {
				t.Fatal(err)
			}
			v := rep.Virtualization
			if v.Type != e.expect || v.Technology != e.technology {
				t.Errorf("verdict %s/%s, want %s/%s; evidence:\n  %s", v.Type, v.Technology, e.expect, e.technology, strings.Join(v.Evidence, "\n  "))
			}
			if e.expect != TypeNone && len(v.Evidence) == 0 {
				t.Errorf("refused without evidence")
			}
			if (v.Err() == nil) != (e.expect == TypeNone) {
				t.Errorf("Err() = %v for type %s", v.Err(), v.Type)
			}
			if e.components != nil {
				var got []string
				for _, c := range rep.Fingerprint.Components {
					got = append(got, c.Name)
				}
				slices.Sort(got)
				if !slices.Equal(got, e.components) {
					t.Errorf("components %v, want %v", got, e.components)
				}
			}
			if len(rep.Fingerprint.Components) > 0 {
				if err := rep.Fingerprint.Validate(); err != nil {
					t.Errorf("fingerprint invalid: %v", err)
				}
			}
		})
	}
}

// BenchmarkCollect measures facts, verdict and fingerprint on a fixture tree
// in process (bench/hwid/bench.sh measures the whole process).
func BenchmarkCollect(b *testing.B) {
	var dell envCase
	for _, e := range loadEnvs(b) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	root := unpack(b, dell.archive)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Collect(Options{Root: root, Product: "acme"}); err != nil {
			b.Fatal(err)
		}
	}
}
