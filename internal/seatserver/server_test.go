package seatserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/selfsigned"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

const (
	admin  = seat.RoleAdmin
	client = seat.RoleClient
)

func TestAPIAndHealth(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /api: %d %s", r.status, r.body)
	}
	var info seat.APIInfo
	r.decode(t, &info)
	if info.Protocol != seat.Protocol || info.Version != "test" || len(info.Urns) < 5 {
		t.Errorf("GET /api = %+v", info)
	}
	res, err := http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get(seat.HeaderSignature) != "" {
		t.Errorf("/healthz: %d, signature %q", res.StatusCode, res.Header.Get(seat.HeaderSignature))
	}
	// Outside /api: 404, JSON.
	res, err = http.Get(e.base + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("/nothing: %d", res.StatusCode)
	}
}

func TestServerInfo(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/serverinfo", client, nil)
	var info seat.ServerInfo
	r.decode(t, &info)
	if r.status != 200 || info.Mode != seat.ModeDemo || info.ResponseKey != seat.ResponseKeyID(e.pub) || info.ServerLicence != "" || info.ServerLicences == nil {
		t.Fatalf("serverinfo: %d %+v", r.status, info)
	}
	arm, _ := e.v.issue(t, e.pub, lic{})
	e.install(arm, 201)
	e.checkout(client, "acme-erp", sid(1), "ws-1")
	e.restart()
	e.do("GET", "/api/serverinfo", client, nil).decode(t, &info)
	if info.Mode != "reclaim" {
		t.Fatalf("after a restart with leases: mode %q", info.Mode)
	}
	e.clock.Add(6 * time.Minute)
	e.do("GET", "/api/serverinfo", client, nil).decode(t, &info)
	if info.Mode != seat.ModeLicensed || info.ServerLicence == "" || len(info.ServerLicences) != 1 || info.LeaseSeconds != 300 {
		t.Fatalf("serverinfo: %+v", info)
	}
	// The license shown verifies with the vendor's keys and names the key
	// the response is signed with: what a client checks.
	sl, err := license.VerifyServer([]byte(info.ServerLicence), license.VerifyOptions{Keyring: e.v.ring(), Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sl.NodeByKey(e.pub); !ok {
		t.Fatal("server license does not name the response key")
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path, who string
		want              int
	}{
		{"GET", "/api/serverinfo", "", 401},
		{"GET", "/api/serverinfo", "client1:wrong", 401},
		{"GET", "/api/serverinfo", "nobody:secret", 401},
		{"GET", "/api/serverinfo", client, 200},
		{"GET", "/api/licences", client, 403},
		{"POST", "/api/licences", client, 403},
		{"POST", "/api/licences", seat.RoleIntegration, 403},
		{"GET", "/api/sessions", client, 403},
		{"GET", "/api/connections", client, 403},
		{"POST", "/api/revocations", client, 403},
		{"DELETE", "/api/licences/X", client, 403},
		{"GET", "/api/licences", admin, 200},
		{"GET", "/api/sessions", admin, 200},
	} {
		r := e.do(c.method, c.path, c.who, nil)
		if r.status != c.want {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.who, r.status, r.body, c.want)
			continue
		}
		if c.want != 200 {
			r.apiErr(t)
		}
		if c.want == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", c.method, c.path)
		}
	}
}

// TestUsersAuth: people log in with their password (argon2id); roles map
// to API roles; a one-time password must be changed first.
func TestUsersAuth(t *testing.T) {
	us := users.NewMemory()
	if err := users.Add(us, "boss", users.Admin, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := users.Add(us, "watcher", users.Viewer, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.InitAdmin(us, "fresh"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Users = us })
	for _, c := range []struct {
		method, path, who string
		want              int
	}{
		{"GET", "/api/licences", "boss:correct horse battery", 200},
		{"GET", "/api/licences", "boss:wrong password!", 401},
		{"GET", "/api/licences", "watcher:correct horse battery", 200},
		{"POST", "/api/licences", "watcher:correct horse battery", 403},
		{"POST", "/api/sessions", "watcher:correct horse battery", 403},
		{"GET", "/api/licences", "fresh:whatever-it-is", 401},
	} {
		if r := e.do(c.method, c.path, c.who, nil); r.status != c.want {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.who, r.status, r.body, c.want)
		}
	}
}

