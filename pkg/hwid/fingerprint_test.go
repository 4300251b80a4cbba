package hwid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/rogpeppe/go-internal/txtar"
)

func collectEnv(t *testing.T, e envCase, product string) *Report {
	t.Helper()
	rep, err := Collect(Options{Root: unpack(t, e.archive), Product: product})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func bareMetal(t *testing.T) []envCase {
	var out []envCase
	for _, e := range loadEnvs(t) {
		if e.expect == TypeNone {
			out = append(out, e)
		}
	}
	return out
}

// withFile returns a copy of a with one file replaced or added.
func withFile(a *txtar.Archive, name, data string) *txtar.Archive {
	b := &txtar.Archive{Comment: a.Comment}
	found := false
	for _, f := range a.Files {
		if f.Name == name {
			f.Data = []byte(data)
			found = true
		}
		b.Files = append(b.Files, f)
	}
	if !found {
		b.Files = append(b.Files, txtar.File{Name: name, Data: []byte(data)})
	}
	return b
}

// Under the default rule, any one component of a bare-metal machine may
// change and the machine still matches, except the only hardware component
// of a machine that has just one (then the CPU model and machine-id, which
// another machine can share, are not enough).
func TestOneChangedComponentMatches(t *testing.T) {
	for _, e := range bareMetal(t) {
		rep := collectEnv(t, e, "acme")
		f := rep.Fingerprint
		hardware := 0
		for _, c := range f.Components {
			if !weakComponent(c.Name) {
				hardware++
			}
		}
		if hardware == 0 {
			t.Errorf("%s: no hardware component", e.name)
			continue
		}
		for i, c := range f.Components {
			live := append([]fingerprint.Component(nil), f.Components...)
			live[i].Hash = fingerprint.HashValue("acme", c.Name, "replaced")
			r := fingerprint.Match(f, live, true)
			if want := hardware > 1 || weakComponent(c.Name); r.OK != want {
				t.Errorf("%s (%d hardware components): changing %s: %s", e.name, hardware, c.Name, r)
			}
		}
	}
}

// End to end: a replaced disk and a replaced network card, one at a time,
// on a real fixture tree.
func TestReplacedHardwareMatches(t *testing.T) {
	var dell envCase
	for _, e := range bareMetal(t) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	bound := collectEnv(t, dell, "acme").Fingerprint
	for _, ch := range []struct{ file, data string }{
		{"run/udev/data/b8:16", "E:ID_BUS=ata\nE:ID_SERIAL_SHORT=NEWDISK0000001\n"},
		{"sys/class/net/eno2/address", "d0:94:66:ff:ee:dd\n"},
		{"etc/machine-id", "0123456789abcdef0123456789abcdef\n"},
	} {
		live := collectEnv(t, envCase{archive: withFile(dell.archive, ch.file, ch.data)}, "acme")
		r := fingerprint.Match(bound, live.Fingerprint.Components, live.RootRead)
		if !r.OK || len(r.Changed) != 1 {
			t.Errorf("after changing %s: %s", ch.file, r)
		}
	}
	// Two network cards and a disk replaced at once is a different machine.
	a := withFile(dell.archive, "sys/class/net/eno1/address", "d0:94:66:ff:ee:dc\n")
	a = withFile(a, "sys/class/net/eno2/address", "d0:94:66:ff:ee:dd\n")
	a = withFile(a, "run/udev/data/b8:16", "E:ID_BUS=ata\nE:ID_SERIAL_SHORT=NEWDISK0000001\n")
	live := collectEnv(t, envCase{archive: a}, "acme")
	if r := fingerprint.Match(bound, live.Fingerprint.Components, true); r.OK {
		t.Errorf("three changes still match: %s", r)
	} else if !strings.Contains(r.String(), "mac, mac and disk_serial changed") {
		t.Errorf("explanation %q does not name the changes", r)
	}
}

// A different machine never matches, even one that shares the CPU model and
// a cloned machine-id (the fixtures share both).
func TestDifferentMachinesDoNotMatch(t *testing.T) {
	envs := bareMetal(t)
	reps := make([]*Report, len(envs))
	for i, e := range envs {
		reps[i] = collectEnv(t, e, "acme")
	}
	sameMachine := map[string]string{"bm-lenovo-thinkpad-t510": "bm-lenovo-unprivileged", "bm-lenovo-unprivileged": "bm-lenovo-thinkpad-t510"}
	for i := range envs {
		for j := range envs {
			if i == j || sameMachine[envs[i].name] == envs[j].name {
				continue
			}
			r := fingerprint.Match(reps[i].Fingerprint, reps[j].Fingerprint.Components, true)
			if r.OK {
				t.Errorf("%s matches %s: %s", envs[j].name, envs[i].name, r)
			}
		}
	}
}

// The same laptop read as root and unprivileged: the root-only components
// are absent, the match says so, and a binding made unprivileged matches a
// root run.
func TestRootAndUnprivileged(t *testing.T) {
	var root, user envCase
	for _, e := range bareMetal(t) {
		switch e.name {
		case "bm-lenovo-thinkpad-t510":
			root = e
		case "bm-lenovo-unprivileged":
			user = e
		}
	}
	r := collectEnv(t, root, "acme")
	u := collectEnv(t, user, "acme")
	if !r.RootRead || u.RootRead || len(u.Unread) != 3 {
		t.Fatalf("root_read %v/%v unread %v", r.RootRead, u.RootRead, u.Unread)
	}
	for _, c := range r.Fingerprint.Components {
		if c.NeedsRoot != (c.Name == CompSystemUUID || c.Name == CompSystemSerial || c.Name == CompBoardSerial) {
			t.Errorf("%s: NeedsRoot %v", c.Name, c.NeedsRoot)
		}
	}
	m := fingerprint.Match(r.Fingerprint, u.Fingerprint.Components, u.RootRead)
	if m.OK || len(m.Unreadable) != 3 || len(m.Changed) != 0 {
		t.Errorf("root binding, unprivileged check: %s", m)
	}
	if !strings.Contains(m.String(), "not readable without root") {
		t.Errorf("explanation %q does not mention root", m)
	}
	if m := fingerprint.Match(u.Fingerprint, r.Fingerprint.Components, true); !m.OK {
		t.Errorf("unprivileged binding, root check: %s", m)
	}
}

// Hashes depend on the product: two vendors cannot correlate a customer.
func TestProductSalt(t *testing.T) {
	e := bareMetal(t)[0]
	a, b := collectEnv(t, e, "acme"), collectEnv(t, e, "globex")
	if a.ID() == b.ID() {
		t.Fatal("same ID for two products")
	}
	for i := range a.Fingerprint.Components {
		if a.Fingerprint.Components[i].Hash == b.Fingerprint.Components[i].Hash {
			t.Errorf("component %s hashes alike for two products", a.Fingerprint.Components[i].Name)
		}
	}
	if c := collectEnv(t, e, "acme"); c.ID() != a.ID() {
		t.Error("the same tree gives two IDs")
	}
}

// With --root nothing is read from the real machine: a symbolic link
// leading out of the tree is not followed.
func TestRootTreeIsConfined(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/os-release", filepath.Join(dir, "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../proc/cpuinfo", filepath.Join(dir, "cpuinfo-link")); err != nil {
		t.Fatal(err)
	}
	rep, err := Collect(Options{Root: dir, Product: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OS != "Linux" {
		t.Errorf("OS %q was read through a link out of the tree", rep.OS)
	}
	if len(rep.Fingerprint.Components) != 0 {
		t.Errorf("components read from an empty tree: %v", rep.Fingerprint.Components)
	}
	if rep.Virtualization.Type != TypeNone {
		t.Errorf("empty tree: %v", rep.Virtualization)
	}
	if _, err := Collect(Options{Root: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing root tree is not an error")
	}
}

// The gopsutil redirection variables are cleared.
func TestClearRedirection(t *testing.T) {
	t.Setenv("HOST_PROC", "/tmp/fake-proc")
	t.Setenv("HOST_SYS", "/tmp/fake-sys")
	ClearRedirection()
	if _, ok := os.LookupEnv("HOST_PROC"); ok {
		t.Error("HOST_PROC still set")
	}
	if _, ok := os.LookupEnv("HOST_SYS"); ok {
		t.Error("HOST_SYS still set")
	}
}
