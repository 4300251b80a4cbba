package tokenserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/token"
	"github.com/airseal/airseal/pkg/token/tokendir"
)

type testServer struct {
	t      *testing.T
	dir    *tokendir.Dir
	signer *token.Signer
	srv    *Server
	http   *httptest.Server
	id     string
	secret string
	now    time.Time
}

func newTestServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	d := newTestDir(t)
	ts := &testServer{t: t, dir: d, now: time.Now().Truncate(time.Second)}
	c, secret, err := d.AddClient("local.itgrix.1", testAud, "crm telephony")
	if err != nil {
		t.Fatal(err)
	}
	ts.id, ts.secret = c.ID, secret
	if ts.signer, err = d.Signer(testPass); err != nil {
		t.Fatal(err)
	}
	opts.Now = func() time.Time { return ts.now }
	if ts.srv, err = NewServer(d, ts.signer, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.srv.Close() })
	ts.http = httptest.NewServer(ts.srv.Handler())
	t.Cleanup(ts.http.Close)
	return ts
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (ts *testServer) do(req *http.Request) resp {
	ts.t.Helper()
	return doWith(ts.t, http.DefaultClient, req)
}

func doWith(t *testing.T, c *http.Client, req *http.Request) resp {
	t.Helper()
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header, raw: string(b)}
	json.Unmarshal(b, &out.body)
	return out
}

func (ts *testServer) form(path string, v url.Values, basic bool) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(ts.id), url.QueryEscape(ts.secret))
	}
	return req
}

func (ts *testServer) verifier() *token.Verifier {
	ring, st, _ := ts.dir.Keyring()
	l, _ := ts.dir.Revocations(ring, st.Issuer)
	return &token.Verifier{Keys: ring, Issuer: st.Issuer, Revocations: l}
}

func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Fatalf("got %d %s, want %d error %q", r.status, r.raw, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	if strings.Contains(r.raw, "goroutine") || strings.Contains(r.raw, ".go:") {
		t.Errorf("error body leaks internals: %s", r.raw)
	}
	for _, c := range []byte(fmt.Sprint(r.body["error_description"])) {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description %q has %q, outside RFC 6749 section 5.2", r.body["error_description"], c)
		}
	}
}

func TestServerClientCredentials(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	for _, basic := range []bool{true, false} {
		v := url.Values{"grant_type": {"client_credentials"}}
		if !basic {
			v.Set("client_id", ts.id)
			v.Set("client_secret", ts.secret)
		}
		r := ts.do(ts.form("/token", v, basic))
		if r.status != 200 || r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3600) || r.body["scope"] != "crm telephony" {
			t.Fatalf("basic=%v: %d %s", basic, r.status, r.raw)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("token response headers %v", r.header)
		}
		v2 := ts.verifier()
		v2.Audience = testAud
		c, err := v2.Verify(r.body["access_token"].(string), ts.now)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != ts.id || c.ClientID != ts.id || c.ExpiresAt-c.IssuedAt != 3600 {
			t.Errorf("claims %+v", c)
		}
	}
	r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"crm"}}, true))
	if r.status != 200 || r.body["scope"] != "crm" {
		t.Fatalf("narrower scope: %d %s", r.status, r.raw)
	}
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"crm admin"}}, true)), 400, "invalid_scope")
	// An access token from client_credentials is not a refresh grant (issue 8 item 9).
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.body["access_token"].(string)}}, true)), 400, "invalid_grant")
}

