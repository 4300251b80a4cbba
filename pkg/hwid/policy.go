package hwid

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/airseal/airseal/pkg/fingerprint"
)

// The binding policy: which components may be bound, how much each weighs,
// and how many matching components a machine needs. hwid applies it when it
// describes a machine, and issue applies it again to every license request,
// so a license's rule is always the vendor's policy and never what the
// (unsigned) request claims.

// policyKind is what the policy knows about one component name.
type policyKind struct {
	weight    int  // weight of one component of this kind
	max       int  // at most this many components of this kind
	needsRoot bool // an unprivileged process cannot read it
}

var policyKinds = table[policyKind]{
	{CompSystemUUID, policyKind{weightUUID, 1, true}},
	{CompSystemSerial, policyKind{weightSerial, 1, true}},
	{CompBoardSerial, policyKind{weightSerial, 1, true}},
	{CompCPU, policyKind{weightCPU, 1, false}},
	{CompMAC, policyKind{2, maxMACs, false}}, // 1 each when there are more than two
	{CompDisk, policyKind{1, maxDisks, false}},
	{CompMachineID, policyKind{weightMachineID, 1, false}},
}

// ErrWeakBinding is matched by errors.Is when a component set holds only
// weak components (cpu, machine_id), which a different machine can share:
// such a binding identifies a model of processor and a cloned disk image,
// not a machine. BindingRule still returns the fingerprint (needing every
// component) together with this error.
var ErrWeakBinding = errors.New("only weak components (cpu, machine_id), which another machine can share")

// PolicyError is returned by BindingRule for a component set the policy
// cannot bind: an unknown component name, or more components of one kind
// than hwid ever records.
type PolicyError struct {
	Component string // the component name
	Reason    string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("component %q: %s", e.Component, e.Reason)
}

// BindingRule applies the binding policy to a set of components (names and
// hashes, typically from a license request) and returns the fingerprint to
// bind: the same components, in the same order, with the policy's weights
// and needs_root flags, and the policy's Need. Whatever weights and need the
// components came with are ignored.
//
// The policy: system_uuid weighs 3, system_serial and board_serial 2, a
// network card (mac) 2 when there are one or two and 1 each when there are
// three or four, a disk serial 1, cpu and machine_id 1. Need is the total
// less the heaviest weight (any one component may change), but always more
// than the weight of the weak components (cpu, machine_id) together, so they
// never match on their own; and never more than the total. On a machine
// with little hardware this leaves no tolerance (Need equals the total).
//
// BindingRule returns a *PolicyError for an unknown component name or too
// many components of one kind, an error for an empty set, and ErrWeakBinding
// (with the fingerprint) for a set of weak components only.
func BindingRule(components []fingerprint.Component) (fingerprint.Fingerprint, error) {
	if len(components) == 0 {
		return fingerprint.Fingerprint{}, errors.New("no components to bind")
	}
	count := map[string]int{}
	for _, c := range components {
		k, ok := policyKinds.get(c.Name)
		if !ok {
			return fingerprint.Fingerprint{}, &PolicyError{c.Name, "not a component hwid records (" + strings.Join(PolicyComponents(), ", ") + ")"}
		}
		if count[c.Name]++; count[c.Name] > k.max {
			return fingerprint.Fingerprint{}, &PolicyError{c.Name, fmt.Sprintf("%d of them; hwid records at most %d", count[c.Name], k.max)}
		}
	}
	f := fingerprint.Fingerprint{Components: make([]fingerprint.Component, len(components))}
	heaviest, weak, strong := 0, 0, 0
	for i, c := range components {
		k := policyKinds.at(c.Name)
		w := k.weight
		if c.Name == CompMAC && count[CompMAC] > 2 {
			w = 1
		}
		f.Components[i] = fingerprint.Component{Name: c.Name, Weight: w, Hash: c.Hash, NeedsRoot: k.needsRoot}
		heaviest = max(heaviest, w)
		if weakComponent(c.Name) {
			weak += w
		} else {
			strong++
		}
	}
	f.Need = defaultNeed(f.Total(), heaviest, weak)
	if strong == 0 {
		return f, ErrWeakBinding
	}
	return f, nil
}

// PolicyComponents returns the component names the policy knows, sorted.
func PolicyComponents() []string {
	names := make([]string, 0, len(policyKinds))
	for _, e := range policyKinds {
		names = append(names, e.k)
	}
	sort.Strings(names)
	return names
}

// WeakComponent reports whether a component is weak: one that a different
// machine can share (the processor model, a machine-id cloned with a disk
// image). Weak components never reach the policy's Need on their own.
func WeakComponent(name string) bool { return weakComponent(name) }