// TestHoldersBounded: a refusal names at most seats.MaxHolders holders to
// an admin, the oldest first, and none to a client (a refusal any client
// can cause as often as it likes copies no lease).
func TestHoldersBounded(t *testing.T) {
	e := newEnv(t)
	n := seats.MaxHolders + 5
	arm, _ := e.v.issue(t, e.pub, lic{seats: n})
	e.install(arm, 201)
	for i := range n {
		if r := e.checkout(client, "acme-erp", sid(n-i), fmt.Sprint("ws-", i)); r.status != 201 {
			t.Fatalf("checkout %d: %d %s", i, r.status, r.body)
		}
		e.clock.Add(time.Second)
	}
	if ae := e.checkout(client, "acme-erp", sid(0), "ws-x").apiErr(t); ae.InUse != n || ae.Holders != nil {
		t.Fatalf("409 to a client: %d in use, %d holders", ae.InUse, len(ae.Holders))
	}
	ae := e.checkout(admin, "acme-erp", sid(0), "ws-x").apiErr(t)
	if ae.InUse != n || len(ae.Holders) != seats.MaxHolders {
		t.Fatalf("409 to an admin: %d in use, %d holders, want %d", ae.InUse, len(ae.Holders), seats.MaxHolders)
	}
	for i, h := range ae.Holders {
		if h.ComputerName != fmt.Sprint("ws-", i) {
			t.Fatalf("holder %d is %s, want ws-%d (oldest first)", i, h.ComputerName, i)
		}
	}
}

func TestCheckoutIdempotentAndFull(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 2, features: []license.Feature{{Name: "lines", Value: 1000}}})
	e.install(arm, 201)
	r := e.checkout(client, "acme-erp", sid(1), "ws-1")
	if r.status != 201 {
		t.Fatalf("checkout: %d %s", r.status, r.body)
	}
	var s1 seat.Session
	r.decode(t, &s1)
	if s1.ID == "" || s1.Mode != seat.ModeLicensed || s1.UsedLicence != serial || s1.Features["lines"] != 1000 ||
		s1.RenewEvery != 60 || !s1.Expires.Equal(e.clock.Now().Add(5*time.Minute)) || s1.SessionStarted == nil {
		t.Fatalf("lease: %+v", s1)
	}
	// The same ClientSessionID again (a retry after a blip): 200, same lease.
	r = e.checkout(client, "acme-erp", sid(1), "ws-1")
	var again seat.Session
	r.decode(t, &again)
	if r.status != 200 || again.ID != s1.ID {
		t.Fatalf("retry: %d %+v", r.status, again)
	}
	if r := e.checkout(client, "acme-erp", sid(2), "ws-2"); r.status != 201 {
		t.Fatalf("second seat: %d", r.status)
	}
	r = e.checkout(client, "acme-erp", sid(3), "ws-3")
	if r.status != 409 {
		t.Fatalf("third seat: %d %s", r.status, r.body)
	}
	ae := r.apiErr(t)
	if ae.InUse != 2 || ae.Seats != 2 || ae.Product != "acme-erp" || ae.Holders != nil || !strings.Contains(ae.Message, "2 of 2 seats of acme-erp in use") {
		t.Fatalf("409 to a client: %+v", ae)
	}
	// An admin is told who holds them.
	ae = e.checkout(admin, "acme-erp", sid(4), "ws-4").apiErr(t)
	if len(ae.Holders) != 2 || ae.Holders[0].ComputerName == ae.Holders[1].ComputerName || ae.Holders[0].UserName != "ivanov" {
		t.Fatalf("409 to an admin: %+v", ae)
	}
	if err := e.srv.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckoutBadRequests(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"empty":         ``,
		"not json":      `{"Product":`,
		"unknown field": `{"Product":"p","ClientSessionID":"0123456789abcdef","Seats":5}`,
		"short id":      `{"Product":"p","ClientSessionID":"short"}`,
		"no product":    `{"ClientSessionID":"0123456789abcdef"}`,
		"both differ":   `{"Product":"p","KeyID":"q","ClientSessionID":"0123456789abcdef"}`,
		"bad time":      `{"Product":"p","ClientSessionID":"0123456789abcdef","SessionStarted":"yesterday"}`,
		"control char":  `{"Product":"p","ClientSessionID":"0123456789abcdef","UserName":"a\u001b[31m"}`,
		"trailing":      `{"Product":"p","ClientSessionID":"0123456789abcdef"} {}`,
		"wrong type":    `{"Product":1,"ClientSessionID":"0123456789abcdef"}`,
	} {
		r := e.do("POST", "/api/sessions", client, body)
		if r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
			continue
		}
		r.apiErr(t)
	}
	// 1C's KeyID and a zone-less SessionStarted are accepted.
	r := e.do("POST", "/api/sessions", client, `{"KeyID":"672B","ClientSessionID":"0123456789ABCDEF","AppName":"MobileClient","UserName":"MobileUser","ComputerName":"Tablet","SessionStarted":"2020-01-01T12:52:20"}`)
	var s seat.Session
	r.decode(t, &s)
	if r.status != 200 || s.Mode != seat.ModeDemo || s.KeyID != "672B" || s.SessionStarted == nil || s.SessionStarted.Year() != 2020 {
		t.Fatalf("1C-shaped checkout: %d %s", r.status, r.body)
	}
}