func TestServerRefreshGrant(t *testing.T) {
	ts := newTestServer(t, ServerOptions{Bitrix: true})
	r0 := testRequest()
	r0.ClientID, r0.Now, r0.MemberID = ts.id, ts.now, "member-1"
	grant, gc := mustMint(t, ts.signer, r0)

	r := ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant}}, true))
	if r.status != 200 || r.body["refresh_token"] != grant {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	short := r.body["access_token"].(string)
	v := ts.verifier()
	c, err := v.Verify(short, ts.now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Grant != gc.ID || c.Subject != "1" || c.Audience[0] != testAud || c.ExpiresAt-c.IssuedAt != 3600 || c.Scope != gc.Scope {
		t.Errorf("short-lived claims %+v", c)
	}
	// A short-lived token cannot be exchanged in turn.
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {short}}, true)), 400, "invalid_grant")
	// A grant of another client cannot be used.
	r1 := testRequest()
	r1.ClientID, r1.Now = "someone.else", ts.now
	foreign, _ := mustMint(t, ts.signer, r1)
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {foreign}}, true)), 400, "invalid_grant")
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}}, true)), 400, "invalid_grant")
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant}, "scope": {"admin"}}, true)), 400, "invalid_scope")
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}}, true)), 400, "invalid_request")

	// Bitrix24 mode: GET with query parameters, Bitrix24-shaped answer.
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {ts.id}, "client_secret": {ts.secret}, "refresh_token": {grant}}
	req, _ := http.NewRequest(http.MethodGet, ts.http.URL+"/oauth/token/?"+q.Encode(), nil)
	r = ts.do(req)
	if r.status != 200 {
		t.Fatalf("bitrix: %d %s", r.status, r.raw)
	}
	for k, want := range map[string]any{"status": "L", "member_id": "member-1", "domain": strings.TrimPrefix(ts.http.URL, "http://"), "client_endpoint": testAud,
		"user_id": float64(1), "scope": "telephony,crm,user", "expires_in": float64(3600), "refresh_token": grant,
		"server_endpoint": ts.http.URL + "/rest/"} {
		if r.body[k] != want {
			t.Errorf("bitrix %s = %v, want %v", k, r.body[k], want)
		}
	}
	if _, ok := r.body["token_type"]; ok {
		t.Error("bitrix response has token_type")
	}
	// Without the trailing slash: answered directly, no redirect (issue 8 item 20).
	req, _ = http.NewRequest(http.MethodGet, ts.http.URL+"/oauth/token?"+q.Encode(), nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r = doWith(t, noRedirect, req); r.status != 200 || r.body["member_id"] != "member-1" {
		t.Fatalf("bitrix without slash: %d %s", r.status, r.raw)
	}
	// GET is refused on the standard path.
	req, _ = http.NewRequest(http.MethodGet, ts.http.URL+"/token?"+q.Encode(), nil)
	r = ts.do(req)
	wantError(t, r, 405, "invalid_request")

	// Revoking the grant revokes the tokens exchanged from it.
	if _, err := ts.dir.Revoke(ts.signer, []string{gc.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant}}, true)), 400, "invalid_grant")
	r = ts.do(ts.form("/introspect", url.Values{"token": {short}}, true))
	if r.status != 200 || r.body["active"] != false {
		t.Fatalf("token from a revoked grant: %s", r.raw)
	}
}

