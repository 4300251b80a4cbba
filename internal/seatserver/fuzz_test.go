package seatserver

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/pkg/seat"
)

// FuzzParseCheckout: the checkout parser never panics, refuses only with
// ErrBadRequest, and what it accepts is clean and survives a round trip.
func FuzzParseCheckout(f *testing.F) {
	for _, s := range []string{
		`{"Product":"acme-erp","ClientSessionID":"3f2c9a0e5b7d4c1a","AppName":"erp","UserName":"ivanov","ComputerName":"ws-17","SessionStarted":"2026-12-01T09:00:00Z"}`,
		`{"KeyID":"672B","ClientSessionID":"0123456789ABCDEF","AppName":"MobileClient","UserName":"MobileUser","ComputerName":"Androud Table Sevice","SessionStarted":"2020-01-01T12:52:20"}`,
		`{"Product":"p","KeyID":"q","ClientSessionID":"0123456789abcdef"}`,
		`{"Product":"p","ClientSessionID":"0123456789abcdef","UserName":"a\u202eb"}`,
		`{}`, ``, `[]`, `{"Product":"p"} x`,
		// Case variants and duplicates (refused: decoders disagree on them).
		`{"keyid":"672B","ClientSessionID":"0123456789ABCDEF"}`,
		`{"Product":"p","product":"q","ClientSessionID":"0123456789abcdef"}`,
		`{"Product":"p","Product":"q","ClientSessionID":"0123456789abcdef"}`,
		`{"Product":"p","\u017fessionStarted":"2026-12-01T09:00:00Z","ClientSessionID":"0123456789abcdef"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseCheckout(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not match ErrBadRequest", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error text is not valid UTF-8: %q", err.Error())
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
		for _, v := range []string{r.Product, r.AppName, r.UserName, r.ComputerName} {
			if safetext.Check("field", v) != nil {
				t.Fatalf("accepted unclean text %q", v)
			}
		}
		w := seat.CheckoutRequest{Product: r.Product, ClientSessionID: r.ClientSessionID, AppName: r.AppName,
			UserName: r.UserName, ComputerName: r.ComputerName}
		if !r.SessionStarted.IsZero() {
			w.SessionStarted = r.SessionStarted.Format("2006-01-02T15:04:05.999999999Z07:00")
		}
		b, _ := json.Marshal(w)
		r2, err := ParseCheckout(b)
		if err != nil {
			t.Fatalf("re-encoded request %s refused: %v", b, err)
		}
		if r2 != r {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
	})
}

// FuzzParseInstall: never panics; what it accepts has a code and clean,
// bounded tax IDs.
func FuzzParseInstall(f *testing.F) {
	for _, s := range []string{
		`{"ActivationCodeString":"ASL1-XXXX","ITN":1234567890,"IEC":null,"BlankKeyNo":null}`,
		`{"ActivationCodeString":"-----BEGIN AIRSEAL LICENSE-----\n...","ITN":"7701234567","IEC":"770101001"}`,
		`{"ActivationCodeString":"x","ITN":-1}`,
		`{"ActivationCodeString":"x","ITN":1e5}`,
		`{"ActivationCodeString":"x","BlankKeyNo":7}`,
		`{"ITN":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseInstall(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not match ErrBadRequest", err)
			}
			return
		}
		if strings.TrimSpace(w.ActivationCodeString) == "" || w.BlankKeyNo != "" {
			t.Fatalf("accepted %+v", w)
		}
		for _, v := range []seat.TaxID{w.ITN, w.IEC} {
			if len(v) > 32 || safetext.Check("tax ID", string(v)) != nil {
				t.Fatalf("accepted tax ID %q", v)
			}
		}
	})
}

// FuzzParseRevocations: never panics, refuses only with ErrBadRequest.
func FuzzParseRevocations(f *testing.F) {
	f.Add([]byte(`{"RevocationList":"-----BEGIN AIRSEAL REVOCATIONS-----\n..."}`))
	f.Add([]byte(`{"RevocationList":""}`))
	f.Add([]byte(`{"RevocationList":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseRevocations(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not match ErrBadRequest", err)
			}
			return
		}
		if strings.TrimSpace(string(b)) == "" {
			t.Fatal("accepted an empty list")
		}
	})
}

// FuzzTaxID: a tax ID decodes from a string, a whole number or null, and
// what decodes encodes back to a string that decodes to the same.
func FuzzTaxID(f *testing.F) {
	for _, s := range []string{`"7701234567"`, `7701234567`, `null`, `-1`, `1.5`, `true`, `"a\"b"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var id seat.TaxID
		if err := id.UnmarshalJSON(b); err != nil {
			return
		}
		enc, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		var back seat.TaxID
		if err := json.Unmarshal(enc, &back); err != nil || back != id {
			t.Fatalf("%q → %s → %q (%v)", id, enc, back, err)
		}
	})
}

// FuzzQueryAndPath: the query-ID and path checks never panic; what they
// accept is clean and bounded, so it can be echoed, logged and signed.
func FuzzQueryAndPath(f *testing.F) {
	f.Add("q-0123456789abcdef", "/api/sessions/L-ABC/renew")
	f.Add("short", "/api/licences/%1b")
	f.Add(strings.Repeat("a", 65), "/api//renew")
	f.Fuzz(func(t *testing.T, qid, path string) {
		if CheckQueryID(qid) == nil {
			if seats.CheckSessionID(qid) != nil || len(qid) > 64 {
				t.Fatalf("accepted query ID %q", qid)
			}
		}
		for _, r := range routes {
			var ps params
			if !match(r.Pattern, path, &ps) {
				continue
			}
			for i := 0; i < ps.n; i++ {
				name, v := ps.names[i], ps.vals[i]
				if v == "" {
					t.Fatalf("%s matched %s with empty %s", r.Pattern, path, name)
				}
				if checkPathID(name, v) == nil && (len(v) > 128 || safetext.Check(name, v) != nil) {
					t.Fatalf("accepted path segment %q", v)
				}
				if ps.get(name) != v {
					t.Fatalf("%s on %s: get(%q) = %q, want %q", r.Pattern, path, name, ps.get(name), v)
				}
			}
		}
	})
}

// TestRoutePatterns: every pattern has at most maxParams {Name} segments
// (match keeps that many), and no path matches two routes of one method
// (the handler takes the first that matches).
func TestRoutePatterns(t *testing.T) {
	for i, a := range routes {
		if n := strings.Count(a.Pattern, "{"); n > maxParams {
			t.Errorf("%s %s has %d parameters; match keeps %d", a.Method, a.Pattern, n, maxParams)
		}
		// A path made of the pattern with each {Name} filled in.
		path := strings.NewReplacer("{ID}", "X", "{KeyNo}", "X", "{Code}", "X").Replace(a.Pattern)
		var ps params
		if !match(a.Pattern, path, &ps) {
			t.Errorf("%s does not match %s", a.Pattern, path)
		}
		for _, b := range routes[i+1:] {
			if a.Method == b.Method && match(b.Pattern, path, &ps) {
				t.Errorf("%s %s matches both %s and %s", a.Method, path, a.Pattern, b.Pattern)
			}
		}
	}
}
