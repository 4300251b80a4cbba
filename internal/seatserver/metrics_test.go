package seatserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMetrics scrapes /metrics after checkouts, a refusal, a demo answer,
// an expiry and a released seat, and checks the values.
func TestMetrics(t *testing.T) {
	m := NewMetrics()
	e := newEnv(t, func(c *Config) { c.Store = m.Store(c.Store) })
	// Restart with the metrics given to Run, for request latency.
	e.stop()
	srv, err := New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, RunOptions{Sweep: time.Hour, Metrics: m}) }()
	e.srv, e.base = srv, "http://"+ln.Addr().String()
	e.stop = func() {}
	t.Cleanup(func() { cancel(); <-done })

	exp := e.clock.Now().Add(30 * 24 * time.Hour)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 2, expires: &exp})
	e.install(arm, 201)
	for i := range 3 {
		e.checkout(client, "acme-erp", sid(i), "pc")
	}
	e.checkout(client, "random-product-from-a-client", sid(7), "pc")
	e.clock.Add(6 * time.Minute) // past the lease lifetime: the sweep reclaims both
	if err := srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.checkout(client, "acme-erp", sid(8), "pc")

	hs := httptest.NewServer(m.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`airseal_seats_in_use{product="acme-erp"} 1`,
		`airseal_seats_licensed{product="acme-erp"} 2`,
		`airseal_seats_peak{product="acme-erp"} 2`,
		`airseal_leases 1`,
		`airseal_refusals_total{product="acme-erp",reason="no_seat"} 1`,
		`airseal_refusals_total{product="(other)",reason="demo"} 1`,
		`airseal_leases_reclaimed_total{product="acme-erp"} 2`,
		`airseal_usage_events_total{kind="grant",product="acme-erp"} 3`,
		`airseal_license_expiry_timestamp_seconds{product="acme-erp",serial="` + serial + `"} `,
		`airseal_node_info{node="srv1",response_key="` + srv.KeyID() + `",role="licensed"} 1`,
		"airseal_store_up 1",
		`airseal_http_request_duration_seconds_count{code="201",method="POST"} `,
		`airseal_http_request_duration_seconds_count{code="409",method="POST"} 1`,
		`airseal_store_commit_duration_seconds_count `,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "random-product-from-a-client") {
		t.Error("a client's product name became a label")
	}
	if !regexp.MustCompile(`(?m)^# TYPE airseal_seats_in_use gauge$`).MatchString(text) {
		t.Error("no TYPE line: not the Prometheus text format")
	}
	if t.Failed() {
		t.Log(text)
	}
}