func TestDemoMode(t *testing.T) {
	e := newEnv(t)
	r := e.checkout(client, "acme-erp", sid(1), "ws-1")
	var s seat.Session
	r.decode(t, &s)
	if r.status != 200 || s.Mode != seat.ModeDemo || s.ID != "" {
		t.Fatalf("no license: %d %s", r.status, r.body)
	}
	// With an expired license, the demo limits of the license apply.
	exp := e.clock.Now().Add(time.Hour)
	arm, _ := e.v.issue(t, e.pub, lic{expires: &exp, demo: []license.Feature{{Name: "lines", Value: 3}}})
	e.install(arm, 201)
	e.clock.Add(2 * time.Hour)
	e.checkout(client, "acme-erp", sid(2), "ws-1").decode(t, &s)
	if s.Mode != seat.ModeDemo || s.Features["lines"] != 3 {
		t.Fatalf("expired license: %+v", s)
	}
}

func TestPerComputer(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1, unit: license.PerComputer})
	e.install(arm, 201)
	for i := 1; i <= 3; i++ {
		if r := e.checkout(client, "acme-erp", sid(i), "ws-1"); r.status != 201 {
			t.Fatalf("session %d on ws-1: %d %s", i, r.status, r.body)
		}
	}
	if r := e.checkout(client, "acme-erp", sid(9), "ws-2"); r.status != 409 {
		t.Fatalf("ws-2: %d", r.status)
	}
	var cs seat.Connections
	e.do("GET", "/api/connections", admin, nil).decode(t, &cs)
	if len(cs.Connections) != 1 || cs.Connections[0].Sessions != 3 || cs.Connections[0].ComputerName != "ws-1" {
		t.Fatalf("connections: %+v", cs)
	}
	var c seat.Connection
	r := e.do("GET", "/api/connections/"+cs.Connections[0].ID, admin, nil)
	r.decode(t, &c)
	if r.status != 200 || c.ID != cs.Connections[0].ID {
		t.Fatalf("connection: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/connections/0000", admin, nil); r.status != 404 {
		t.Fatalf("unknown connection: %d", r.status)
	}
	var l seat.Licences
	e.do("GET", "/api/licences", admin, nil).decode(t, &l)
	if l.Licences[0].SeatUnit != "computer" || l.Licences[0].InUse != 1 || l.Licences[0].Peak != 1 {
		t.Fatalf("licence: %+v", l.Licences[0])
	}
}

