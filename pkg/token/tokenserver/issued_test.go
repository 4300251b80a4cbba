package tokenserver

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/token"
	"github.com/airseal/airseal/pkg/token/tokendir"
)

// TestServerRecordsIssued: every token the endpoint hands out is in
// issued.jsonl before the response, with the grant it came from.
func TestServerRecordsIssued(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	r0 := testRequest()
	r0.ClientID, r0.Now = ts.id, ts.now
	grant, gc := mustMint(t, ts.signer, r0)

	var sent []string
	for _, v := range []url.Values{
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"refresh_token"}, "refresh_token": {grant}},
	} {
		r := ts.do(ts.form("/token", v, true))
		if r.status != 200 {
			t.Fatalf("%v: %d %s", v, r.status, r.raw)
		}
		c, err := ts.verifier().Verify(r.body["access_token"].(string), ts.now)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, c.ID)
	}
	// A refused request records nothing.
	wantError(t, ts.do(ts.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}}, true)), 400, "invalid_grant")

	recs, torn, err := ts.dir.Issued()
	if err != nil || torn || len(recs) != 2 {
		t.Fatalf("issued ledger: %+v torn=%v err=%v", recs, torn, err)
	}
	for i, rec := range recs {
		if rec.JTI != sent[i] || rec.ClientID != ts.id || rec.KeyID != ts.signer.KeyID() || rec.ExpiresAt-rec.IssuedAt != 3600 {
			t.Errorf("record %d = %+v, want jti %s", i, rec, sent[i])
		}
	}
	if recs[0].Grant != "" || recs[1].Grant != gc.ID || recs[1].Subject != "1" {
		t.Errorf("grant not recorded: %+v", recs)
	}
	// The minted-token ledger is a separate file, untouched by the endpoint.
	if minted, _, _ := ts.dir.Ledger(); len(minted) != 0 {
		t.Errorf("endpoint wrote %d records to %s", len(minted), tokendir.LedgerFile)
	}
	if st, _ := os.Stat(filepath.Join(ts.dir.Path, tokendir.IssuedFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v", tokendir.IssuedFile, st.Mode())
	}
}

// TestServerUnrecordedTokenNotSent: when the ledger cannot be written the
// endpoint answers 503 and sends no token; when it cannot be opened the
// server does not start.
func TestServerUnrecordedTokenNotSent(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	// A directory where the ledger was: it cannot be written, as on a
	// full or failing disk.
	path := ts.srv.issued.Path()
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true))
	// No temporarily_unavailable at the token endpoint (issue 8 item 20):
	// a storage failure is the server's, 500 server_error.
	wantError(t, r, 500, "server_error")
	if _, ok := r.body["access_token"]; ok {
		t.Fatal("a token was sent although it was not recorded")
	}
	// A write error is not sticky: once writes work again, so does the endpoint.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 {
		t.Fatalf("after the disk recovered: %d %s", r.status, r.raw)
	}

	d := newTestDir(t)
	if err := os.Mkdir(filepath.Join(d.Path, tokendir.IssuedFile), 0o700); err != nil {
		t.Fatal(err)
	}
	s, _ := d.Signer(testPass)
	if srv, err := NewServer(d, s, ServerOptions{}); err == nil {
		srv.Close()
		t.Fatal("server started without a writable issued.jsonl")
	}
}

func TestNewServerAccessTTL(t *testing.T) {
	d := newTestDir(t)
	s, err := d.Signer(testPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{-time.Hour, time.Millisecond, token.MaxTTL + time.Second} {
		if srv, err := NewServer(d, s, ServerOptions{AccessTTL: ttl}); err == nil {
			srv.Close()
			t.Errorf("access TTL %s accepted", ttl)
		}
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"::ffff:192.0.2.7":         "192.0.2.7",
		"2001:db8:1:2:aaaa::1":     "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::99":    "2001:db8:1:2::/64",
		"fe80::1%eth0":             "fe80::/64",
		"not an address":           "not an address",
		"2001:db8:1:3:aaaa::1":     "2001:db8:1:3::/64",
		"::1":                      "::/64",
		"2001:db8::ffff:192.0.2.7": "2001:db8::/64",
	} {
		if got := limitKey(in); got != want {
			t.Errorf("limitKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBitrixPathExact: only /oauth/token/ itself is the Bitrix24 path.
func TestBitrixPathExact(t *testing.T) {
	ts := newTestServer(t, ServerOptions{Bitrix: true})
	wantError(t, ts.do(ts.form("/oauth/token/extra", url.Values{"grant_type": {"client_credentials"}}, true)), 404, "invalid_request")
	if r := ts.do(ts.form("/oauth/token/", url.Values{"grant_type": {"client_credentials"}}, true)); r.status != 200 || r.body["status"] != "L" {
		t.Fatalf("/oauth/token/: %d %s", r.status, r.raw)
	}
}

// TestServerRotatesIssued (issue 8 item 11): the endpoint's issued.jsonl is
// rotated at IssuedMaxSize, IssuedKeep rotated files are kept, and
// Dir.Issued reads the kept records oldest first.
func TestServerRotatesIssued(t *testing.T) {
	ts := newTestServer(t, ServerOptions{IssuedMaxSize: 2000, IssuedKeep: 2})
	var sent []string
	for range 30 {
		r := ts.do(ts.form("/token", url.Values{"grant_type": {"client_credentials"}}, true))
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		c, err := ts.verifier().Verify(r.body["access_token"].(string), ts.now)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, c.ID)
	}
	base := filepath.Join(ts.dir.Path, tokendir.IssuedFile)
	for _, p := range []string{base, base + ".1", base + ".2"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() > 2000+300 {
			t.Fatalf("%s: %v (%d bytes)", p, err, st.Size())
		}
	}
	if _, err := os.Stat(base + ".3"); !os.IsNotExist(err) {
		t.Fatalf("%s.3 kept beyond IssuedKeep", base)
	}
	recs, torn, err := ts.dir.Issued()
	if err != nil || torn || len(recs) == 0 || len(recs) >= len(sent) {
		t.Fatalf("%d records kept of %d, torn %v, %v", len(recs), len(sent), torn, err)
	}
	// The kept records are the newest, in order.
	off := len(sent) - len(recs)
	for i, r := range recs {
		if r.JTI != sent[off+i] {
			t.Fatalf("record %d is %s, want %s", i, r.JTI, sent[off+i])
		}
	}
}