func TestServerIntrospectRevoke(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true))
	tok := r.body["access_token"].(string)

	r = ts.do(ts.form("/introspect", url.Values{"token": {tok}}, true))
	if r.status != 200 || r.body["active"] != true || r.body["client_id"] != ts.id || r.body["aud"] != testAud || r.body["token_type"] != "Bearer" {
		t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	r = ts.do(ts.form("/introspect", url.Values{"token": {"garbage"}}, true))
	if r.status != 200 || r.raw != "{\"active\":false}\n" {
		t.Fatalf("introspect garbage: %d %q", r.status, r.raw)
	}
	wantError(t, ts.do(ts.form("/introspect", url.Values{"token": {tok}}, false)), 401, "invalid_client")
	wantError(t, ts.do(ts.form("/introspect", url.Values{}, true)), 400, "invalid_request")

	// Another client's token cannot be revoked by this client.
	r1 := testRequest()
	r1.ClientID, r1.Now = "someone.else", ts.now
	foreign, _ := mustMint(t, ts.signer, r1)
	wantError(t, ts.do(ts.form("/revoke", url.Values{"token": {foreign}}, true)), 400, "unauthorized_client")
	// Unknown tokens: 200 (RFC 7009 §2.2).
	if r = ts.do(ts.form("/revoke", url.Values{"token": {"garbage"}}, true)); r.status != 200 {
		t.Fatalf("revoke garbage: %d %s", r.status, r.raw)
	}
	if r = ts.do(ts.form("/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, true)); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	r = ts.do(ts.form("/introspect", url.Values{"token": {tok}}, true))
	if r.body["active"] != false {
		t.Fatalf("revoked token still active: %s", r.raw)
	}
	// The revocation is in the signed list on disk, for offline verifiers.
	ring, st, _ := ts.dir.Keyring()
	l, err := ts.dir.Revocations(ring, st.Issuer)
	if err != nil || l.Seq != 1 {
		t.Fatalf("list on disk: %+v %v", l, err)
	}
	c, _ := ts.verifier().Verify(tok, ts.now) // nil when revoked
	if c != nil {
		t.Fatal("offline verifier accepts the revoked token")
	}
	// Revoking again changes nothing and still answers 200.
	if r = ts.do(ts.form("/revoke", url.Values{"token": {tok}}, true)); r.status != 200 {
		t.Fatal(r.raw)
	}
	// When the list cannot be written, the endpoint says so (503), never 200.
	r = ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true))
	tok2 := r.body["access_token"].(string)
	rl := filepath.Join(ts.dir.Path, tokendir.RevocationsFile)
	os.Remove(rl)
	os.Mkdir(rl, 0o700) // works as root too, unlike a read-only directory
	// RFC 7009 section 2.2.1: 503 and Retry-After; the code is server_error,
	// never temporarily_unavailable (issue 8 item 20).
	r = ts.do(ts.form("/revoke", url.Values{"token": {tok2}}, true))
	wantError(t, r, 503, "server_error")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestServerOlderRevocationListRefused(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	if _, err := ts.dir.Revoke(ts.signer, []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(ts.dir.Path, tokendir.RevocationsFile))
	if _, err := ts.dir.Revoke(ts.signer, []string{"b"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ts.dir.Path, tokendir.RevocationsFile), old, 0o644)
	os.Remove(filepath.Join(ts.dir.Path, tokendir.SeenFile)) // even without the state file
	if err := ts.srv.Reload(); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("reload of an older list: %v", err)
	}
	if !ts.srv.revs.Load().HasJTI("b") {
		t.Fatal("server dropped the newer list")
	}
}

func TestServerJWKSMetadata(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	r := ts.do(mustReq(t, http.MethodGet, ts.http.URL+"/.well-known/jwks.json"))
	if r.status != 200 {
		t.Fatal(r.raw)
	}
	ring, err := token.ParseJWKS([]byte(r.raw))
	if err != nil || ring.Len() != 1 {
		t.Fatalf("JWKS: %v", err)
	}
	if _, ok := ring.Get(ts.signer.KeyID()); !ok {
		t.Fatal("JWKS lacks the signing key")
	}
	r = ts.do(mustReq(t, http.MethodGet, ts.http.URL+"/.well-known/oauth-authorization-server"))
	if r.status != 200 {
		t.Fatal(r.raw)
	}
	for k, want := range map[string]string{"issuer": testIssuer, "token_endpoint": ts.http.URL + "/token",
		"jwks_uri": ts.http.URL + "/.well-known/jwks.json", "introspection_endpoint": ts.http.URL + "/introspect",
		"revocation_endpoint": ts.http.URL + "/revoke"} {
		if r.body[k] != want {
			t.Errorf("metadata %s = %v, want %s", k, r.body[k], want)
		}
	}
	if g, _ := json.Marshal(r.body["grant_types_supported"]); string(g) != `["client_credentials","refresh_token"]` {
		t.Errorf("grant_types_supported %s", g)
	}
	// RFC 8414 section 2: response_types_supported is required and must
	// not be empty; scopes_supported lists the clients' scopes (issue 8
	// item 20).
	if g, _ := json.Marshal(r.body["response_types_supported"]); string(g) != `["none"]` {
		t.Errorf("response_types_supported %s, want [\"none\"]", g)
	}
	if g, _ := json.Marshal(r.body["scopes_supported"]); string(g) != `["crm","telephony"]` {
		t.Errorf("scopes_supported %s, want the registered client's scopes", g)
	}
	wantError(t, ts.do(ts.form("/.well-known/jwks.json", url.Values{}, false)), 405, "invalid_request")
	wantError(t, ts.do(mustReq(t, http.MethodGet, ts.http.URL+"/nothing")), 404, "invalid_request")
	wantError(t, ts.do(mustReq(t, http.MethodGet, ts.http.URL+"/caf%C3%A9%22%5C")), 404, "invalid_request")
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"x\"\\\u00e9"}}, true)), 400, "unsupported_grant_type")
}

