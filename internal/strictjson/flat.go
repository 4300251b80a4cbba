package strictjson

import (
	"reflect"
	"unicode/utf8"
)

// DecodeFlat decodes data into v, a pointer to a struct, in one pass, when
// data is the plain case of a request body: one JSON object whose members
// all have distinct ASCII names, unescaped, that are exactly the names of
// string fields of the struct, each with a string value without escapes
// (any valid UTF-8), and nothing but white space around it. What it
// decodes is what CheckFields then encoding/json would accept and decode
// (FuzzDecodeFlat). Anything else (another case, a duplicate, an unknown
// member, an escape, a number, null, a nested value, invalid JSON or
// UTF-8) it leaves to them: it returns false with *v set to its zero
// value, and the caller checks and decodes as usual, which names the
// problem. opt is CheckFields' (unknown members always go the usual way).
func DecodeFlat(data []byte, v any, opt FieldsOptions) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	st := rv.Elem()
	fields := fieldsOf(st.Type())
	if decodeFlat(data, st, fields) {
		return true
	}
	st.SetZero()
	return false
}

func decodeFlat(data []byte, st reflect.Value, fields *structFields) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		name, next, ok := plainString(data, i)
		if !ok {
			return false
		}
		for j := range len(name) {
			if name[j] >= utf8.RuneSelf {
				return false // non-ASCII names: folding is CheckFields' business
			}
		}
		idx, known := fields.plain[string(name)]
		if !known {
			return false
		}
		for _, s := range seen {
			if asciiEqualFold(s, name) {
				return false
			}
		}
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		val, next, ok := plainString(data, skipSpace(data, i+1))
		if !ok || !utf8.Valid(val) {
			return false
		}
		st.Field(idx).SetString(string(val))
		seen = append(seen, name)
		i = skipSpace(data, next)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// plainString returns the contents of the JSON string at data[i] when it
// has no escape and no control character, and the index after it.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// asciiEqualFold is bytes.EqualFold for ASCII.
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