func TestRenewReleaseAndForce(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	var s seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &s)
	e.clock.Add(4 * time.Minute)
	r := e.do("POST", seat.RenewPath(s.ID), client, nil)
	var rn seat.Session
	r.decode(t, &rn)
	if r.status != 200 || !rn.Expires.Equal(e.clock.Now().Add(5*time.Minute)) {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	if r := e.do("GET", seat.SessionPath(s.ID), client, nil); r.status != 200 {
		t.Fatalf("get session: %d", r.status)
	}
	if r := e.do("POST", seat.RenewPath("L-UNKNOWN"), client, nil); r.status != 404 {
		t.Fatalf("renew unknown: %d", r.status)
	} else {
		r.apiErr(t)
	}
	var rel seat.Release
	r = e.do("DELETE", seat.SessionPath(s.ID), client, nil)
	r.decode(t, &rel)
	if r.status != 200 || !rel.Released {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	r = e.do("DELETE", seat.SessionPath(s.ID), client, nil)
	r.decode(t, &rel)
	if r.status != 202 || rel.Released {
		t.Fatalf("release again: %d %s", r.status, r.body)
	}
	if r := e.do("GET", seat.SessionPath(s.ID), client, nil); r.status != 404 {
		t.Fatalf("get released: %d", r.status)
	}
	// Force-release by an admin frees the seat for someone else.
	e.checkout(client, "acme-erp", sid(2), "ws-2").decode(t, &s)
	if r := e.checkout(client, "acme-erp", sid(3), "ws-3"); r.status != 409 {
		t.Fatalf("full: %d", r.status)
	}
	var ss seat.Sessions
	e.do("GET", "/api/sessions", admin, nil).decode(t, &ss)
	if len(ss.Sessions) != 1 || ss.Sessions[0].ID != s.ID {
		t.Fatalf("sessions: %+v", ss)
	}
	if r := e.do("DELETE", seat.SessionPath(s.ID), admin, nil); r.status != 200 {
		t.Fatalf("force release: %d", r.status)
	}
	if r := e.checkout(client, "acme-erp", sid(3), "ws-3"); r.status != 201 {
		t.Fatalf("after force release: %d", r.status)
	}
	// The usage log has the force-release, naming the admin.
	found := false
	_ = e.store.Events(context.Background(), time.Time{}, time.Time{}, func(ev seatstore.LoggedEvent) error {
		found = found || (ev.Kind == seats.EventRelease && strings.Contains(ev.Detail, "force-released by admin admin1"))
		return nil
	})
	if !found {
		t.Fatal("force release not in the usage log")
	}
}

func TestExpirySweep(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	var s seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &s)
	e.clock.Add(6 * time.Minute)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", seat.RenewPath(s.ID), client, nil); r.status != 404 {
		t.Fatalf("renew after expiry: %d", r.status)
	}
	if r := e.checkout(client, "acme-erp", sid(2), "ws-2"); r.status != 201 {
		t.Fatalf("zombie seat: %d", r.status)
	}
	kinds := map[seats.EventKind]int{}
	_ = e.store.Events(context.Background(), time.Time{}, time.Time{}, func(ev seatstore.LoggedEvent) error {
		kinds[ev.Kind]++
		return nil
	})
	if kinds[seats.EventExpire] != 1 || kinds[seats.EventGrant] != 2 {
		t.Fatalf("usage log: %v", kinds)
	}
}