func mustReq(t *testing.T, method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestServerMalformedRequests(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	post := func(ct, body string) resp {
		req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/token", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth(ts.id, ts.secret)
		return ts.do(req)
	}
	wantError(t, post("application/json", `{"grant_type":`), 400, "invalid_request")
	wantError(t, post("application/json", `{"grant_type":1}`), 400, "invalid_request")
	wantError(t, post("application/json", `[]`), 400, "invalid_request")
	wantError(t, post("application/json", `{"grant_type":"client_credentials","grant_type":"refresh_token"}`), 400, "invalid_request")
	wantError(t, post("application/json", `{"grant_type":"client_credentials"} {}`), 400, "invalid_request")
	wantError(t, post("application/json", `{"grant_type":{"a":"b"}}`), 400, "invalid_request")
	wantError(t, post("text/plain", "grant_type=client_credentials"), 400, "invalid_request")
	wantError(t, post("", "grant_type=client_credentials"), 400, "invalid_request")
	wantError(t, post("application/x-www-form-urlencoded", "grant_type=%zz"), 400, "invalid_request")
	wantError(t, post("application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=refresh_token"), 400, "invalid_request")
	wantError(t, post("application/x-www-form-urlencoded", "scope=crm"), 400, "invalid_request")
	wantError(t, post("application/x-www-form-urlencoded", "grant_type=password"), 400, "unsupported_grant_type")
	wantError(t, post("application/x-www-form-urlencoded", "grant_type=client_credentials&x="+strings.Repeat("a", MaxRequestBody)), 413, "invalid_request")
	// A huge body without Content-Length (chunked) is cut off too.
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/token", io.MultiReader(strings.NewReader("grant_type=client_credentials&x="), strings.NewReader(strings.Repeat("a", 1<<20))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	req.SetBasicAuth(ts.id, ts.secret)
	wantError(t, ts.do(req), 413, "invalid_request")
	// JSON bodies are accepted when well formed.
	if r := post("application/json", `{"grant_type":"client_credentials"}`); r.status != 200 {
		t.Fatalf("JSON body: %d %s", r.status, r.raw)
	}
	// Two authentication methods at once.
	r := post("application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=x")
	wantError(t, r, 400, "invalid_request")
	// Bad Basic header.
	req, _ = http.NewRequest(http.MethodPost, ts.http.URL+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic !!!")
	r = ts.do(req)
	wantError(t, r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Error("401 without WWW-Authenticate")
	}
	wantError(t, ts.do(mustReq(t, http.MethodPut, ts.http.URL+"/introspect")), 405, "invalid_request")
}

func TestServerFailedAuthLimit(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.id}, "client_secret": {"wrong"}}
	for i := range FailLimit {
		wantError(t, ts.do(ts.form("/token", bad, false)), 401, "invalid_client")
		_ = i
	}
	// Past the limit, even good credentials get 429 from this address.
	r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true))
	// RFC 6749 section 5.2 codes only (issue 8 item 20): invalid_client,
	// with 429, Retry-After and a description saying it is a pause.
	wantError(t, r, 429, "invalid_client")
	if ra := r.header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60", ra)
	}
	if d := fmt.Sprint(r.body["error_description"]); !strings.Contains(d, "too many failed") || !strings.Contains(d, "60 s") {
		t.Errorf("error_description %q does not explain the pause", d)
	}
	// Another loopback address is not affected.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	if r := doWith(t, other, ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 {
		t.Fatalf("from 127.0.0.2: %d %s", r.status, r.raw)
	}
	// After the window the address may try again.
	ts.now = ts.now.Add(FailWindow)
	if r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 {
		t.Fatalf("after the window: %d %s", r.status, r.raw)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr          string
		tls, insecure bool
		ok            bool
	}{
		{"127.0.0.1:8089", false, false, true},
		{"[::1]:8089", false, false, true},
		{"localhost:8089", false, false, true},
		{"0.0.0.0:8089", false, false, false},
		{":8089", false, false, false},
		{"10.0.0.5:8089", false, false, false},
		{"10.0.0.5:8089", true, false, true},
		{"10.0.0.5:8089", false, true, true},
		{"nonsense", true, true, false},
	} {
		if err := CheckListen(tc.addr, tc.tls, tc.insecure); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, tls=%v, insecure=%v) = %v", tc.addr, tc.tls, tc.insecure, err)
		}
	}
}

