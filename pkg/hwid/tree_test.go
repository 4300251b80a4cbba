package hwid

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// record collects with Record and writes the Tree it returns into a new
// temporary directory, as an unpacked dump would be.
func record(t *testing.T, opts Options) (*Report, *Tree, string) {
	t.Helper()
	rep, tree, err := Record(opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range tree.Names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if tree.Dirs[n] {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, tree.Files[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rep, tree, dir
}

// A record of any tree replays to the same report: it holds every fact read.
func TestRecordReplays(t *testing.T) {
	for _, e := range loadEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			root := unpack(t, e.archive)
			want, tree, dir := record(t, Options{Root: root, Product: "acme"})
			names := tree.Names
			got, err := Collect(Options{Root: dir, Product: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("replay differs:\n got %+v\nwant %+v", got, want)
			}
			hasCPUID := false
			for _, n := range names {
				hasCPUID = hasCPUID || n == "cpuid.json"
			}
			_, fixtureCPUID := os.Stat(filepath.Join(root, "cpuid.json"))
			if hasCPUID != (fixtureCPUID == nil) {
				t.Errorf("cpuid.json in dump: %v, in tree: %v", hasCPUID, fixtureCPUID == nil)
			}
			// The same facts give the same tree.
			if _, again, err := Record(Options{Root: root, Product: "acme"}); err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(again, tree) {
				t.Error("two records of one tree differ")
			}
		})
	}
}

// The live machine: in a container or VM hwid refuses and names what it
// found; on bare metal it accepts. systemd-detect-virt, when installed, is
// the independent judge of which case this is.
func TestLiveMachine(t *testing.T) {
	rep, err := Collect(Options{Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	v := rep.Virtualization
	t.Logf("verdict %s/%s; evidence: %s", v.Type, v.Technology, strings.Join(v.Evidence, "; "))
	sdv, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		t.Skip("systemd-detect-virt is not installed: no independent judge of this machine")
	}
	out, err := exec.Command(sdv).Output()
	judge := strings.TrimSpace(string(out))
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if judge == "none" {
		if v.Virtual() {
			t.Errorf("bare metal (systemd-detect-virt: none) refused: %v", v.Err())
		}
		return
	}
	if !v.Virtual() || len(v.Evidence) == 0 {
		t.Fatalf("systemd-detect-virt says %q but hwid accepts: %+v", judge, v)
	}
	if !errors.Is(v.Err(), ErrVirtual) || !strings.Contains(v.Err().Error(), v.Technology) {
		t.Errorf("refusal %q does not name %s", v.Err(), v.Technology)
	}
	// Container or VM, as systemd-detect-virt --container says. The names
	// may differ where hwid sees more (cgroup paths, mountinfo) and names
	// the runtime that systemd calls container-other.
	wantType := TypeVM
	if exec.Command(sdv, "--container").Run() == nil {
		wantType = TypeContainer
	}
	if v.Type != wantType {
		t.Errorf("type %s, systemd-detect-virt says %s (%s)", v.Type, wantType, judge)
	}
	if v.Technology != judge {
		t.Logf("technology %q, systemd-detect-virt says %q", v.Technology, judge)
	}
}

// A record of this machine replays to the same report.
func TestLiveRecordReplays(t *testing.T) {
	want, _, dir := record(t, Options{Product: "acme"})
	got, err := Collect(Options{Root: dir, Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replay of the live dump differs:\n got %+v\nwant %+v", got, want)
	}
}
