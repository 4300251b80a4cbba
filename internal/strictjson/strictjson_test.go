package strictjson

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" = accepted
	}{
		{`{"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 2}]}`, ""},
		{`[]`, ""},
		{`"text"`, ""},
		{`{"a": 1, "a": 2}`, `duplicate member name "a" in the object at $`},
		{`{"a": 1, "\u0061": 2}`, `duplicate member name "a" in the object at $`},
		{`{"product": "a", "Product": "b"}`, `"Product" in the object at $: "product" is the same name ignoring case`},
		{`{"x": {"fingerprint": {"need": 1, "need": 9}}}`, `duplicate member name "need" in the object at $.x.fingerprint`},
		{`{"c": [{}, {"n": 1, "n": 1}]}`, `in the object at $.c[1]`},
		{`{"a": 1`, "EOF"},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), "nested deeper than 64"},
	} {
		err := Check([]byte(c.in))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
		if strings.Contains(c.want, "duplicate") && !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: not ErrDuplicateKey", c.in)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"a": [1, {"b": 2, "B": 3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = Check(b) })
}
