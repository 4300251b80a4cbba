package strictjson

import (
	"errors"
	"testing"
	"time"
)

type inner struct {
	Name string `json:"Name"`
}

type base struct {
	Node string `json:"Node"`
}

type outer struct {
	base
	KeyID   string           `json:"KeyID"`
	Product string           `json:"Product,omitempty"`
	Count   int              // no tag: the Go name
	Skip    string           `json:"-"`
	When    time.Time        `json:"When"`
	Items   []inner          `json:"Items"`
	Ptr     *inner           `json:"Ptr"`
	Labels  map[string]inner `json:"Labels"`
	Any     any              `json:"Any"`
	//lint:ignore U1000 unexported: not a JSON member, which the test checks.
	hidden string
	Extra  map[string]string `json:"Extra"`
}

func TestCheckFields(t *testing.T) {
	for _, c := range []struct {
		name, in string
		unknown  bool
		want     error
	}{
		{"exact", `{"KeyID":"a","Product":"p","Count":1,"Node":"n","When":"2026-01-01T00:00:00Z","Items":[{"Name":"x"}],"Ptr":{"Name":"y"},"Labels":{"k":{"Name":"z"}},"Any":{"whatever":1},"Extra":{"a":"b"}}`, false, nil},
		{"wrong case", `{"keyid":"a"}`, false, ErrFieldCase},
		{"wrong case allowed unknown", `{"keyid":"a"}`, true, ErrFieldCase},
		{"long s folds to s", `{"Product":"p","Count":1,"Node":"n","\u017fkip":""}`, false, ErrUnknownField},
		{"kelvin sign folds to k", `{"\u212aeyID":"a"}`, true, ErrFieldCase},
		{"embedded wrong case", `{"node":"n"}`, false, ErrFieldCase},
		{"nested wrong case", `{"Items":[{"name":"x"}]}`, false, ErrFieldCase},
		{"pointer wrong case", `{"Ptr":{"NAME":"x"}}`, false, ErrFieldCase},
		{"map value wrong case", `{"Labels":{"k":{"nAme":"x"}}}`, false, ErrFieldCase},
		{"duplicate", `{"KeyID":"a","KeyID":"b"}`, true, ErrDuplicateKey},
		{"duplicate ignoring case", `{"KeyID":"a","keyID":"b"}`, true, ErrDuplicateKey},
		{"duplicate in a map", `{"Extra":{"a":"1","a":"2"}}`, true, ErrDuplicateKey},
		{"duplicate under any", `{"Any":{"x":1,"X":2}}`, true, ErrDuplicateKey},
		{"duplicate in an opaque value", `{"When":{"a":1,"a":2}}`, true, ErrDuplicateKey},
		{"unknown", `{"Colour":"red"}`, false, ErrUnknownField},
		{"unknown allowed", `{"Colour":"red","Nested":{"deep":[1,2]}}`, true, nil},
		{"dash tag is unknown", `{"Skip":"x"}`, false, ErrUnknownField},
		{"unexported is unknown", `{"hidden":"x"}`, false, ErrUnknownField},
	} {
		err := CheckFields([]byte(c.in), &outer{}, FieldsOptions{AllowUnknown: c.unknown})
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := CheckFields([]byte(`{"keyid":1}`), &outer{}, FieldsOptions{}); err == nil || err.Error() != `member name in the wrong case: "keyid" in the object at $: the member is "KeyID" (names are case-sensitive)` {
		t.Errorf("message: %v", err)
	}
	if err := CheckFields([]byte(`[{"KeyID":"a"},{"KeyID":"b","keyid":"c"}]`), []outer{}, FieldsOptions{AllowUnknown: true}); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("slice of structs: %v", err)
	}
	if err := CheckFields([]byte(`{"KeyID":`), &outer{}, FieldsOptions{}); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func FuzzCheckFields(f *testing.F) {
	f.Add([]byte(`{"KeyID":"a","Items":[{"Name":"x"}]}`))
	f.Add([]byte(`{"keyid":"a"}`))
	f.Add([]byte(`{"KeyID":"a","KeyID":"b"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = CheckFields(data, &outer{}, FieldsOptions{})
		_ = CheckFields(data, &outer{}, FieldsOptions{AllowUnknown: true})
	})
}