func TestLicenceInstall(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{taxID: "7701234567/770101001", seats: 5})
	bad := func(body seat.InstallRequest, want int, msg string) {
		t.Helper()
		r := e.do("POST", "/api/licences", admin, body)
		if r.status != want {
			t.Fatalf("%s: %d %s", msg, r.status, r.body)
		}
		if ae := r.apiErr(t); !strings.Contains(ae.Message, msg) {
			t.Fatalf("message %q does not say %q", ae.Message, msg)
		}
		var ls seat.Licences
		e.do("GET", "/api/licences", admin, nil).decode(t, &ls)
		if len(ls.Licences) != 0 {
			t.Fatalf("%s: something was installed: %+v", msg, ls)
		}
	}
	bad(seat.InstallRequest{ActivationCodeString: arm, ITN: "7701234567", IEC: "770101002"}, 400, "not the tax ID")
	bad(seat.InstallRequest{ActivationCodeString: arm}, 400, "give ITN")
	bad(seat.InstallRequest{ActivationCodeString: ""}, 400, "ActivationCodeString")
	bad(seat.InstallRequest{ActivationCodeString: arm, ITN: "7701234567", IEC: "770101001", BlankKeyNo: "1"}, 400, "BlankKeyNo")
	bad(seat.InstallRequest{ActivationCodeString: strings.Replace(arm, "A", "B", 1)}, 400, "")
	// A license for another server's key.
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := e.v.issue(t, otherKey.Public().(ed25519.PublicKey), lic{})
	bad(seat.InstallRequest{ActivationCodeString: other}, 400, "not named by license")
	// A license from a vendor the server does not trust.
	stranger := newVendor(t)
	forged, _ := stranger.issue(t, e.pub, lic{seats: 1000})
	bad(seat.InstallRequest{ActivationCodeString: forged}, 400, "unknown key")
	// A license bound to another machine.
	bound, _ := e.v.issue(t, e.pub, lic{node: &license.Node{Name: "srv1", ResponseKey: e.pub, Machine: otherMachine(t)}})
	bad(seat.InstallRequest{ActivationCodeString: bound}, 400, "another machine")
	// Expired.
	past := e.clock.Now().Add(-time.Hour)
	expired, _ := e.v.issue(t, e.pub, lic{expires: &past})
	bad(seat.InstallRequest{ActivationCodeString: expired}, 400, "expired")

	// ITN as a JSON number (1C) with IEC: installed, 201; again: 200.
	body := `{"ActivationCodeString":` + jsonString(arm) + `,"ITN":7701234567,"IEC":"770101001","BlankKeyNo":null}`
	r := e.do("POST", "/api/licences", admin, body)
	var l seat.Licence
	r.decode(t, &l)
	if r.status != 201 || l.KeyNo != serial || l.LicenceCount != 5 || l.KeyType != 3 || l.ITN != "7701234567" || !l.Workable {
		t.Fatalf("install: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/licences", admin, body); r.status != 200 {
		t.Fatalf("install again: %d", r.status)
	}
	// A typed code installs too.
	arm2, serial2 := e.v.issue(t, e.pub, lic{product: "acme-crm"})
	sl, err := license.DecodeServer([]byte(arm2))
	if err != nil {
		t.Fatal(err)
	}
	code, err := sl.Code()
	if err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/api/licences", admin, seat.InstallRequest{ActivationCodeString: code})
	r.decode(t, &l)
	if r.status != 201 || l.KeyNo != serial2 || l.KeyID != "acme-crm" {
		t.Fatalf("install by typed code: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/licences/"+serial, admin, nil)
	r.decode(t, &l)
	if r.status != 200 || l.KeyNo != serial {
		t.Fatalf("get licence: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/licences/NOPE", admin, nil); r.status != 404 {
		t.Fatalf("unknown licence: %d", r.status)
	}
}

func TestStacking(t *testing.T) {
	e := newEnv(t)
	main, mainSerial := e.v.issue(t, e.pub, lic{seats: 2})
	add, addSerial := e.v.issue(t, e.pub, lic{kind: license.KindAdditional, main: mainSerial, seats: 3})
	in := func(n int) time.Time { return e.clock.Now().Add(time.Duration(n) * 24 * time.Hour) }
	d := in(30)
	demo, _ := e.v.issue(t, e.pub, lic{kind: license.KindDemo, seats: 1, expires: &d})
	// Additional before its main: refused.
	if ae := e.install(add, 400).apiErr(t); !strings.Contains(ae.Message, "needs its main license") {
		t.Fatal(ae.Message)
	}
	e.install(main, 201)
	e.install(add, 201)
	if ae := e.install(demo, 400).apiErr(t); !strings.Contains(ae.Message, "demo license") {
		t.Fatal(ae.Message)
	}
	for i := 1; i <= 5; i++ {
		if r := e.checkout(client, "acme-erp", sid(i), "ws"); r.status != 201 {
			t.Fatalf("seat %d of 5: %d", i, r.status)
		}
	}
	if r := e.checkout(client, "acme-erp", sid(6), "ws"); r.status != 409 {
		t.Fatalf("seat 6: %d", r.status)
	}
	// Removing the additional license: three newest sessions lose their
	// seats and are told at their next renewal (410 with a reason).
	var ss seat.Sessions
	e.do("GET", "/api/sessions", admin, nil).decode(t, &ss)
	r := e.do("DELETE", "/api/licences/"+addSerial, admin, nil)
	if r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	lost := 0
	for _, s := range ss.Sessions {
		r := e.do("POST", seat.RenewPath(s.ID), client, nil)
		switch r.status {
		case 200:
		case 410:
			lost++
			if ae := r.apiErr(t); !strings.Contains(ae.Reason, addSerial) {
				t.Errorf("410 reason %q", ae.Reason)
			}
		default:
			t.Fatalf("renew after remove: %d %s", r.status, r.body)
		}
	}
	if lost != 3 {
		t.Fatalf("%d sessions told of their lost seat, want 3", lost)
	}
	if err := e.srv.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", "/api/licences/"+addSerial, admin, nil); r.status != 404 {
		t.Fatalf("remove again: %d", r.status)
	}
}

func TestRevocations(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	var s seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws").decode(t, &s)
	list := func(seq uint64, serials ...string) string {
		rl := &license.RevocationList{Sequence: seq, IssuedAt: e.clock.Now().Add(-time.Minute), Serials: serials}
		if err := rl.Sign(e.v.key); err != nil {
			t.Fatal(err)
		}
		b, err := rl.Armor()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	r := e.do("POST", "/api/revocations", admin, seat.RevocationsRequest{RevocationList: list(5, serial)})
	var res seat.RevocationsResult
	r.decode(t, &res)
	if r.status != 200 || res.Sequence != 5 || len(res.Revoked) != 1 || res.Revoked[0] != serial {
		t.Fatalf("revocations: %d %s", r.status, r.body)
	}
	if r := e.do("POST", seat.RenewPath(s.ID), client, nil); r.status != 410 {
		t.Fatalf("renew of a revoked license's seat: %d", r.status)
	}
	if r := e.do("POST", "/api/revocations", admin, seat.RevocationsRequest{RevocationList: list(4)}); r.status != 400 {
		t.Fatalf("older list: %d %s", r.status, r.body)
	}
	// A long list (over the 64 KiB of other bodies) is taken.
	many := make([]string, 20000)
	for i := range many {
		many[i] = fmt.Sprintf("BULK-%06d", i)
	}
	if r := e.do("POST", "/api/revocations", admin, seat.RevocationsRequest{RevocationList: list(6, many...)}); r.status != 200 || len(r.body) == 0 {
		t.Fatalf("long list: %d %s", r.status, r.body)
	}
	// A revoked license cannot be installed again, even after a restart.
	e.do("DELETE", "/api/licences/"+serial, admin, nil)
	e.restart()
	if ae := e.install(arm, 400).apiErr(t); !strings.Contains(ae.Message, "revoked") {
		t.Fatal(ae.Message)
	}
	if r := e.do("POST", "/api/revocations", admin, seat.RevocationsRequest{RevocationList: list(4)}); r.status != 400 {
		t.Fatalf("older list after restart: %d", r.status)
	}
}

// TestRestartReclaim: after a restart, known leases renew; a checkout
// that would need a seat not yet renewed waits (503 + Retry-After) until
// the window ends; nothing is forgotten or counted twice.
func TestRestartReclaim(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 2})
	e.install(arm, 201)
	e.clock.Add(6 * time.Minute) // past the first reclaim window
	var a, b seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &a)
	e.checkout(client, "acme-erp", sid(2), "ws-2").decode(t, &b)
	e.stop()
	e.clock.Add(7 * time.Minute) // both leases expire while the server is down
	e.start()
	r := e.checkout(client, "acme-erp", sid(3), "ws-3")
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("checkout in the reclaim window: %d %s", r.status, r.body)
	}
	if ae := r.apiErr(t); ae.RetryAfter <= 0 {
		t.Fatalf("RetryAfter %d", ae.RetryAfter)
	}
	if r := e.do("POST", seat.RenewPath(a.ID), client, nil); r.status != 200 {
		t.Fatalf("renew a known lease after restart: %d %s", r.status, r.body)
	}
	// Retrying a checkout with a known ClientSessionID gives its lease back.
	r = e.checkout(client, "acme-erp", sid(2), "ws-2")
	var b2 seat.Session
	r.decode(t, &b2)
	if r.status != 200 || b2.ID != b.ID {
		t.Fatalf("retried checkout after restart: %d %s", r.status, r.body)
	}
	e.clock.Add(5*time.Minute + time.Second)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Window over; a was renewed and b retried 5m1s ago: both expired now.
	if r := e.checkout(client, "acme-erp", sid(3), "ws-3"); r.status != 201 {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
	if err := e.srv.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsShape(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path, who string
		body              any
		want              int
	}{
		{"GET", "/api/nothing", client, nil, 404},
		{"PUT", "/api/sessions", client, nil, 405},
		{"POST", "/api/sessions", client, strings.Repeat(" ", MaxBody+1), 413},
		{"POST", "/api/licences", admin, strings.Repeat(" ", MaxLicenceBody+1), 413},
		{"GET", "/api/sessions/%1b%5b31m", client, nil, 400},
	} {
		r := e.do(c.method, c.path, c.who, c.body)
		if r.status != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.want)
			continue
		}
		r.apiErr(t)
	}
	// A malformed query ID is refused, and not echoed.
	req, _ := http.NewRequest("GET", e.base+"/api", nil)
	req.Header.Set(seat.HeaderQueryID, "short")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 || res.Header.Get(seat.HeaderQueryID) != "" || res.Header.Get(seat.HeaderSignature) == "" {
		t.Fatalf("bad query ID: %d %v", res.StatusCode, res.Header)
	}
}

