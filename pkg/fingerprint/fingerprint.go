// Package fingerprint describes a machine as a set of hashed hardware
// components and decides whether a live machine still matches a recorded one
// under a k-of-n rule, explaining the decision.
//
// It is pure: it neither reads hardware (package hwid does) nor verifies
// signatures (package license does). Both of those packages share these
// types, so a license binding and a license request speak the same language.
//
// # Security
//
// Each component is stored only as a salted hash: HMAC-SHA-256 keyed by the
// product name over the component's name and normalised value, truncated to
// 128 bits. Two vendors (two products) therefore get unrelated hashes for the
// same machine and cannot correlate customers, and a license file does not
// disclose serial numbers. A hash is not secret from someone who can guess
// the value (MAC addresses have little entropy): it is a privacy measure, not
// a secrecy one.
package fingerprint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Component is one hashed hardware fact with its weight in the match rule.
type Component struct {
	// Name is the kind of component: "system_uuid", "board_serial",
	// "disk_serial", "mac", "cpu", "machine_id", ... A machine may have
	// several components of one kind (disks, network cards).
	Name string `json:"name"`
	// Weight is how much a matching component counts towards Need.
	Weight int `json:"weight"`
	// Hash is HashValue(product, Name, value): 32 lower-case hex characters.
	Hash string `json:"hash"`
	// NeedsRoot is true when an unprivileged process cannot read this
	// component; a live set read without root then lacks it.
	NeedsRoot bool `json:"needs_root,omitempty"`
}

// Fingerprint is a recorded set of components and the rule a live machine
// must meet: the weights of matching components must add up to at least Need.
type Fingerprint struct {
	// Components are the recorded components, in the order recorded.
	Components []Component `json:"components"`
	// Need is the total weight of matching components a machine needs.
	Need int `json:"need"`
}

const hashDomain = "airseal fingerprint v1"

// HashValue returns the salted hash of a component value for a product.
// value must already be normalised by the collector.
func HashValue(product, name, value string) string {
	m := hmac.New(sha256.New, []byte(hashDomain+"\x00"+product))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Total returns the sum of all component weights.
func (f Fingerprint) Total() int {
	t := 0
	for _, c := range f.Components {
		t += c.Weight
	}
	return t
}

// ID returns a short printable identifier of the whole fingerprint: the same
// component set always gives the same ID, whatever the order, and the match
// rule does not enter it. It is derived as follows (docs/spec/request-v1.md):
// one line NAME ":" HASH per component, the lines sorted bytewise and joined
// with "\n" (no final newline), SHA-256 of that, the first 10 bytes in
// upper-case hex, split into four groups of five characters joined by "-".
func (f Fingerprint) ID() string {
	keys := make([]string, len(f.Components))
	for i, c := range f.Components {
		keys[i] = c.Name + ":" + c.Hash
	}
	sort.Strings(keys)
	h := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	s := strings.ToUpper(hex.EncodeToString(h[:10]))
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
}

// Limits of a fingerprint, the same in a license request (JSON and typed
// code) and in a license: a component's name is 1 to MaxNameLen characters
// of a-z, 0-9, '_', '.' and '-'; its weight is 1 to MaxWeight; need is 1 to
// the total weight.
const (
	MaxNameLen = 64
	MaxWeight  = 1000
)

// CheckName checks a component name against the one alphabet: 1 to
// MaxNameLen characters of a-z, 0-9, '_', '.' and '-'.
func CheckName(s string) error {
	if len(s) < 1 || len(s) > MaxNameLen {
		return fmt.Errorf("name %q: want 1 to %d characters", s, MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("name %q: use only a-z, 0-9, '_', '.' and '-'", s)
		}
	}
	return nil
}

// Validate checks that a fingerprint is usable as a binding: at least one
// component, each with a name CheckName accepts, a weight of 1 to MaxWeight
// and a 32-character lower-case hex hash, and 1 ≤ Need ≤ Total.
func (f Fingerprint) Validate() error {
	if len(f.Components) == 0 {
		return fmt.Errorf("fingerprint has no components")
	}
	for i, c := range f.Components {
		if err := CheckName(c.Name); err != nil {
			return fmt.Errorf("fingerprint component %d: %v", i, err)
		}
		if c.Weight < 1 || c.Weight > MaxWeight {
			return fmt.Errorf("fingerprint component %d (%q): weight %d; want 1 to %d", i, c.Name, c.Weight, MaxWeight)
		}
		if len(c.Hash) != 32 {
			return fmt.Errorf("fingerprint component %d (%q): want a 32-character hash", i, c.Name)
		}
		if _, err := hex.DecodeString(c.Hash); err != nil || strings.ToLower(c.Hash) != c.Hash {
			return fmt.Errorf("fingerprint component %d (%q): hash is not lower-case hex", i, c.Name)
		}
	}
	if f.Need < 1 || f.Need > f.Total() {
		return fmt.Errorf("fingerprint needs %d but its weights add up to %d; need must be between 1 and the total", f.Need, f.Total())
	}
	return nil
}

// Result explains a match.
type Result struct {
	// OK is true when Score reaches Need.
	OK      bool     `json:"ok"`
	Score   int      `json:"score"`   // total weight of matching components
	Need    int      `json:"need"`    // weight needed
	Matched int      `json:"matched"` // how many recorded components matched
	Of      int      `json:"of"`      // how many components were recorded
	Changed []string `json:"changed"` // names of recorded components not found live
	// Unreadable lists changed components that need root and were not read
	// because the live set was collected without it.
	Unreadable []string `json:"unreadable,omitempty"`
}

// Match compares the live components of a machine with a recorded fingerprint.
// A recorded component matches when a live component has the same name and
// hash; each live component can match only once. rootRead says whether the
// live set was collected with root privileges, so that components needing
// root are reported as unreadable rather than changed.
func Match(bound Fingerprint, live []Component, rootRead bool) Result {
	// A quadratic scan: both sets are small (a license holds at most 256
	// components, a machine a dozen), and it allocates nothing on a
	// product's hot path.
	var buf [64]bool
	var used []bool
	if len(live) <= len(buf) {
		used = buf[:len(live)]
	} else {
		used = make([]bool, len(live))
	}
	r := Result{Need: bound.Need, Of: len(bound.Components), Changed: []string{}}
	for _, c := range bound.Components {
		found := false
		for i := range live {
			if !used[i] && live[i].Hash == c.Hash && live[i].Name == c.Name {
				used[i], found = true, true
				break
			}
		}
		if found {
			r.Score += c.Weight
			r.Matched++
			continue
		}
		if c.NeedsRoot && !rootRead {
			r.Unreadable = append(r.Unreadable, c.Name)
		} else {
			r.Changed = append(r.Changed, c.Name)
		}
	}
	r.OK = r.Score >= r.Need && r.Need > 0
	return r
}

// String explains the result in one line, for example
// "3 of 5 components match (disk_serial and mac changed); weight 3, 3 needed".
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d components match", r.Matched, r.Of)
	if len(r.Changed) > 0 {
		fmt.Fprintf(&b, " (%s changed)", joinAnd(r.Changed))
	}
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(&b, " (%s not readable without root)", joinAnd(r.Unreadable))
	}
	fmt.Fprintf(&b, "; weight %d, %d needed", r.Score, r.Need)
	return b.String()
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
