package tokenserver

import (
	"encoding/base64"
	"net/url"
	"testing"
)

func FuzzParseParams(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=client_credentials&scope=a+b"))
	f.Add("application/x-www-form-urlencoded; charset=UTF-8", []byte("a=1&a=2"))
	f.Add("application/json", []byte(`{"grant_type":"refresh_token","refresh_token":"x"}`))
	f.Add("application/json", []byte(`{"a":`))
	f.Add("text/plain", []byte("x"))
	f.Add("application/x-www-form-urlencoded", []byte("a%22%5C%C3%A9=1&a%22%5C%C3%A9=2"))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		v, e := ParseParams(ct, body)
		if e != nil {
			if e.Status != 400 || e.Code != "invalid_request" {
				t.Fatalf("error %+v", e)
			}
			for _, c := range []byte(e.Description) {
				if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("error_description %q has %q, outside RFC 6749 section 5.2", e.Description, c)
				}
			}
			return
		}
		for k, x := range v {
			if len(x) != 1 {
				t.Fatalf("parameter %q repeated: %v", k, x)
			}
		}
	})
}

// FuzzParseBasicAuth: never panics; what it accepts, encoded again as
// RFC 6749 §2.3.1 says (form-encode id and secret, then Basic), parses back
// to the same id and secret.
func FuzzParseBasicAuth(f *testing.F) {
	f.Add("Basic bG9jYWwuaXRncml4LjE6c2VjcmV0")
	f.Add("basic Og==")
	f.Add("Bearer x")
	f.Add("Basic %%%")
	f.Add("Basic YSUzQWI6YyUzQWQ=") // a%3Ab:c%3Ad
	f.Fuzz(func(t *testing.T, h string) {
		id, secret, ok := ParseBasicAuth(h)
		if !ok {
			return
		}
		again := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
		id2, secret2, ok := ParseBasicAuth(again)
		if !ok || id2 != id || secret2 != secret {
			t.Fatalf("%q parsed as (%q, %q), re-encoded %q parsed as (%q, %q, %v)", h, id, secret, again, id2, secret2, ok)
		}
	})
}
