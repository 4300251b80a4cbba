package seatserver

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/users"
)

// TestLoginLimitIPLists (issue 11 item 3): ten wrong passwords in a minute, then
// 429 with Retry-After even for the right password until the window ends;
// a whitelisted address is never limited.
func TestLoginLimitIPLists(t *testing.T) {
	dir := t.TempDir()
	us := users.NewMemory()
	if err := users.Add(us, "boss", users.Admin, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Users = us; c.Extras.IPListDir = dir })
	for i := range loginlimit.DefaultLimit {
		if r := e.do("GET", "/api/licences", "boss:wrong password "+string(rune('a'+i)), nil); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	r := e.do("GET", "/api/licences", "boss:correct horse battery", nil)
	if r.status != 429 || r.header.Get("Retry-After") != "60" {
		t.Fatalf("11th (right password): %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.clock.Add(time.Minute)
	if r := e.do("GET", "/api/licences", "boss:correct horse battery", nil); r.status != 200 {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
	// Whitelisted: never limited.
	if err := os.WriteFile(filepath.Join(dir, "whitelist.dat"), []byte("# office\n127.0.0.0/8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(listReload + 10*time.Millisecond)
	for i := range 2 * loginlimit.DefaultLimit {
		if r := e.do("GET", "/api/licences", "boss:wrong again", nil); r.status != 401 {
			t.Fatalf("whitelisted failure %d: %d", i+1, r.status)
		}
	}
	if r := e.do("GET", "/api/licences", "boss:correct horse battery", nil); r.status != 200 {
		t.Fatalf("whitelisted address limited: %d", r.status)
	}
}

// TestIPLists: the blacklist refuses (403) and the whitelist wins; a change
// is picked up without a restart; a malformed file keeps the previous lists
// and the log names the line.
func TestIPLists(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	e := newEnv(t, func(c *Config) {
		c.Extras.IPListDir = dir
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	get := func(local string) int {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		cl := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		res, err := cl.Get(e.base + "/api")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(listReload + 10*time.Millisecond)
	}
	if get("127.0.0.2") != 200 {
		t.Fatal("no lists: refused")
	}
	write("blacklist.dat", "127.0.0.2-127.0.0.9\n")
	if get("127.0.0.2") != 403 || get("127.0.0.1") != 200 {
		t.Fatal("blacklist not applied")
	}
	e.do("GET", "/api", "", nil) // still signed for others
	write("whitelist.dat", "127.0.0.2\n")
	if get("127.0.0.2") != 200 || get("127.0.0.3") != 403 {
		t.Fatal("whitelist does not win")
	}
	write("whitelist.dat", "127.0.0.2\n127.0.0.300\n")
	if get("127.0.0.2") != 200 || get("127.0.0.3") != 403 {
		t.Fatal("a malformed whitelist changed the lists in force")
	}
	if err := e.srv.IPListError(); err == nil || !strings.Contains(err.Error(), "2") {
		t.Fatalf("reload error %v does not name the line", err)
	}
	if !strings.Contains(logs.String(), "whitelist.dat") {
		t.Fatalf("log does not name the file: %s", logs.String())
	}
}
