package seatserver

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/users"
)

// TestAdminEndpointsByRole (issue 11 item 2): every endpoint that needs
// the admin role refuses the device, viewer and integration roles (403)
// and lets an admin through (not 401/403); every endpoint readers may use
// refuses device and integration.
func TestAdminEndpointsByRole(t *testing.T) {
	us := users.NewMemory()
	for _, u := range []struct {
		name string
		role users.Role
	}{{"tsd", users.Device}, {"watcher", users.Viewer}} {
		if err := users.Add(us, u.name, u.role, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, func(c *Config) { c.Users = us })
	// admin and integration by API token (cheaper than argon2id), device
	// and viewer as users.
	cred := map[string]string{"admin": e.tokens["admin"], "integration": e.tokens["integration"],
		"device": "tsd:correct horse battery", "viewer": "watcher:correct horse battery"}
	fill := strings.NewReplacer("{KeyNo}", "NOPE", "{ID}", "NOPE0000000000000000", "{Code}", "NOPE")
	n := 0
	for _, rt := range Routes() {
		adminOnly := slices.Equal(rt.Roles, admins)
		readOnly := slices.Equal(rt.Roles, readers)
		if !adminOnly && !readOnly {
			continue
		}
		n++
		path := fill.Replace(rt.Pattern)
		for _, role := range []string{"admin", "integration", "device", "viewer"} {
			r := e.do(rt.Method, path, cred[role], "{}")
			allowed := role == "admin" || (readOnly && role == "viewer")
			switch {
			case allowed && (r.status == 401 || r.status == 403):
				t.Errorf("%s %s as %s: %d, want allowed", rt.Method, rt.Pattern, role, r.status)
			case !allowed && r.status != 403:
				t.Errorf("%s %s as %s: %d %s, want 403", rt.Method, rt.Pattern, role, r.status, r.body)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d admin or reader endpoints found", n)
	}
}

// TestNoHashLeaks: password hashes never appear in an API answer, the
// server log or the audit log.
func TestNoHashLeaks(t *testing.T) {
	us := users.NewMemory()
	if err := users.Add(us, "root", users.Admin, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.InitAdmin(us, "fresh"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	aud, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer aud.Close()
	e := newEnv(t, func(c *Config) {
		c.Users = us
		c.Audit = aud
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 2})
	e.install(arm, 201)
	e.register("TSD-1", "acme-erp")
	var out bytes.Buffer
	for _, rt := range Routes() {
		if rt.Method != "GET" || strings.Contains(rt.Pattern, "{") {
			continue
		}
		out.Write(e.do("GET", rt.Pattern, "root:correct horse battery", nil).body)
	}
	out.Write(e.do("POST", PathDevices+"/TSD-1/approve", "root:correct horse battery", nil).body)
	out.Write(e.do("GET", "/api/licences", "root:wrong password", nil).body)
	out.Write(e.do("GET", "/api/licences", "fresh:wrong password", nil).body)
	all, _ := us.List()
	auditText, _ := os.ReadFile(auditPath)
	for _, u := range all {
		hash := u.Hash[strings.LastIndex(u.Hash, "$")+1:]
		for what, text := range map[string]string{"API": out.String(), "log": logs.String(), "audit": string(auditText)} {
			if strings.Contains(text, hash) || strings.Contains(text, "$argon2id$") {
				t.Errorf("the %s output holds %s's password hash", what, u.Name)
			}
		}
	}
	if !strings.Contains(string(auditText), "approve device") {
		t.Fatalf("audit log lacks the approval: %s", auditText)
	}
}
