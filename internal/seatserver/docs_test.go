package seatserver

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/seat"
)

// docSection is one endpoint of docs/api.md and its example response.
type docSection struct {
	endpoint string // "METHOD /path"
	status   string
	example  string
}

var (
	headingRe  = regexp.MustCompile(`^### (GET|POST|PUT|PATCH|DELETE) (/\S*)$`)
	responseRe = regexp.MustCompile("^Response `(\\d{3})`")
)

func readAPIDocs(t *testing.T) []docSection {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []docSection
	var cur *docSection
	inJSON, wantJSON := false, false
	var buf strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if m := headingRe.FindStringSubmatch(line); m != nil {
			out = append(out, docSection{endpoint: m[1] + " " + m[2]})
			cur, wantJSON = &out[len(out)-1], false
			continue
		}
		if strings.HasPrefix(line, "#") {
			cur = nil
			continue
		}
		if cur == nil {
			continue
		}
		if m := responseRe.FindStringSubmatch(line); m != nil && cur.status == "" {
			cur.status, wantJSON = m[1], true
			continue
		}
		switch {
		case wantJSON && line == "```json":
			inJSON = true
			buf.Reset()
		case inJSON && line == "```":
			inJSON, wantJSON = false, false
			cur.example = buf.String()
		case inJSON:
			buf.WriteString(line + "\n")
		}
	}
	return out
}

// TestAPIDocs: docs/api.md documents exactly the server's endpoints, each
// with an example request and response, and every example response
// decodes (unknown fields refused) into the type the server sends.
func TestAPIDocs(t *testing.T) {
	docs := readAPIDocs(t)
	documented := map[string]docSection{}
	for _, d := range docs {
		if _, dup := documented[d.endpoint]; dup {
			t.Errorf("docs/api.md documents %s twice", d.endpoint)
		}
		documented[d.endpoint] = d
	}
	served := map[string]bool{"GET " + seat.PathHealth: true}
	for _, r := range Routes() {
		served[r.Method+" "+r.Pattern] = true
	}
	var missing, extra []string
	for ep := range served {
		if _, ok := documented[ep]; !ok {
			missing = append(missing, ep)
		}
	}
	for ep := range documented {
		if !served[ep] {
			extra = append(extra, ep)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in docs/api.md: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in docs/api.md but not served: %v", extra)
	}
	types := map[string]func() any{
		"GET /api":                      func() any { return new(seat.APIInfo) },
		"GET /api/serverinfo":           func() any { return new(seat.ServerInfo) },
		"GET /api/licences":             func() any { return new(seat.Licences) },
		"POST /api/licences":            func() any { return new(seat.Licence) },
		"GET /api/licences/{KeyNo}":     func() any { return new(seat.Licence) },
		"DELETE /api/licences/{KeyNo}":  func() any { return new(seat.Licence) },
		"POST /api/revocations":         func() any { return new(seat.RevocationsResult) },
		"GET /api/connections":          func() any { return new(seat.Connections) },
		"GET /api/connections/{ID}":     func() any { return new(seat.Connection) },
		"GET /api/sessions":             func() any { return new(seat.Sessions) },
		"POST /api/sessions":            func() any { return new(seat.Session) },
		"GET /api/sessions/{ID}":        func() any { return new(seat.Session) },
		"POST /api/sessions/{ID}/renew": func() any { return new(seat.Session) },
		"DELETE /api/sessions/{ID}":     func() any { return new(seat.Release) },
	}
	for k, v := range deviceDocTypes {
		types[k] = v
	}
	for _, d := range docs {
		if d.status == "" {
			t.Errorf("docs/api.md %s: no \"Response `NNN`\" line", d.endpoint)
			continue
		}
		if d.endpoint == "GET "+seat.PathHealth {
			continue
		}
		mk, ok := types[d.endpoint]
		if !ok {
			t.Errorf("%s: no Go type to check its example against; add it to TestAPIDocs", d.endpoint)
			continue
		}
		if d.example == "" {
			t.Errorf("docs/api.md %s: no ```json example after its Response line", d.endpoint)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(d.example)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(mk()); err != nil {
			t.Errorf("docs/api.md %s: example does not decode into the wire type: %v", d.endpoint, err)
		}
	}
}

// TestAPIDocsMatchServer: the GET /api answer lists the documented paths.
func TestAPIDocsMatchServer(t *testing.T) {
	e := newEnv(t)
	var info seat.APIInfo
	e.do("GET", "/api", "", nil).decode(t, &info)
	for _, d := range readAPIDocs(t) {
		path := strings.SplitN(d.endpoint, " ", 2)[1]
		if path == seat.PathAPI || path == seat.PathHealth {
			continue
		}
		found := false
		for _, u := range info.Urns {
			found = found || u == path
		}
		if !found {
			t.Errorf("GET /api does not list %s", path)
		}
	}
}
