package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrFieldCase is wrapped by CheckFields' error for a member whose name
// matches a field of the Go type only when case is ignored ("keyid" for
// "KeyID"): encoding/json would fill the field, another decoder would not.
var ErrFieldCase = errors.New("member name in the wrong case")

// ErrUnknownField is wrapped by CheckFields' error for a member the Go type
// has no field for (when unknown members are refused).
var ErrUnknownField = errors.New("unknown field")

// FieldsOptions tune CheckFields.
type FieldsOptions struct {
	// AllowUnknown accepts members the Go type has no field for, in any
	// case that matches no field (a newer peer's additions). Members that
	// match a field ignoring case only are refused all the same.
	AllowUnknown bool
}

// CheckFields returns an error when data, which is to be decoded into v
// (a pointer or a value of the Go type), has an object with two members
// whose names are equal ignoring case (Check), a member whose name
// matches a field of the corresponding Go struct only when case is
// ignored (ErrFieldCase), or, unless opt.AllowUnknown, a member the
// struct has no field for (ErrUnknownField). It follows the type into
// nested structs, pointers, slices, arrays and maps; below a value whose
// type decodes itself (json.Unmarshaler, encoding.TextUnmarshaler),
// json.RawMessage or an interface, only duplicates are checked. The
// error names the member and its place ($ is the top level). Callers
// decode as usual after it.
func CheckFields(data []byte, v any, opt FieldsOptions) error {
	t := reflect.TypeOf(v)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	c := &fieldChecker{dec: dec, opt: opt}
	if err := c.value(t, "$", 0); err != nil {
		return err
	}
	return nil
}

type fieldChecker struct {
	dec *json.Decoder
	opt FieldsOptions
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
)

// opaque reports whether values of t are decoded by their own code (or
// not by field names at all): only duplicates are checked below them.
func opaque(t reflect.Type) bool {
	if t == nil || t == rawMessageType || t.Kind() == reflect.Interface {
		return true
	}
	pt := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || pt.Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

func (c *fieldChecker) value(t reflect.Type, path string, depth int) error {
	for t != nil && t.Kind() == reflect.Pointer {
		if opaque(t) {
			break
		}
		t = t.Elem()
	}
	if opaque(t) {
		return value(c.dec, path, depth) // duplicates only
	}
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", path, MaxDepth)
	}
	switch d {
	case '{':
		var fields *structFields
		var elem reflect.Type
		switch t.Kind() {
		case reflect.Struct:
			fields = fieldsOf(t)
		case reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]string{}
		for c.dec.More() {
			tok, err := c.dec.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			folded := fold(name)
			if first, dup := seen[folded]; dup {
				if first == name {
					return fmt.Errorf("%w %q in the object at %s: give each member once", ErrDuplicateKey, name, path)
				}
				return fmt.Errorf("%w %q in the object at %s: %q is the same name ignoring case; give each member once", ErrDuplicateKey, name, path, first)
			}
			seen[folded] = name
			sub := elem
			if fields != nil {
				ft, exact := fields.exact[name]
				if !exact {
					for _, want := range fields.names {
						if strings.EqualFold(name, want) {
							return fmt.Errorf("%w: %q in the object at %s: the member is %q (names are case-sensitive)", ErrFieldCase, name, path, want)
						}
					}
					if !c.opt.AllowUnknown {
						return fmt.Errorf("%w %q in the object at %s", ErrUnknownField, name, path)
					}
				}
				sub = ft
			}
			if err := c.value(sub, path+"."+name, depth+1); err != nil {
				return err
			}
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; c.dec.More(); i++ {
			if err := c.value(elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	}
	_, err = c.dec.Token() // the closing delimiter
	return err
}

// fold maps a member name to what encoding/json matches it by (case
// folded as strings.EqualFold does: "ſ" is "s", the Kelvin sign "k").
func fold(name string) string { return strings.ToLower(strings.ToUpper(name)) }

// structFields are a struct type's JSON members.
type structFields struct {
	exact map[string]reflect.Type // JSON name → field type
	names []string
	// plain maps the JSON names of the fields DecodeFlat may set itself
	// to their index: a string field of the struct itself (not promoted),
	// of a type that does not decode itself, without the ",string"
	// option.
	plain map[string]int
}

var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf returns t's JSON members. Embedded structs' fields are
// promoted as encoding/json does (a name at a shallower depth wins; two
// at the same depth cancel, and are left out here too).
func fieldsOf(t reflect.Type) *structFields {
	if m, ok := fieldCache.Load(t); ok {
		return m.(*structFields)
	}
	type found struct {
		t     reflect.Type
		depth int
		count int
	}
	all := map[string]*found{}
	plain := map[string]int{}
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, seen)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, opts, _ := strings.Cut(tag, ","); depth == 0 && ft.Kind() == reflect.String && !opaque(ft) && !hasOption(opts, "string") {
				plain[name] = i
			}
			switch x := all[name]; {
			case x == nil || depth < x.depth:
				all[name] = &found{ft, depth, 1}
			case depth == x.depth:
				x.count++
			}
		}
	}
	walk(t, 0, map[reflect.Type]bool{})
	m := &structFields{exact: map[string]reflect.Type{}, plain: map[string]int{}}
	for name, f := range all {
		if f.count > 1 {
			continue
		}
		if i, ok := plain[name]; ok && f.depth == 0 {
			m.plain[name] = i
		}
		m.exact[name] = f.t
		m.names = append(m.names, name)
	}
	sort.Strings(m.names)
	fieldCache.Store(t, m)
	return m
}

// hasOption reports whether a json tag's options (after the name) hold opt.
func hasOption(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}
