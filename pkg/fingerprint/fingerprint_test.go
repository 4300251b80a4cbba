package fingerprint

import (
	"fmt"
	"strings"
	"testing"
)

func comp(name string, weight int, value string, root bool) Component {
	return Component{Name: name, Weight: weight, Hash: HashValue("acme", name, value), NeedsRoot: root}
}

// machine is a typical server: UUID, CPU, two NICs, two disks, machine-id.
func machine() Fingerprint {
	return Fingerprint{Components: []Component{
		comp("system_uuid", 3, "44454c4c-5900-1042-8056-b2c04f584b33", true),
		comp("cpu", 1, "GenuineIntel|6|85|7|Intel(R) Xeon(R)", false),
		comp("mac", 2, "d0:94:66:1a:2b:3c", false),
		comp("mac", 2, "d0:94:66:1a:2b:3d", false),
		comp("disk_serial", 1, "PHYF8123456789ABC", false),
		comp("disk_serial", 1, "PHYF8123456789ABD", false),
		comp("machine_id", 1, "4f8e2a1c9b7d4e6f8a0b1c2d3e4f5a6b", false),
	}, Need: 8}
}

// Golden vectors: the hash is part of every license binding, so it must
// never change.
func TestHashValueVectors(t *testing.T) {
	if len(hashVectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range hashVectors {
		if got := HashValue(v[0], v[1], v[2]); got != v[3] {
			t.Errorf("HashValue(%q, %q, %q) = %s, want %s", v[0], v[1], v[2], got, v[3])
		}
	}
	// Product, name and value are all bound: changing any changes the hash,
	// and the separator keeps ("ab","c") apart from ("a","bc").
	if HashValue("acme", "ab", "c") == HashValue("acme", "a", "bc") {
		t.Error("name and value run together")
	}
	if HashValue("acme", "mac", "x") == HashValue("globex", "mac", "x") {
		t.Error("product does not salt the hash")
	}
}

func TestMatch(t *testing.T) {
	bound := machine()
	live := func(change ...int) []Component {
		out := append([]Component(nil), bound.Components...)
		for _, i := range change {
			out[i].Hash = HashValue("acme", out[i].Name, "replaced")
		}
		return out
	}
	drop := func(names ...string) []Component {
		var out []Component
	next:
		for _, c := range bound.Components {
			for _, n := range names {
				if c.Name == n {
					continue next
				}
			}
			out = append(out, c)
		}
		return out
	}
	for _, c := range []struct {
		name     string
		live     []Component
		rootRead bool
		ok       bool
		score    int
		text     string
	}{
		{"same machine", live(), true, true, 11, "7 of 7 components match; weight 11, 8 needed"},
		{"disk replaced", live(4), true, true, 10, "6 of 7 components match (disk_serial changed); weight 10, 8 needed"},
		{"NIC replaced", live(2), true, true, 9, "6 of 7 components match (mac changed); weight 9, 8 needed"},
		{"board replaced", live(0), true, true, 8, "6 of 7 components match (system_uuid changed); weight 8, 8 needed"},
		{"NIC and disk", live(2, 4), true, true, 8, "5 of 7 components match (mac and disk_serial changed); weight 8, 8 needed"},
		{"board and NIC", live(0, 2), true, false, 6, "5 of 7 components match (system_uuid and mac changed); weight 6, 8 needed"},
		{"three changes", live(2, 3, 4), true, false, 6, "4 of 7 components match (mac, mac and disk_serial changed); weight 6, 8 needed"},
		{"other machine", []Component{comp("cpu", 1, "GenuineIntel|6|85|7|Intel(R) Xeon(R)", false), comp("machine_id", 1, "4f8e2a1c9b7d4e6f8a0b1c2d3e4f5a6b", false)}, true, false, 2, "2 of 7 components match (system_uuid, mac, mac, disk_serial and disk_serial changed); weight 2, 8 needed"},
		{"unprivileged", drop("system_uuid"), false, true, 8, "6 of 7 components match (system_uuid not readable without root); weight 8, 8 needed"},
		{"unprivileged and a disk", append(drop("system_uuid", "disk_serial"), bound.Components[5]), false, false, 7, "5 of 7 components match (disk_serial changed) (system_uuid not readable without root); weight 7, 8 needed"},
		{"root read but missing", drop("system_uuid"), true, true, 8, "6 of 7 components match (system_uuid changed); weight 8, 8 needed"},
		{"nothing live", nil, true, false, 0, "0 of 7 components match (system_uuid, cpu, mac, mac, disk_serial, disk_serial and machine_id changed); weight 0, 8 needed"},
	} {
		r := Match(bound, c.live, c.rootRead)
		if r.OK != c.ok || r.Score != c.score || r.String() != c.text {
			t.Errorf("%s: got ok=%v score=%d %q\nwant ok=%v score=%d %q", c.name, r.OK, r.Score, r, c.ok, c.score, c.text)
		}
	}
}

// Each live component matches at most once: two recorded disks with the
// same hash need two live ones.
func TestMatchCountsDuplicatesOnce(t *testing.T) {
	d := comp("disk_serial", 1, "X1234", false)
	bound := Fingerprint{Components: []Component{d, d}, Need: 2}
	if r := Match(bound, []Component{d}, true); r.OK || r.Matched != 1 {
		t.Errorf("one live disk matched twice: %s", r)
	}
	if r := Match(bound, []Component{d, d}, true); !r.OK {
		t.Errorf("two live disks: %s", r)
	}
}

func TestMatchNeedZeroNeverMatches(t *testing.T) {
	f := machine()
	f.Need = 0
	if r := Match(f, f.Components, true); r.OK {
		t.Error("a fingerprint with need 0 matched")
	}
}

func TestValidate(t *testing.T) {
	good := machine()
	for _, c := range []struct {
		name string
		edit func(f *Fingerprint)
		want string
	}{
		{"good", func(f *Fingerprint) {}, ""},
		{"empty", func(f *Fingerprint) { f.Components = nil }, "no components"},
		{"no name", func(f *Fingerprint) { f.Components[1].Name = "" }, "component 1"},
		{"zero weight", func(f *Fingerprint) { f.Components[2].Weight = 0 }, "component 2"},
		{"short hash", func(f *Fingerprint) { f.Components[0].Hash = "abc" }, "32-character"},
		{"upper hash", func(f *Fingerprint) { f.Components[0].Hash = strings.ToUpper(f.Components[0].Hash) }, "lower-case hex"},
		{"not hex", func(f *Fingerprint) { f.Components[0].Hash = strings.Repeat("z", 32) }, "lower-case hex"},
		{"need 0", func(f *Fingerprint) { f.Need = 0 }, "between 1 and the total"},
		{"need too big", func(f *Fingerprint) { f.Need = 12 }, "weights add up to 11"},
		{"need = total", func(f *Fingerprint) { f.Need = 11 }, ""},
	} {
		f := good
		f.Components = append([]Component(nil), good.Components...)
		c.edit(&f)
		err := f.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestResultString(t *testing.T) {
	for _, c := range []struct {
		r    Result
		want string
	}{
		{Result{Matched: 3, Of: 5, Changed: []string{"disk_serial", "mac"}, Score: 3, Need: 3}, "3 of 5 components match (disk_serial and mac changed); weight 3, 3 needed"},
		{Result{Matched: 5, Of: 5, Score: 9, Need: 7}, "5 of 5 components match; weight 9, 7 needed"},
		{Result{Matched: 1, Of: 2, Unreadable: []string{"system_uuid"}, Score: 1, Need: 2}, "1 of 2 components match (system_uuid not readable without root); weight 1, 2 needed"},
		{Result{Matched: 0, Of: 3, Changed: []string{"a", "b", "c"}, Need: 2}, "0 of 3 components match (a, b and c changed); weight 0, 2 needed"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("got %q\nwant %q", got, c.want)
		}
	}
}

// The ID depends on the component set, not on its order or the weights.
func TestIDStable(t *testing.T) {
	f := machine()
	id := f.ID()
	if len(id) != 23 || strings.Count(id, "-") != 3 {
		t.Fatalf("ID %q: want XXXXX-XXXXX-XXXXX-XXXXX", id)
	}
	r := Fingerprint{Need: f.Need}
	for i := len(f.Components) - 1; i >= 0; i-- {
		r.Components = append(r.Components, f.Components[i])
	}
	if r.ID() != id {
		t.Error("reordering the components changes the ID")
	}
	if id != idVector {
		t.Errorf("ID %s, want the recorded %s", id, idVector)
	}
	c := machine()
	c.Components[4].Hash = HashValue("acme", "disk_serial", "other")
	if c.ID() == id {
		t.Error("a changed component keeps the ID")
	}
}

func Example() {
	bound := Fingerprint{Components: []Component{
		{Name: "system_uuid", Weight: 3, Hash: HashValue("acme", "system_uuid", "44454c4c-5900-1042-8056-b2c04f584b33")},
		{Name: "mac", Weight: 2, Hash: HashValue("acme", "mac", "d0:94:66:1a:2b:3c")},
		{Name: "disk_serial", Weight: 1, Hash: HashValue("acme", "disk_serial", "PHYF8123456789ABC")},
	}, Need: 3}
	live := []Component{bound.Components[0], {Name: "mac", Weight: 2, Hash: HashValue("acme", "mac", "d0:94:66:ff:ee:dd")}, bound.Components[2]}
	fmt.Println(Match(bound, live, true))
	// Output: 2 of 3 components match (mac changed); weight 4, 3 needed
}

// More live components than Match's stack buffer holds still match once each.
func TestMatchManyLiveComponents(t *testing.T) {
	var live []Component
	for i := range 70 {
		live = append(live, Component{Name: "disk_serial", Weight: 1, Hash: HashValue("p", "disk_serial", fmt.Sprint(i))})
	}
	bound := Fingerprint{Components: []Component{live[69], live[69], live[0]}, Need: 3}
	r := Match(bound, live, true)
	if r.OK || r.Matched != 2 || len(r.Changed) != 1 {
		t.Errorf("got %+v, want 2 of 3 matched (live[69] only once)", r)
	}
	r = Match(Fingerprint{Components: []Component{live[69], live[68], live[0]}, Need: 3}, live, true)
	if !r.OK || r.Matched != 3 {
		t.Errorf("got %+v, want all 3 matched", r)
	}
}
