package hwid

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/fingerprint"
)

func comps(names ...string) []fingerprint.Component {
	var out []fingerprint.Component
	for i, n := range names {
		out = append(out, fingerprint.Component{Name: n, Weight: 100, Hash: strings.Repeat(string(rune('a'+i%6)), 32)})
	}
	return out
}

// BindingRule ignores the weights and need a request claims and applies the
// policy; weak components alone never reach Need; any one component may
// change when there are enough.
func TestBindingRule(t *testing.T) {
	cases := []struct {
		names         []string
		weights       []int
		need          int
		noTolerance   bool
		weakOnlyError bool
	}{
		{[]string{CompSystemUUID, CompSystemSerial, CompCPU, CompMAC, CompDisk, CompMachineID}, []int{3, 2, 1, 2, 1, 1}, 7, false, false},
		{[]string{CompCPU, CompMAC, CompDisk, CompMachineID}, []int{1, 2, 1, 1}, 3, false, false},
		{[]string{CompCPU, CompMAC, CompMAC, CompMAC, CompMachineID}, []int{1, 1, 1, 1, 1}, 4, false, false},
		{[]string{CompCPU, CompDisk, CompMachineID}, []int{1, 1, 1}, 3, true, false},
		{[]string{CompCPU, CompMachineID}, []int{1, 1}, 2, true, true},
	}
	for _, c := range cases {
		in := comps(c.names...)
		f, err := BindingRule(in)
		if c.weakOnlyError != errors.Is(err, ErrWeakBinding) || (!c.weakOnlyError && err != nil) {
			t.Fatalf("%v: err %v", c.names, err)
		}
		var got []int
		for i, fc := range f.Components {
			got = append(got, fc.Weight)
			if fc.Name != in[i].Name || fc.Hash != in[i].Hash {
				t.Fatalf("%v: component %d changed: %+v", c.names, i, fc)
			}
			if fc.NeedsRoot != (fc.Name == CompSystemUUID || fc.Name == CompSystemSerial || fc.Name == CompBoardSerial) {
				t.Fatalf("%v: needs_root of %s = %v", c.names, fc.Name, fc.NeedsRoot)
			}
		}
		if !reflect.DeepEqual(got, c.weights) || f.Need != c.need {
			t.Fatalf("%v: weights %v need %d, want %v need %d", c.names, got, f.Need, c.weights, c.need)
		}
		if (f.Need == f.Total()) != c.noTolerance {
			t.Fatalf("%v: need %d of %d, no tolerance want %v", c.names, f.Need, f.Total(), c.noTolerance)
		}
		weak := 0
		for _, fc := range f.Components {
			if WeakComponent(fc.Name) {
				weak += fc.Weight
			}
		}
		if !c.weakOnlyError && weak >= f.Need {
			t.Fatalf("%v: weak components (%d) reach need %d", c.names, weak, f.Need)
		}
	}
}

func TestBindingRuleRefuses(t *testing.T) {
	var pe *PolicyError
	if _, err := BindingRule(comps(CompMAC, "tpm_ek")); !errors.As(err, &pe) || pe.Component != "tpm_ek" {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := BindingRule(comps(CompMAC, CompMAC, CompMAC, CompMAC, CompMAC)); !errors.As(err, &pe) || !strings.Contains(err.Error(), "at most 4") {
		t.Fatalf("five macs: %v", err)
	}
	if _, err := BindingRule(comps(CompSystemUUID, CompSystemUUID)); !errors.As(err, &pe) {
		t.Fatalf("two uuids: %v", err)
	}
	if _, err := BindingRule(nil); err == nil {
		t.Fatal("empty set accepted")
	}
}

// hwid's own fingerprints follow the same policy as issue applies.
func TestCollectedFingerprintFollowsPolicy(t *testing.T) {
	for _, e := range loadEnvs(t) {
		rep := collectEnv(t, e, "acme")
		if len(rep.Fingerprint.Components) == 0 {
			continue
		}
		f, err := BindingRule(rep.Fingerprint.Components)
		if err != nil && !errors.Is(err, ErrWeakBinding) {
			t.Fatalf("%s: %v", e.name, err)
		}
		if !reflect.DeepEqual(f, rep.Fingerprint) {
			t.Fatalf("%s: collected %+v, policy %+v", e.name, rep.Fingerprint, f)
		}
	}
}