// failingStore fails every Commit after fail is set.
type failingStore struct {
	seatstore.Store
	fail bool
}

func (f *failingStore) Commit(ctx context.Context, c seatstore.Change) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.Store.Commit(ctx, c)
}

// TestNotDurableNotAcknowledged: when the store cannot save a grant, the
// client gets 503 and no lease; its retry with the same ID is granted once
// the store works again, with one seat.
func TestNotDurableNotAcknowledged(t *testing.T) {
	fs := &failingStore{Store: seatstore.NewMemory()}
	e := newEnv(t, func(c *Config) {
		// Tokens were made in the env's own store; copy them.
		st, _ := c.Store.Load(context.Background())
		_ = fs.Store.Commit(context.Background(), seatstore.Change{PutTokens: st.Tokens})
		c.Store = fs
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	fs.fail = true
	r := e.checkout(client, "acme-erp", sid(1), "ws-1")
	if r.status != 503 {
		t.Fatalf("checkout with a failing store: %d %s", r.status, r.body)
	}
	fs.fail = false
	if r := e.checkout(client, "acme-erp", sid(1), "ws-1"); r.status != 200 && r.status != 201 {
		t.Fatalf("retry: %d", r.status)
	}
	st, _ := fs.Load(context.Background())
	if len(st.Leases) != 1 {
		t.Fatalf("%d leases stored, want 1", len(st.Leases))
	}
}

// TestStartRefusals: a server whose installed license does not match its
// key or machine refuses to start.
func TestStartRefusals(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{})
	e.install(arm, 201)
	e.stop()
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	cfg := e.cfg
	cfg.Key = otherKey
	if _, err := New(context.Background(), cfg); !errors.Is(err, license.ErrUnknownKey) {
		t.Fatalf("another key: %v", err)
	}
	cfg = e.cfg
	cfg.Keyring = newVendor(t).ring()
	if _, err := New(context.Background(), cfg); !errors.Is(err, license.ErrUnknownKey) {
		t.Fatalf("untrusted vendor: %v", err)
	}
	// A license bound to this machine refuses to start elsewhere, and in a
	// VM its node does not allow.
	e2 := newEnv(t)
	m := otherMachine(t)
	bound, _ := e2.v.issue(t, e2.pub, lic{node: &license.Node{Name: "srv1", ResponseKey: e2.pub, Machine: m}})
	e2.stop()
	cfg = e2.cfg
	cfg.Machine = machineOf(m, "none")
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(context.Background(), []byte(bound), "", ""); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	cfg.Machine = bareMetal
	if _, err := New(context.Background(), cfg); !errors.Is(err, license.ErrWrongMachine) {
		t.Fatalf("other machine: %v", err)
	}
	cfg.Machine = machineOf(m, "vm")
	if _, err := New(context.Background(), cfg); !errors.Is(err, license.ErrVirtualMachine) {
		t.Fatalf("VM: %v", err)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestAuditLog: admin actions over the API go to the audit log with who,
// what and from where, hash-chained.
func TestAuditLog(t *testing.T) {
	path := t.TempDir() + "/audit.log"
	w, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e := newEnv(t, func(c *Config) { c.Audit = w })
	arm, serial := e.v.issue(t, e.pub, lic{})
	e.install(arm, 201)
	var s seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &s)
	e.do("DELETE", seat.SessionPath(s.ID), admin, nil)
	e.do("DELETE", "/api/licences/"+serial, admin, nil)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var whats []string
	if _, err := audit.Read(f, func(_ int, r audit.Record) error {
		if r.Who != "admin1" || r.From != "127.0.0.1" {
			t.Errorf("record %+v", r)
		}
		whats = append(whats, r.What)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(whats, ",") != "install license,force-release seat,remove license" {
		t.Fatalf("audit log: %v", whats)
	}
}

// TestClockRollback: a server that ran at some time refuses to start with
// the clock set back before it (so an expired license cannot be revived).
func TestClockRollback(t *testing.T) {
	e := newEnv(t)
	e.clock.Add(time.Hour)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.clock.Add(-2 * time.Hour)
	if _, err := New(context.Background(), e.cfg); !errors.Is(err, license.ErrClockRollback) {
		t.Fatalf("clock set back: %v", err)
	}
	e.clock.Add(2 * time.Hour)
	e.start()
}

// TestTLS: Run serves TLS from certificate files; a client that pins the
// certificate gets signed answers, TLS 1.1 is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := selfsigned.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := dir+"/srv.crt", dir+"/srv.key"
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.stop()
	srv, err := New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, RunOptions{CertFile: certFile, KeyFile: keyFile}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e.base = "https://" + ln.Addr().String()
	req, _ := http.NewRequest("GET", e.base+"/api", nil)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get(seat.HeaderSignature) == "" {
		t.Fatalf("GET /api over TLS: %d", res.StatusCode)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if res, err := old.Get(e.base + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatal("TLS 1.1 accepted")
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr          string
		tls, insecure bool
		ok            bool
	}{
		{"127.0.0.1:9099", false, false, true},
		{"[::1]:9099", false, false, true},
		{"localhost:9099", false, false, true},
		{"0.0.0.0:9099", false, false, false},
		{"192.168.1.5:9099", false, false, false},
		{"0.0.0.0:9099", true, false, true},
		{"0.0.0.0:9099", false, true, true},
		{"nonsense", false, false, false},
	} {
		if err := CheckListen(c.addr, c.tls, c.insecure); (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, tls %v, insecure %v) = %v", c.addr, c.tls, c.insecure, err)
		}
	}
	if err := CheckListen("nonsense", true, true); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
}

// TestDebugException: Exception is empty unless the server runs with Debug.
func TestDebugException(t *testing.T) {
	for _, debug := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.Debug = debug })
		ae := e.do("POST", "/api/sessions", client, `{"Product":"p"}`).apiErr(t)
		if (ae.Exception != "") != debug {
			t.Errorf("debug %v: Exception %q", debug, ae.Exception)
		}
	}
}

