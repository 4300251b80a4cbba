package seatserver

import (
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
)

func (e *env) register(code, app string) *resp {
	e.t.Helper()
	return e.do("POST", PathDevices, "", DeviceRequest{Code: code, Name: "ТСД склад " + code, App: app})
}

func deviceState(t *testing.T, r *resp) string {
	t.Helper()
	var d struct {
		State   string
		Message string
	}
	r.decode(t, &d)
	return d.State
}

// TestDeviceFlow (issue 11 item 1): register → pending → approve → seat;
// deny → register again; unlink frees the seat; every state durable across
// a restart.
func TestDeviceFlow(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 2, demo: []license.Feature{{Name: "lines", Value: 3}}})
	e.install(arm, 201)

	r := e.register("TSD-0001", "acme-erp")
	if r.status != 202 || deviceState(t, r) != "pending" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var ds DeviceStatus
	r.decode(t, &ds)
	if ds.IP != "127.0.0.1" || ds.Registered.IsZero() || !strings.Contains(ds.Message, "not yet allowed") {
		t.Fatalf("registered: %+v", ds)
	}
	// A retry is harmless: the same request, not a new one.
	if r := e.register("TSD-0001", "acme-erp"); r.status != 403 || deviceState(t, r) != "pending" {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	// The device's own check: 403 with the state, as pkg/seat reads it.
	r = e.do("GET", PathDevices+"/TSD-0001", "", nil)
	var ref DeviceRefusal
	r.decode(t, &ref)
	if r.status != 403 || ref.State != "pending" || ref.Code != 403 || !strings.Contains(ref.Message, "has not yet allowed this device") {
		t.Fatalf("pending check: %d %s", r.status, r.body)
	}
	// Visible and countable to an admin and a viewer.
	var list DeviceList
	e.do("GET", PathDevices, admin, nil).decode(t, &list)
	if len(list.Devices) != 1 || list.Counts["pending"] != 1 {
		t.Fatalf("list: %+v", list)
	}
	// Only an admin approves.
	if r := e.do("POST", PathDevices+"/TSD-0001/approve", client, nil); r.status != 403 {
		t.Fatalf("client approves: %d", r.status)
	}
	r = e.do("POST", PathDevices+"/TSD-0001/approve", admin, nil)
	r.decode(t, &ds)
	if r.status != 200 || ds.State != "approved" || ds.KeyNo != serial || ds.DecidedBy != "admin1" || !ds.Licensed {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if r := e.do("GET", PathDevices+"/TSD-0001", "", nil); r.status != 200 || deviceState(t, r) != "approved" {
		t.Fatalf("approved check: %d %s", r.status, r.body)
	}
	// The device holds one of the two seats: one session fits, not two.
	if r := e.checkout(client, "acme-erp", sid(1), "ws-1"); r.status != 201 {
		t.Fatalf("session beside the device: %d %s", r.status, r.body)
	}
	if r := e.checkout(client, "acme-erp", sid(2), "ws-2"); r.status != 409 {
		t.Fatalf("third seat: %d %s", r.status, r.body)
	}
	// A second device finds no seat: approved in demo mode.
	e.register("TSD-0002", "acme-erp")
	r = e.do("POST", PathDevices+"/TSD-0002/approve", admin, nil)
	r.decode(t, &ds)
	if ds.State != "no_seat" || ds.DemoLimits["lines"] != 3 {
		t.Fatalf("approve without a seat: %d %s", r.status, r.body)
	}
	r = e.do("GET", PathDevices+"/TSD-0002", "", nil)
	if r.status != 403 || deviceState(t, r) != "no_seat" || !strings.Contains(string(r.body), "demo mode") {
		t.Fatalf("no-seat check: %d %s", r.status, r.body)
	}

	// Durable: after a restart the states and the device's seat are back.
	e.restart()
	if r := e.do("GET", PathDevices+"/TSD-0001", "", nil); r.status != 200 || deviceState(t, r) != "approved" {
		t.Fatalf("after restart: %d %s", r.status, r.body)
	}
	st, err := e.store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Devices) != 2 {
		t.Fatalf("stored devices: %+v", st.Devices)
	}

	// Unlink frees the seat: the second device gets it at its next check.
	if r := e.do("DELETE", PathDevices+"/TSD-0001", client, nil); r.status != 403 && r.status != 401 {
		t.Fatalf("viewer unlinks: %d", r.status)
	}
	if r := e.do("DELETE", PathDevices+"/TSD-0001", admin, nil); r.status != 200 {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	if r := e.do("GET", PathDevices+"/TSD-0001", "", nil); r.status != 404 {
		t.Fatalf("unlinked check: %d %s", r.status, r.body)
	}
	if r := e.do("GET", PathDevices+"/TSD-0002", "", nil); r.status != 200 || deviceState(t, r) != "approved" {
		t.Fatalf("freed seat not taken: %d %s", r.status, r.body)
	}

	// Deny, then register again: pending anew.
	e.register("TSD-0003", "acme-erp")
	if r := e.do("POST", PathDevices+"/TSD-0003/deny", admin, nil); r.status != 200 || deviceState(t, r) != "denied" {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	r = e.do("GET", PathDevices+"/TSD-0003", "", nil)
	if r.status != 403 || deviceState(t, r) != "denied" || !strings.Contains(string(r.body), "register again") {
		t.Fatalf("denied check: %d %s", r.status, r.body)
	}
	if r := e.do("POST", PathDevices+"/TSD-0003/approve", admin, nil); r.status != 409 {
		t.Fatalf("approve a denied device: %d %s", r.status, r.body)
	}
	if r := e.register("TSD-0003", "acme-erp"); r.status != 202 || deviceState(t, r) != "pending" {
		t.Fatalf("re-register: %d %s", r.status, r.body)
	}
	if err := e.srv.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceSubscriptionEnded: an expired license answers
// subscription_ended with the demo limits.
func TestDeviceSubscriptionEnded(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(24 * time.Hour)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 2, expires: &exp, demo: []license.Feature{{Name: "lines", Value: 3}}})
	e.install(arm, 201)
	e.register("TSD-9", "acme-erp")
	if r := e.do("POST", PathDevices+"/TSD-9/approve", admin, nil); deviceState(t, r) != "approved" {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	e.clock.Add(2 * 24 * time.Hour)
	r := e.do("GET", PathDevices+"/TSD-9", "", nil)
	if r.status != 403 || deviceState(t, r) != "subscription_ended" || !strings.Contains(string(r.body), "subscription has ended") {
		t.Fatalf("after expiry: %d %s", r.status, r.body)
	}
}

// TestDeviceFloodCap: pending requests are capped per address (429) and
// nothing more is stored; bad values are refused before storage.
func TestDeviceFloodCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Extras.Devices = devices.Options{MaxPendingPerIP: 3, MaxPending: 5} })
	for i := range 3 {
		if r := e.register("FLOOD-"+string(rune('A'+i)), "acme-erp"); r.status != 202 {
			t.Fatalf("register %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.register("FLOOD-X", "acme-erp")
	if r.status != 429 || !strings.Contains(r.apiErr(t).Message, "too many pending") {
		t.Fatalf("over the cap: %d %s", r.status, r.body)
	}
	for _, bad := range []DeviceRequest{{Code: "a b", Name: "x", App: "acme-erp"}, {Code: "ok", Name: "bad\u202e", App: "acme-erp"}, {Code: "ok", Name: "x", App: ""}} {
		if r := e.do("POST", PathDevices, "", bad); r.status != 400 {
			t.Errorf("%+v: %d %s", bad, r.status, r.body)
		}
	}
	var list DeviceList
	e.do("GET", PathDevices, admin, nil).decode(t, &list)
	if list.Counts["pending"] != 3 {
		t.Fatalf("stored: %+v", list.Counts)
	}
	st, _ := e.store.(*seatstore.Memory).Load(t.Context())
	if len(st.Devices) != 3 {
		t.Fatalf("store holds %d devices", len(st.Devices))
	}
}

// deviceDocTypes are the wire types of the device endpoints' examples in
// docs/api.md (TestAPIDocs).
var deviceDocTypes = map[string]func() any{
	"POST /api/devices":                func() any { return new(DeviceStatus) },
	"GET /api/devices":                 func() any { return new(DeviceList) },
	"GET /api/devices/{Code}":          func() any { return new(DeviceRefusal) },
	"POST /api/devices/{Code}/approve": func() any { return new(DeviceStatus) },
	"POST /api/devices/{Code}/deny":    func() any { return new(DeviceStatus) },
	"DELETE /api/devices/{Code}":       func() any { return new(DeviceStatus) },
}
