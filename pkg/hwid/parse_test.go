package hwid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

func TestParseCPUInfo(t *testing.T) {
	c := parseCPUInfo([]byte("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R)  Xeon(R)\nstepping\t: 7\nflags\t\t: fpu hypervisor\n\nprocessor\t: 1\nvendor_id\t: Other\nflags\t\t: fpu\n"))
	if c.VendorID != "GenuineIntel" || c.Family != "6" || c.Model != "85" || c.Stepping != "7" || c.ModelName != "Intel(R)  Xeon(R)" || !c.Hypervisor || c.Processors != 2 {
		t.Errorf("%+v", c)
	}
	if parseCPUInfo([]byte("flags : fpu hypervisorx\n")).Hypervisor {
		t.Error("hypervisorx taken for hypervisor")
	}
}

func TestParseMountinfo(t *testing.T) {
	m := parseMountinfo([]byte("36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nbad line\n473 387 0:143 / / rw - overlay overlay rw,lowerdir=/a\n"))
	if len(m) != 2 {
		t.Fatalf("%+v", m)
	}
	if m[0].Root != "/mnt1" || m[0].MountPoint != "/mnt two" || m[0].FSType != "ext3" || m[0].Source != "/dev/root" || m[0].SuperOpts != "rw,errors=continue" {
		t.Errorf("%+v", m[0])
	}
	if m[1].MountPoint != "/" || m[1].FSType != "overlay" || m[1].SuperOpts != "rw,lowerdir=/a" {
		t.Errorf("%+v", m[1])
	}
}

func TestParseCgroup(t *testing.T) {
	g := parseCgroup([]byte("12:devices:/docker/abc\n0::/\nbroken\n1:name=systemd:/a:b\n"))
	if len(g) != 3 || g[0].Hierarchy != "12" || g[0].Controllers != "devices" || g[0].Path != "/docker/abc" || g[1].Path != "/" || g[2].Path != "/a:b" {
		t.Errorf("%+v", g)
	}
}

// seeds returns the named file of every fixture environment.
func seeds(f *testing.F, name string) {
	files, _ := filepath.Glob("testdata/envs/*.txtar")
	for _, p := range files {
		a, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			if file.Name == name {
				f.Add(file.Data)
			}
		}
	}
	if b, err := os.ReadFile("/" + name); err == nil {
		f.Add(b)
	}
}

func FuzzParseCPUInfo(f *testing.F) {
	seeds(f, "proc/cpuinfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := parseCPUInfo(data)
		if c.Hypervisor && !strings.Contains(string(data), "hypervisor") {
			t.Fatal("hypervisor flag out of nowhere")
		}
		if c.Processors > strings.Count(string(data), "processor") {
			t.Fatalf("%d processors from %d mentions", c.Processors, strings.Count(string(data), "processor"))
		}
		for _, v := range []string{c.VendorID, c.ModelName, c.Family, c.Model, c.Stepping} {
			if v != strings.TrimSpace(v) || strings.Contains(v, "\n") {
				t.Fatalf("field %q not trimmed to one line", v)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	seeds(f, "proc/self/mountinfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseMountinfo(data)
		if len(m) > strings.Count(string(data), " - ") {
			t.Fatalf("%d mounts from %d separators", len(m), strings.Count(string(data), " - "))
		}
		for _, x := range m {
			if x.FSType == "" || strings.ContainsAny(x.FSType, " \n") {
				t.Fatalf("bad fstype %q", x.FSType)
			}
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	seeds(f, "proc/self/cgroup")
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Split(string(data), "\n")
		for _, g := range parseCgroup(data) {
			// Every parsed line is a line of the input, rebuilt exactly.
			whole := g.Hierarchy + ":" + g.Controllers + ":" + g.Path
			found := false
			for _, l := range lines {
				if l == whole {
					found = true
				}
			}
			if !found || strings.Contains(g.Hierarchy, ":") || strings.Contains(g.Controllers, ":") {
				t.Fatalf("%+v is not a line of the input", g)
			}
		}
	})
}
