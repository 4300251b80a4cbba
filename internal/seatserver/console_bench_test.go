package seatserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/users"
)

// BenchmarkConsolePages (issue 11 speed): server time to render each
// console page with 10,000 sessions and 1,000 devices (500 pending, 500
// approved), paginated. Target: under 50 ms a page.
//
//	go test -run '^$' -bench BenchmarkConsolePages -benchtime 20x ./internal/seatserver
func BenchmarkConsolePages(b *testing.B) {
	ctx := context.Background()
	v := newVendor(b)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	clk := newClock()
	us := users.NewMemory()
	if err := users.Add(us, "root", users.Admin, "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	srv, err := New(ctx, Config{Store: seatstore.NewMemory(), Key: key, Keyring: v.ring(), Machine: bareMetal, Now: clk.Now, Node: "srv1", Users: us,
		Extras: Extras{Console: true, Devices: devices.Options{MaxPendingPerIP: 2000, MaxPending: 2000}}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	arm, _ := v.issue(b, key.Public().(ed25519.PublicKey), lic{seats: 20000})
	if _, err := srv.Install(ctx, []byte(arm), "", ""); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if _, _, err := srv.Checkout(ctx, seats.Request{Product: "acme-erp", ClientSessionID: sid(i), AppName: "erp",
			UserName: fmt.Sprintf("user%05d", i), ComputerName: fmt.Sprintf("ws-%05d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		code := fmt.Sprintf("TSD-%04d", i)
		if _, _, err := srv.RegisterDevice(ctx, devices.Request{Code: code, Name: "ТСД " + code, App: "acme-erp", IP: netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))}); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := srv.ApproveDevice(ctx, code, "root"); err != nil {
				b.Fatal(err)
			}
		}
	}
	h := srv.Handler()
	serve := func(method, path string, form url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
		var r *http.Request
		if form != nil {
			r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r = httptest.NewRequest(method, path, nil)
		}
		r.RemoteAddr = "127.0.0.1:5000"
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := serve("GET", "/console/login", nil, nil)
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(w.Body.String())[1]
	w = serve("POST", "/console/login", url.Values{"csrf": {tok}, "user": {"root"}, "password": {"correct horse battery"}}, w.Result().Cookies())
	if w.Code != 303 {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	session := w.Result().Cookies()
	for _, p := range []string{"/console/", "/console/licenses", "/console/sessions", "/console/sessions?page=150", "/console/devices", "/console/users", "/console/audit", "/console/settings"} {
		b.Run(strings.TrimPrefix(p, "/console/"), func(b *testing.B) {
			for b.Loop() {
				if w := serve("GET", p, nil, session); w.Code != 200 {
					b.Fatalf("%s: %d", p, w.Code)
				}
			}
		})
	}
}
