package strictjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

type flat struct {
	Product string `json:"Product,omitempty"`
	KeyID   string `json:"KeyID"`
	User    string // no tag: the Go name
	Quoted  string `json:"Quoted,string"`
	Count   int    `json:"Count"`
	Nested  inner  `json:"Nested"`
	base
	Case  string `json:"Case"`
	CASE2 string `json:"CASE"`
}

// slowDecode is what DecodeFlat must agree with: CheckFields, then
// encoding/json refusing unknown fields.
func slowDecode(data []byte, v any, opt FieldsOptions) error {
	if err := CheckFields(data, v, opt); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func checkFlat(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow flat
	ok := DecodeFlat(data, &fast, FieldsOptions{})
	if !ok {
		if fast != (flat{}) {
			t.Fatalf("%q: declined but left %+v", data, fast)
		}
		return false
	}
	if err := slowDecode(data, &slow, FieldsOptions{}); err != nil {
		t.Fatalf("%q: DecodeFlat took what CheckFields and encoding/json refuse: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: DecodeFlat %+v, encoding/json %+v", data, fast, slow)
	}
	return true
}

func TestDecodeFlat(t *testing.T) {
	for _, c := range []struct {
		in   string
		fast bool
	}{
		{`{"Product":"p","KeyID":"k","User":"Иванов"}`, true},
		{" \n{ \"KeyID\" : \"k\" }\t", true},
		{`{}`, true},
		{`{"KeyID":"a","KeyID":"b"}`, false},  // duplicate
		{`{"KeyID":"a","keyID":"b"}`, false},  // duplicate ignoring case
		{`{"Case":"a","CASE":"b"}`, false},    // two fields, one name ignoring case
		{`{"keyid":"a"}`, false},              // wrong case
		{`{"Colour":"red"}`, false},           // unknown
		{`{"Node":"n"}`, false},               // promoted: the usual way
		{`{"Quoted":"\"x\""}`, false},         // ,string
		{`{"Count":1}`, false},                // not a string
		{`{"KeyID":null}`, false},             // null
		{`{"KeyID":"a\u0062"}`, false},        // escape
		{`{"KeyID":"a"} x`, false},            // trailing data
		{`{"KeyID":"a",}`, false},             // invalid JSON
		{`{"KeyID":"` + "\xff" + `"}`, false}, // invalid UTF-8
		{`{"KeyID":"` + "\x01" + `"}`, false}, // control character
		{`{"KeyID":"a"`, false},               // truncated
		{`{"Nested":{"Name":"x"}}`, false},    // nested
		{`{"K\u0065yID":"a"}`, false},         // escaped name
		{`{"\u212aeyID":"a"}`, false},         // Kelvin sign
		{`["KeyID"]`, false},                  // not an object
	} {
		if got := checkFlat(t, []byte(c.in)); got != c.fast {
			t.Errorf("%s: fast %v, want %v", c.in, got, c.fast)
		}
	}
	var notStruct map[string]string
	if DecodeFlat([]byte(`{"a":"b"}`), &notStruct, FieldsOptions{}) {
		t.Error("decoded into a map")
	}
}

// FuzzDecodeFlat: whatever DecodeFlat decodes, CheckFields and
// encoding/json accept and decode the same.
func FuzzDecodeFlat(f *testing.F) {
	f.Add([]byte(`{"Product":"p","KeyID":"k","User":"Иванов"}`))
	f.Add([]byte(`{"KeyID":"a","keyID":"b"}`))
	f.Add([]byte(`{"Case":"a","CASE":"b","Count":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFlat(t, data)
	})
}
