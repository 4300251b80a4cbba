package hwid

// table is a small constant lookup table: a slice of key-value pairs. The
// compiler lays a slice literal out in the binary, while a map literal is
// built by code at package init, on every start of every binary that
// imports hwid (verify among them, which needs these tables only for a
// machine-bound license). The tables hold at most a few dozen entries, so a
// linear scan costs less than hashing.
type table[V any] []entry[V]

type entry[V any] struct {
	k string
	v V
}

// get returns the value for k and whether k is in the table.
func (t table[V]) get(k string) (V, bool) {
	for _, e := range t {
		if e.k == k {
			return e.v, true
		}
	}
	var zero V
	return zero, false
}

// at returns the value for k, or the zero value when k is absent.
func (t table[V]) at(k string) V {
	v, _ := t.get(k)
	return v
}

// has reports whether k is in the table.
func (t table[V]) has(k string) bool {
	_, ok := t.get(k)
	return ok
}
