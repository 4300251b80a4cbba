package license

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseTime parses a date ("2027-01-31", meaning 00:00:00 UTC at the start
// of that day) or an RFC 3339 time ("2027-01-31T12:00:00+03:00"). The
// result is in UTC, truncated to whole seconds.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want a date (2027-01-31) or an RFC 3339 time (2027-01-31T12:00:00Z)", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// ParseFeature parses "name=true", "name=false" (also on/off, yes/no) or
// "name=N" (a decimal integer). A bare "name" means name=true.
func ParseFeature(s string) (Feature, error) {
	name, val, ok := strings.Cut(s, "=")
	f := Feature{Name: name}
	if err := checkName(name); err != nil {
		return f, fmt.Errorf("feature %q: %v", s, err)
	}
	if !ok {
		return Feature{Name: name, Value: 1, IsBool: true}, nil
	}
	switch strings.ToLower(val) {
	case "true", "on", "yes":
		return Feature{Name: name, Value: 1, IsBool: true}, nil
	case "false", "off", "no":
		return Feature{Name: name, IsBool: true}, nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return f, fmt.Errorf("feature %q: value %q is not true, false or an integer", s, val)
	}
	f.Value = n
	return f, nil
}

// SortFeatures sorts features by name and refuses a name given twice.
func SortFeatures(fs []Feature) ([]Feature, error) {
	out := append([]Feature(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, fmt.Errorf("feature %q is given twice", out[i].Name)
		}
	}
	return out, nil
}
