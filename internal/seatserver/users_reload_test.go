package seatserver

import (
	"net/netip"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/users"
)

// within retries f until it is true or about three seconds passed (a
// users file is looked at once a second).
func within(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUserChangesWithoutRestart (issue 11): `license-server user add|
// passwd|remove` write users.json while the server runs (here: a second
// users.File on the same path, as the CLI opens it). Within a second or
// two, over HTTP: an added user's Basic auth works; a new password
// invalidates the old one and the user's console sessions; a removed
// user's Basic auth and console sessions stop working.
func TestUserChangesWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	srvUsers, err := users.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(srvUsers, "boss", users.Admin, "boss long password"); err != nil {
		t.Fatal(err)
	}
	aud, err := audit.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer aud.Close()
	e := newEnv(t, func(c *Config) {
		c.Users, c.Audit = srvUsers, aud
		c.Extras.Console, c.Extras.AuditPath = true, filepath.Join(dir, "audit.log")
		// The test polls until a change is seen, and every poll before it
		// is a failed login: exempt loopback from the login limit, which
		// has its own tests, or the 11th poll is answered 429.
		c.Exempt = func(netip.Addr) bool { return true }
	})
	cli := func() *users.File { // what each `license-server user` run opens
		f, err := users.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	basic := func(cred string) int { return e.do("GET", "/api/licences", cred, nil).status }

	if st := basic("petrova:first long password"); st != 401 {
		t.Fatalf("unknown user: %d", st)
	}
	if err := users.Add(cli(), "petrova", users.Admin, "first long password"); err != nil {
		t.Fatal(err)
	}
	within(t, "added user's Basic auth", func() bool { return basic("petrova:first long password") == 200 })

	b := &browser{t: t, base: e.base, cookies: map[string]string{}}
	if st, h := b.login("petrova", "first long password"); st != 303 || h.Get("Location") != "/console/" {
		t.Fatalf("console login: %d %s", st, h.Get("Location"))
	}
	if st, _, _ := b.do("GET", "/console/users", nil); st != 200 {
		t.Fatalf("console page: %d", st)
	}

	// passwd: the old password and the console session end.
	if err := users.Passwd(cli(), "petrova", "second long password"); err != nil {
		t.Fatal(err)
	}
	within(t, "old password refused", func() bool { return basic("petrova:first long password") == 401 })
	if st := basic("petrova:second long password"); st != 200 {
		t.Fatalf("new password: %d", st)
	}
	if st, _, h := b.do("GET", "/console/users", nil); st != 303 || h.Get("Location") != "/console/login" {
		t.Fatalf("console session after passwd: %d %s", st, h.Get("Location"))
	}
	if st, _ := b.login("petrova", "first long password"); st != 401 {
		t.Fatalf("console login with the old password: %d", st)
	}
	if st, _ := b.login("petrova", "second long password"); st != 303 {
		t.Fatalf("console login with the new password: %d", st)
	}
	_, page, _ := b.do("GET", "/console/users", nil)
	tok := csrfOf(t, page)

	// remove: Basic auth and the console session end.
	if err := users.Remove(cli(), "petrova"); err != nil {
		t.Fatal(err)
	}
	within(t, "removed user's Basic auth", func() bool { return basic("petrova:second long password") == 401 })
	if st, _, _ := b.do("POST", "/console/users", url.Values{"csrf": {tok}, "action": {"add"}, "name": {"intruder"}, "role": {"admin"}}); st != 403 {
		t.Fatalf("removed user's console POST: %d", st)
	}
	if _, err := srvUsers.Get("intruder"); err == nil {
		t.Fatal("a removed user's console session added a user")
	}
	if st, _, _ := b.do("GET", "/console/", nil); st != 303 {
		t.Fatalf("removed user's console page: %d", st)
	}
	if st := basic("boss:boss long password"); st != 200 {
		t.Fatalf("other user: %d", st)
	}
}

// TestPasswordChecksBusy (issue 11 "Speed"): over the login budget a
// password login is answered 503 with Retry-After at once, while token
// requests go on; a right password checked before is remembered.
func TestPasswordChecksBusy(t *testing.T) {
	us := users.NewMemory()
	if err := users.Add(us, "erp", users.Integration, "erp long password"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Users = us
		c.LoginGate = users.NewGate(users.GateOptions{Share: 0.001, Burst: time.Millisecond, Concurrency: 1})
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 3})
	e.install(arm, 201)
	if r := e.do("GET", "/api/serverinfo", "erp:erp long password", nil); r.status != 200 {
		t.Fatalf("first login: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/api/serverinfo", "erp:wrong long password", nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := e.do("GET", "/api/serverinfo", "erp:erp long password", nil); r.status != 200 {
		t.Fatalf("remembered login: %d %s", r.status, r.body)
	}
	if r := e.checkout(client, "acme-erp", sid(1), "ws-1"); r.status != 201 {
		t.Fatalf("token checkout while logins are busy: %d %s", r.status, r.body)
	}
}
