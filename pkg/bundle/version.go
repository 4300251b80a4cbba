package bundle

import (
	"strings"
)

// CompareVersions orders release versions like semantic versions: dot
// separated parts compared numerically when both are numbers (so 1.10 >
// 1.9), otherwise as text; a version with a "-pre-release" suffix sorts
// before the same version without it; "+build" metadata is ignored. It
// returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	ac, ap, aHasPre := strings.Cut(a, "-")
	bc, bp, bHasPre := strings.Cut(b, "-")
	if c := compareParts(ac, bc); c != 0 {
		return c
	}
	switch {
	case aHasPre && !bHasPre:
		return -1
	case !aHasPre && bHasPre:
		return 1
	}
	return compareParts(ap, bp)
}

func compareParts(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func isNum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func comparePart(x, y string) int {
	if isNum(x) && isNum(y) {
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	} else if isNum(x) != isNum(y) {
		// Numbers sort before words (semver pre-release rule).
		if isNum(x) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}
