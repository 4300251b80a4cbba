package license

import (
	"errors"
	"fmt"
	"sort"
)

// ErrIncompatible means licenses cannot be used together: a demo license
// with another license of the same product, an additional license without
// its main license, or licenses for different products.
var ErrIncompatible = errors.New("licenses cannot be combined")

// Combine merges verified licenses of one product into one set of
// entitlements: a main license plus the additional licenses that name it.
// Seats add up; a flag is on when any license turns it on; for a numeric
// limit the largest value wins. A demo license cannot be combined with any
// other license of the product. Pass only licenses returned by Verify.
func Combine(lics []*License) (Entitlements, error) {
	if len(lics) == 0 {
		return Entitlements{}, fmt.Errorf("%w: no licenses", ErrIncompatible)
	}
	product := lics[0].Product
	serials := map[string]*License{}
	for _, l := range lics {
		if l.Product != product {
			return Entitlements{}, fmt.Errorf("%w: %s is for %q, %s for %q", ErrIncompatible, lics[0].Serial, product, l.Serial, l.Product)
		}
		if serials[l.Serial] != nil {
			return Entitlements{}, fmt.Errorf("%w: license %s is given twice", ErrIncompatible, l.Serial)
		}
		serials[l.Serial] = l
	}
	for _, l := range lics {
		switch l.Kind {
		case KindDemo:
			if len(lics) > 1 {
				return Entitlements{}, fmt.Errorf("%w: demo license %s cannot be used with other licenses of %s", ErrIncompatible, l.Serial, product)
			}
		case KindAdditional:
			if m := serials[l.MainSerial]; m == nil || m.Kind != KindMain {
				return Entitlements{}, fmt.Errorf("%w: additional license %s needs its main license %s", ErrIncompatible, l.Serial, l.MainSerial)
			}
		}
	}
	e := Entitlements{}
	byName := map[string]Feature{}
	for _, l := range lics {
		e.Seats += l.Seats
		for _, f := range l.Features {
			old, ok := byName[f.Name]
			if !ok || f.Value > old.Value {
				byName[f.Name] = f
			}
		}
	}
	for _, f := range byName {
		e.Features = append(e.Features, f)
	}
	sort.Slice(e.Features, func(i, j int) bool { return e.Features[i].Name < e.Features[j].Name })
	return e, nil
}