// TestSweepSchedule: Run reclaims expired leases on its own schedule.
func TestSweepSchedule(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.sweep = 20 * time.Millisecond
	e.start()
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	e.clock.Add(6 * time.Minute) // out of the reclaim window
	if r := e.checkout(client, "acme-erp", sid(1), "ws-1"); r.status != 201 {
		t.Fatalf("checkout: %d", r.status)
	}
	e.clock.Add(6 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ss seat.Sessions
		e.do("GET", "/api/sessions", admin, nil).decode(t, &ss)
		if len(ss.Sessions) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired lease was not reclaimed by the schedule")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoginLimit: after 10 failed logins in a minute an address gets 429
// with Retry-After, even with the right token, until the window ends; an
// exempt address is never refused.
func TestLoginLimit(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 10; i++ {
		if r := e.do("GET", "/api/serverinfo", "client1:wrong", nil); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	r := e.do("GET", "/api/serverinfo", client, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("11th login with the right token: %d %s", r.status, r.body)
	}
	if ae := r.apiErr(t); ae.RetryAfter < 1 || ae.RetryAfter > 60 {
		t.Fatalf("RetryAfter %d", ae.RetryAfter)
	}
	e.clock.Add(61 * time.Second)
	if r := e.do("GET", "/api/serverinfo", client, nil); r.status != 200 {
		t.Fatalf("after the window: %d", r.status)
	}
	ex := newEnv(t, func(c *Config) { c.Exempt = func(a netip.Addr) bool { return a.IsLoopback() } })
	for i := 0; i < 15; i++ {
		ex.do("GET", "/api/serverinfo", "client1:wrong", nil)
	}
	if r := ex.do("GET", "/api/serverinfo", client, nil); r.status != 200 {
		t.Fatalf("exempt address: %d", r.status)
	}
}