func TestServerRunShutdown(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Run(ctx, ln, nil, 10*time.Millisecond) }()
	u := "http://" + ln.Addr().String()
	req, _ := http.NewRequest(http.MethodPost, u+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ts.id, ts.secret)
	if r := ts.do(req); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// Clients added while running are picked up by the reload.
	_, secret, _ := ts.dir.AddClient("late", testAud, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, u+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("late", secret)
		if ts.do(req).status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new client never accepted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := http.Get(u + "/.well-known/jwks.json"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// TestServerTLS serves over TLS with a certificate read by the caller.
func TestServerTLS(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(priv)
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Run(ctx, ln, &pair, 0) }()
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r := doWith(t, c, mustReq(t, http.MethodGet, "https://"+ln.Addr().String()+"/.well-known/oauth-authorization-server"))
	if r.status != 200 || !strings.HasPrefix(r.body["token_endpoint"].(string), "https://") {
		t.Fatalf("TLS metadata: %d %s", r.status, r.raw)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestServerClientAddedWhileRunning: a client added while the server runs
// authenticates on its first request, with no reload tick and no SIGHUP
// (issue 8 item 19); removing or disabling one takes effect as soon too.
func TestServerClientAddedWhileRunning(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	c, secret, err := ts.dir.AddClient("late.client", testAud, "crm")
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}
	if r := ts.do(ts.form("/token", v, false)); r.status != 200 {
		t.Fatalf("new client refused: %d %s", r.status, r.raw)
	}
	if _, err := ts.dir.SetClientDisabled(c.ID, true); err != nil {
		t.Fatal(err)
	}
	ts.now = ts.now.Add(ClientsStatInterval)
	wantError(t, ts.do(ts.form("/token", v, false)), 401, "invalid_client")
	if _, err := ts.dir.RemoveClient(ts.id); err != nil {
		t.Fatal(err)
	}
	ts.now = ts.now.Add(ClientsStatInterval)
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)), 401, "invalid_client")
}

