// Package strictjson holds the one rule airseal's JSON readers add to RFC
// 8259: no object may have two members with the same name.
//
// RFC 8259 §4 leaves duplicate names to the implementation, and
// implementations disagree: Go's encoding/json keeps the last value (and
// matches struct fields ignoring case, so "product" and "Product" are the
// same member to it), others keep the first or refuse. A file that means
// one thing to one verifier and another to the next is refused instead, by
// every airseal reader of a format whose spec says so (request-v1,
// clock-state-v1, license-v2's server request).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxDepth is the deepest nesting of objects and arrays Check walks; the
// formats it guards nest three or four levels.
const MaxDepth = 64

// ErrDuplicateKey is wrapped by Check's error for a repeated member name.
var ErrDuplicateKey = errors.New("duplicate member name")

// Check returns an error when data is not JSON, nests deeper than MaxDepth,
// or has an object with two members whose names are equal ignoring case
// (after unescaping: "a" and "\u0061" are the same name). The error names
// the member and where its object is ($ is the top level, then .name and
// [index] steps). Check does not decode values; callers decode as usual
// after it.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return value(dec, "$", 0)
}

func value(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
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
		seen := map[string]string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			folded := strings.ToLower(name)
			if first, dup := seen[folded]; dup {
				if first == name {
					return fmt.Errorf("%w %q in the object at %s: give each member once", ErrDuplicateKey, name, path)
				}
				return fmt.Errorf("%w %q in the object at %s: %q is the same name ignoring case; give each member once", ErrDuplicateKey, name, path, first)
			}
			seen[folded] = name
			if err := value(dec, path+"."+name, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := value(dec, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
