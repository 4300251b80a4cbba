package seatserver

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/users"
)

// browser is a minimal cookie-keeping client for the console (the
// cookies are Secure; the real-browser test covers what a browser does
// with them).
type browser struct {
	t       *testing.T
	base    string
	cookies map[string]string
	lang    string
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	for _, c := range res.Cookies() {
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			b.t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v", c.Name, c.Secure, c.HttpOnly, c.SameSite)
		}
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out), res.Header
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

func (b *browser) login(user, pw string) (int, http.Header) {
	b.t.Helper()
	_, page, _ := b.do("GET", "/console/login", nil)
	st, _, h := b.do("POST", "/console/login", url.Values{"csrf": {csrfOf(b.t, page)}, "user": {user}, "password": {pw}})
	return st, h
}

// TestConsole (issue 11 item 5): the one-time password must be changed
// first; pages render in English and Russian; a POST without the CSRF
// token is refused; a viewer sees no action and its POSTs are refused.
func TestConsole(t *testing.T) {
	us := users.NewMemory()
	pw, err := users.InitAdmin(us, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(us, "watcher", users.Viewer, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	aud, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer aud.Close()
	e := newEnv(t, func(c *Config) {
		c.Users, c.Audit = us, aud
		c.Extras.Console, c.Extras.IPListDir, c.Extras.AuditPath = true, t.TempDir(), auditPath
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 3})
	e.install(arm, 201)
	e.register("TSD-1", "acme-erp")
	e.checkout(client, "acme-erp", sid(1), "ws-1")

	b := &browser{t: t, base: e.base, cookies: map[string]string{}}
	if st, _, h := b.do("GET", "/console/", nil); st != 303 || h.Get("Location") != "/console/login" {
		t.Fatalf("not logged in: %d %s", st, h.Get("Location"))
	}
	if st, h := b.login("admin", "wrong password"); st != 401 {
		t.Fatalf("wrong password: %d %v", st, h)
	}
	st, h := b.login("admin", pw)
	if st != 303 || h.Get("Location") != "/console/password" {
		t.Fatalf("one-time login: %d %s", st, h.Get("Location"))
	}
	// Every page leads to the password change until it is done.
	if st, _, h := b.do("GET", "/console/licenses", nil); st != 303 || h.Get("Location") != "/console/password" {
		t.Fatalf("before the change: %d %s", st, h.Get("Location"))
	}
	_, page, _ := b.do("GET", "/console/password", nil)
	tok := csrfOf(t, page)
	if st, _, _ := b.do("POST", "/console/password", url.Values{"old": {pw}, "new": {"new long password"}, "again": {"new long password"}}); st != 403 {
		t.Fatalf("password change without CSRF: %d", st)
	}
	if st, _, _ := b.do("POST", "/console/password", url.Values{"csrf": {tok}, "old": {pw}, "new": {"new long password"}, "again": {"new long password"}}); st != 303 {
		t.Fatalf("password change: %d", st)
	}
	for _, p := range []string{"/console/", "/console/licenses", "/console/sessions", "/console/devices", "/console/users", "/console/iplists", "/console/audit", "/console/settings"} {
		st, body, h := b.do("GET", p, nil)
		if st != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%s: %d %s", p, st, body)
		}
		if strings.Contains(body, "$argon2id$") {
			t.Fatalf("%s shows a password hash", p)
		}
	}
	_, body, _ := b.do("GET", "/console/devices", nil)
	if !strings.Contains(body, "TSD-1") || !strings.Contains(body, `value="approve"`) {
		t.Fatalf("devices page: %s", body)
	}
	tok = csrfOf(t, body)
	if st, _, _ := b.do("POST", "/console/devices", url.Values{"code": {"TSD-1"}, "action": {"approve"}}); st != 403 {
		t.Fatalf("approve without CSRF: %d", st)
	}
	if st, _, _ := b.do("POST", "/console/devices", url.Values{"csrf": {flipFirst(tok)}, "code": {"TSD-1"}, "action": {"approve"}}); st != 403 {
		t.Fatalf("approve with a wrong CSRF token: %d", st)
	}
	if d, _ := e.srv.Devices().Get("TSD-1"); d.State != "pending" {
		t.Fatalf("refused POST changed the device: %s", d.State)
	}
	if st, _, _ := b.do("POST", "/console/devices", url.Values{"csrf": {tok}, "code": {"TSD-1"}, "action": {"approve"}}); st != 303 {
		t.Fatalf("approve: %d", st)
	}
	if d, _ := e.srv.Devices().Get("TSD-1"); d.State != "approved" {
		t.Fatalf("device after approval: %s", d.State)
	}
	// IP lists: a malformed line is refused (named) and nothing is written;
	// a valid list is saved and applied.
	ipDir := e.cfg.Extras.IPListDir
	_, body, _ = b.do("GET", "/console/iplists", nil)
	tok = csrfOf(t, body)
	if st, body, _ := b.do("POST", "/console/iplists", url.Values{"csrf": {tok}, "list": {"blacklist"}, "text": {"10.0.0.1\n10.0.0.999\n"}}); st != 400 || !strings.Contains(body, "blacklist.dat:2") {
		t.Fatalf("malformed list: %d %s", st, body)
	}
	if _, err := os.Stat(filepath.Join(ipDir, "blacklist.dat")); !os.IsNotExist(err) {
		t.Fatalf("a refused list was written: %v", err)
	}
	if st, _, _ := b.do("POST", "/console/iplists", url.Values{"csrf": {tok}, "list": {"blacklist"}, "text": {"# lab\n10.9.0.0/16\n"}}); st != 303 {
		t.Fatalf("valid list: %d", st)
	}
	if got, _ := os.ReadFile(filepath.Join(ipDir, "blacklist.dat")); string(got) != "# lab\n10.9.0.0/16\n" {
		t.Fatalf("blacklist.dat = %q", got)
	}
	_, body, _ = b.do("GET", "/console/audit", nil)
	if !strings.Contains(body, "approve device") || !strings.Contains(body, "user passwd") {
		t.Fatalf("audit page: %s", body)
	}

	// A viewer, in Russian: every page, no action.
	v := &browser{t: t, base: e.base, cookies: map[string]string{}, lang: "ru-RU,ru;q=0.9,en;q=0.8"}
	if st, _ := v.login("watcher", "correct horse battery"); st != 303 {
		t.Fatalf("viewer login: %d", st)
	}
	for _, p := range []string{"/console/", "/console/licenses", "/console/sessions", "/console/devices", "/console/users", "/console/iplists", "/console/audit", "/console/settings"} {
		st, body, _ := v.do("GET", p, nil)
		if st != 200 || !strings.Contains(body, `lang="ru"`) || !strings.Contains(body, "Устройства") {
			t.Fatalf("viewer %s: %d", p, st)
		}
		if n := strings.Count(body, "<button"); n != 1 { // log out only
			t.Errorf("viewer %s: %d buttons", p, n)
		}
		if strings.Contains(body, "<textarea") || strings.Contains(body, `type="file"`) {
			t.Errorf("viewer %s: an edit form", p)
		}
	}
	_, body, _ = v.do("GET", "/console/sessions", nil)
	if st, _, _ := v.do("POST", "/console/sessions", url.Values{"csrf": {csrfOf(t, body)}, "id": {"x"}}); st != 403 {
		t.Fatalf("viewer POST: %d", st)
	}
	// Logging out ends the session.
	if st, _, _ := v.do("POST", "/console/logout", url.Values{"csrf": {csrfOf(t, body)}}); st != 303 {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := v.do("GET", "/console/", nil); st != 303 {
		t.Fatalf("after logout: %d", st)
	}
}

// flipFirst changes the first character of a token.
func flipFirst(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}