// TestServerNotLoadedClientNotCounted: while the clients file cannot be
// read as it is (a refused edit), refusals of ids it does not hold are not
// counted toward the failed-authentication limit, so a client that retries
// quickly does not lock itself out; once the file is right it works.
// Unknown ids against a good file still count.
func TestServerNotLoadedClientNotCounted(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	path := filepath.Join(ts.dir.Path, tokendir.ClientsFile)
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(`{"version":1,"clients":[{"client_id":"x","secret_sha256":""}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := url.Values{"grant_type": {"client_credentials"}, "client_id": {"new.client"}, "client_secret": {"s"}}
	for range FailLimit + 5 {
		wantError(t, ts.do(ts.form("/token", unknown, false)), 401, "invalid_client")
	}
	// The loaded clients still work, and the address is not blocked.
	if r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 {
		t.Fatalf("after %d refusals of a not-loaded client: %d %s", FailLimit+5, r.status, r.raw)
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	for range FailLimit {
		wantError(t, ts.do(ts.form("/token", unknown, false)), 401, "invalid_client")
	}
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)), 429, "invalid_client")
}

// TestServerUnknownClientNoReread: unknown client ids make the server stat
// the clients file, not read it again, while it is unchanged.
func TestServerUnknownClientNoReread(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	before := ts.srv.clientsID
	p := ts.srv.clients.Load()
	for i := range 5 {
		ts.srv.authenticate(httptest.NewRequest("POST", "/token", nil), url.Values{"client_id": {fmt.Sprint("nobody", i)}, "client_secret": {"x"}})
	}
	if ts.srv.clients.Load() != p || ts.srv.clientsID != before {
		t.Fatal("clients re-read although the file did not change")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestServerEndlessBody: a request body that never ends (chunked, no
// Content-Length) is refused once MaxRequestBody is read, with 413 naming
// the limit, and the server does not read on (issue 13 item 1).
func TestServerEndlessBody(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/token", io.LimitReader(zeros{}, 1<<30))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	start := time.Now()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("endless body: %v after %s", err, time.Since(start))
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 413 || !strings.Contains(string(b), "16384") {
		t.Fatalf("endless body: %d %s", r.StatusCode, b)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("refused after %s", d)
	}
}

// TestServerMalformedClientNeverAuthenticates (issue 8 item 3): an entry
// with an empty or malformed secret hash is refused when the file is
// loaded (the server does not start with it; a running server keeps the
// clients it had), and it never authenticates, not with the dummy secret
// an unknown client is compared against, nor with an empty one.
func TestServerMalformedClientNeverAuthenticates(t *testing.T) {
	for _, h := range []string{"", "abcd", strings.Repeat("zz", 32), strings.Repeat("AB", 32)} {
		ts := newTestServer(t, ServerOptions{})
		bad := fmt.Sprintf("{\"version\":1,\"clients\":[\n{\"client_id\":\"x.1\",\"secret_sha256\":%q,\"created\":\"2026-01-01T00:00:00Z\"}]}\n", h)
		if err := os.WriteFile(filepath.Join(ts.dir.Path, tokendir.ClientsFile), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"airseal token: no such client", "", "x"} {
			v := url.Values{"grant_type": {"client_credentials"}, "client_id": {"x.1"}, "client_secret": {secret}}
			if r := ts.do(ts.form("/token", v, false)); r.status == 200 {
				t.Fatalf("hash %q: x.1 authenticated with secret %q", h, secret)
			}
		}
		if err := ts.srv.Reload(); !errors.Is(err, tokendir.ErrClientsFile) || !strings.Contains(err.Error(), tokendir.ClientsFile+":2:") {
			t.Fatalf("hash %q: Reload = %v, want the file and line named", h, err)
		}
		s, _ := ts.dir.Signer(testPass)
		if srv, err := NewServer(ts.dir, s, ServerOptions{}); err == nil {
			srv.Close()
			t.Fatalf("hash %q: server started with a malformed clients file", h)
		}
		// The clients loaded before still work.
		if r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 {
			t.Fatalf("hash %q: loaded client refused: %d %s", h, r.status, r.raw)
		}
	}
}

// TestServerRevocationFloorAcrossKeys (issue 8 item 4): the list that
// revokes a token is remembered at start even though nothing is verified
// yet, and a list signed by the older, still valid key with a lower
// sequence cannot undo a newer list signed by the new key: not at start
// (the server refuses to start) and not on reload (the newer list is kept
// and the token stays revoked).
func TestServerRevocationFloorAcrossKeys(t *testing.T) {
	d := newTestDir(t)
	c, secret, _ := d.AddClient("local.itgrix.1", testAud, "crm")
	oldSigner, _ := d.Signer(testPass)
	r := testRequest()
	r.ClientID = c.ID
	grant, gc := mustMint(t, oldSigner, r)
	if _, err := d.Revoke(oldSigner, []string{"unrelated"}, nil); err != nil {
		t.Fatal(err)
	}
	oldList, _ := os.ReadFile(filepath.Join(d.Path, tokendir.RevocationsFile)) // #1, old key
	if _, err := d.Rotate(testPass); err != nil {
		t.Fatal(err)
	}
	newSigner, _ := d.Signer(testPass)
	if newSigner.KeyID() == oldSigner.KeyID() {
		t.Fatal("rotate kept the key")
	}
	l, err := d.Revoke(newSigner, []string{gc.ID}, nil) // #2, new key, revokes the grant
	if err != nil || l.Seq != 2 {
		t.Fatalf("revoke with the new key: %v (#%d)", err, l.Seq)
	}
	srv, err := NewServer(d, newSigner, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	refresh := func() int {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant}, "client_id": {c.ID}, "client_secret": {secret}}
		resp, err := http.PostForm(h.URL+"/token", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := refresh(); st != 400 {
		t.Fatalf("revoked grant exchanged: %d", st)
	}
	// The old key's #1 put back (and the floor file deleted): refused on
	// reload; the server keeps #2 and the grant stays revoked.
	os.WriteFile(filepath.Join(d.Path, tokendir.RevocationsFile), oldList, 0o644)
	os.Remove(filepath.Join(d.Path, tokendir.SeenFile))
	if err := srv.Reload(); !errors.Is(err, token.ErrRevocationRollback) {
		t.Fatalf("reload of the old key's older list: %v", err)
	}
	if st := refresh(); st != 400 {
		t.Fatalf("rollback across keys un-revoked the grant: %d", st)
	}
	// The running server put the floor back to the list it holds, so a
	// server started now refuses the old list too.
	if b, _ := os.ReadFile(filepath.Join(d.Path, tokendir.SeenFile)); string(b) != "2\n" {
		t.Fatalf("floor file %q after the refused reload, want 2", b)
	}
	if s2, err := NewServer(d, newSigner, ServerOptions{}); !errors.Is(err, token.ErrRevocationRollback) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("start with the old key's older list: %v", err)
	}
}

// TestServerHundredThousandRevoked (issue 8 item 10): the endpoint starts
// with a list of 100,000 jtis and 100,000 serials, refuses a grant bound to
// a listed serial, exchanges one that is not listed, and its /revoke adds
// to the big list.
func TestServerHundredThousandRevoked(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 + 100,000 entries")
	}
	d := newTestDir(t)
	c, secret, _ := d.AddClient("local.itgrix.1", testAud, "crm")
	s, _ := d.Signer(testPass)
	jtis := make([]string, 100_000)
	serials := make([]string, 100_000)
	for i := range jtis {
		jtis[i] = fmt.Sprintf("jti%019d", i)
		serials[i] = fmt.Sprintf("%04X-%04X-7A3C-%04X", i>>16, i&0xffff, i%9973)
	}
	if _, err := d.Revoke(s, jtis, serials); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(d, s, ServerOptions{})
	if err != nil {
		t.Fatalf("server with a 100,000-entry list: %v", err)
	}
	defer srv.Close()
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	form := func(path string, v url.Values) int {
		v.Set("client_id", c.ID)
		v.Set("client_secret", secret)
		resp, err := http.PostForm(h.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	r := testRequest()
	r.ClientID, r.LicenseSerial = c.ID, serials[54_321]
	revoked, _ := mustMint(t, s, r)
	r.LicenseSerial = "FREE-0000-0000-0000"
	good, _ := mustMint(t, s, r)
	if st := form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {revoked}}); st != 400 {
		t.Fatalf("grant bound to a revoked serial: %d", st)
	}
	if st := form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {good}}); st != 200 {
		t.Fatalf("grant not revoked: %d", st)
	}
	if st := form("/revoke", url.Values{"token": {good}}); st != 200 {
		t.Fatalf("/revoke on a big list: %d", st)
	}
	if st := form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {good}}); st != 400 {
		t.Fatalf("grant revoked through /revoke still exchanged: %d", st)
	}
	if l := srv.revs.Load(); len(l.JTIs) != 100_001 || l.Seq != 2 {
		t.Fatalf("list after /revoke: #%d with %d jtis", l.Seq, len(l.JTIs))
	}
}
