package seatserver

import (
	"errors"
	"strings"
	"testing"
)

// TestParsersRefuseCaseAndDuplicates (issue 10): encoding/json matches
// member names ignoring case and keeps the last of two; a request that
// means one thing to it and another to a different decoder is refused
// with a 400 naming the member, by every request parser.
func TestParsersRefuseCaseAndDuplicates(t *testing.T) {
	const sidOK = `"ClientSessionID":"0123456789abcdef"`
	parsers := map[string]func([]byte) error{
		"checkout": func(b []byte) error { _, err := ParseCheckout(b); return err },
		"install":  func(b []byte) error { _, err := ParseInstall(b); return err },
		"revoke":   func(b []byte) error { _, err := ParseRevocations(b); return err },
	}
	for _, c := range []struct {
		parser, body, wantText string
	}{
		{"checkout", `{"keyid":"672B",` + sidOK + `}`, `"keyid"`},
		{"checkout", `{"Product":"p","PRODUCT":"q",` + sidOK + `}`, `"PRODUCT"`},
		{"checkout", `{"Product":"p","Product":"q",` + sidOK + `}`, `duplicate member name "Product"`},
		{"checkout", `{"Product":"p","clientSessionId":"0123456789abcdef"}`, `the member is "ClientSessionID"`},
		{"checkout", `{"Product":"p",` + sidOK + `,"Colour":"red"}`, `unknown field "Colour"`},
		{"install", `{"activationcodestring":"ASL1-X"}`, `"ActivationCodeString"`},
		{"install", `{"ActivationCodeString":"ASL1-X","ITN":"7701234567","itn":"1"}`, `duplicate member name "itn"`},
		{"revoke", `{"RevocationList":"a","revocationList":"b"}`, `duplicate member name`},
	} {
		err := parsers[c.parser]([]byte(c.body))
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), c.wantText) {
			t.Errorf("%s %s: %v, want a 400 naming %s", c.parser, c.body, err, c.wantText)
		}
	}
	if _, err := ParseCheckout([]byte(`{"KeyID":"672B",` + sidOK + `}`)); err != nil {
		t.Errorf("exact names refused: %v", err)
	}
}
