package seat

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

// results maps step name to result, and checks the row order.
func results(t *testing.T, d *Diagnosis) map[string]*Step {
	t.Helper()
	m := map[string]*Step{}
	for _, s := range d.Steps {
		if _, dup := m[s.Name]; dup {
			t.Fatalf("step %q twice", s.Name)
		}
		m[s.Name] = s
		if s.Result == StepFail && (s.Cause == "" || s.Fix == "" || s.Err == nil) {
			t.Errorf("failed step %q without cause, fix or error: %+v", s.Name, s)
		}
	}
	return m
}

func diagnose(t *testing.T, cfg Config) (*Diagnosis, map[string]*Step) {
	t.Helper()
	ds := Diagnose(context.Background(), cfg)
	if len(ds) != 1 {
		t.Fatalf("%d diagnoses", len(ds))
	}
	return ds[0], results(t, ds[0])
}

func TestDiagnoseAllGood(t *testing.T) {
	rg := newRig(t, 1, 2)
	d, m := diagnose(t, rg.config(nil))
	for _, name := range []string{StepAddress, StepDNS, StepTCP, StepTLS, StepAPI, StepAuth, StepLicense, StepSignature, StepClock, StepProduct, StepSeats} {
		if m[name] == nil || m[name].Result != StepOK {
			t.Errorf("%s: %+v", name, m[name])
		}
	}
	if d.Err() != nil || d.Failed() != nil {
		t.Fatal(d.Err())
	}
	if rg.srvs[0].InUse() != 0 || rg.srvs[0].Calls("DELETE sessions") != 1 {
		t.Fatalf("the diagnostic seat was not given back: %d in use", rg.srvs[0].InUse())
	}
	if !strings.Contains(m[StepLicense].Detail, "10 seats") || !strings.Contains(m[StepSeats].Detail, "released") {
		t.Fatalf("details: %q, %q", m[StepLicense].Detail, m[StepSeats].Detail)
	}
}

func TestDiagnoseFailures(t *testing.T) {
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	cases := []struct {
		name   string
		setup  func(rg *rig, cfg *Config)
		step   string
		result string
		cause  string
		err    error
	}{
		{"bad address", func(rg *rig, cfg *Config) { cfg.Servers = []string{"ftp://x"} }, StepAddress, StepFail, "scheme", ErrBadAddress},
		{"name not resolved", func(rg *rig, cfg *Config) { cfg.Servers = []string{"https://no-such-host.invalid:9099"} }, StepDNS, StepFail, "no-such-host.invalid", ErrUnreachable},
		{"connection refused", func(rg *rig, cfg *Config) { cfg.Servers = []string{closed} }, StepTCP, StepFail, "connection refused", ErrUnreachable},
		{"ip list", func(rg *rig, cfg *Config) { rg.srvs[0].SetRefuseIP(true) }, StepAPI, StepFail, "IP list", ErrForbidden},
		{"wrong token", func(rg *rig, cfg *Config) { rg.srvs[0].Token = "right"; cfg.User, cfg.Token = "app", "wrong" }, StepAuth, StepFail, "refused the credentials", ErrUnauthorized},
		{"no token", func(rg *rig, cfg *Config) { rg.srvs[0].Token = "right" }, StepAuth, StepFail, "no credentials", ErrUnauthorized},
		{"fake vendor", func(rg *rig, cfg *Config) {
			key := FakeResponseKey(0x77)
			lic, err := IssueFakeServerLicense(FakeVendor(9), "fake", key.Public().(ed25519.PublicKey), nil)
			if err != nil {
				t.Fatal(err)
			}
			rg.srvs[0].Key, rg.srvs[0].Licence = key, lic
		}, StepLicense, StepFail, "not signed by this product's vendor", license.ErrUnknownKey},
		{"no license", func(rg *rig, cfg *Config) { rg.srvs[0].Licence = nil }, StepLicense, StepFail, "no ServerLicence", ErrUntrustedServer},
		{"other response key", func(rg *rig, cfg *Config) { rg.srvs[0].Key = FakeResponseKey(0x77) }, StepSignature, StepFail, "does not name", ErrUntrustedServer},
		{"replayed", func(rg *rig, cfg *Config) {
			rg.srvs[0].SetTamper(func(a *Answer) { a.QueryID, a.SentQueryID = "another-query-id-000000", "" })
		}, StepSignature, StepFail, "another query", ErrReplay},
		{"clock skew warn", func(rg *rig, cfg *Config) {
			rg.srvs[0].SetTamper(func(a *Answer) { a.Time = FakeEpoch.Add(2 * time.Minute).Format(TimeFormat) })
		}, StepClock, StepWarn, "differ by 2m0s", nil},
		{"clock skew fail", func(rg *rig, cfg *Config) {
			rg.srvs[0].SetTamper(func(a *Answer) { a.Time = FakeEpoch.Add(-10 * time.Minute).Format(TimeFormat) })
		}, StepClock, StepFail, "differ by -10m0s", ErrClockSkew},
		{"demo mode", func(rg *rig, cfg *Config) { rg.srvs[0].SetDemo(true) }, StepProduct, StepFail, "demo mode", ErrNoSeat},
		{"other product", func(rg *rig, cfg *Config) { cfg.Product = "acme-erp" }, StepProduct, StepFail, "no valid license of acme-erp", ErrNoSeat},
		{"no product", func(rg *rig, cfg *Config) { cfg.Product = "" }, StepProduct, StepSkipped, "no product", nil},
		{"seats full", func(rg *rig, cfg *Config) {
			if _, err := rg.client(manual).Checkout(context.Background(), Request{}); err != nil {
				t.Fatal(err)
			}
		}, StepSeats, StepFail, "1 of 1 seats of acme-db are in use", ErrNoSeat},
		{"device pending", func(rg *rig, cfg *Config) { rg.srvs[0].SetDevice("pending") }, StepDevice, StepFail, "has not yet allowed this device", ErrDeviceNotApproved},
		{"device denied", func(rg *rig, cfg *Config) { rg.srvs[0].SetDevice("denied") }, StepDevice, StepFail, "denied this device", ErrDeviceNotApproved},
		{"device no seat", func(rg *rig, cfg *Config) { rg.srvs[0].SetDevice("no_seat") }, StepDevice, StepFail, "no free device license", ErrDeviceNotApproved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t, 1, 1)
			cfg := rg.config(nil)
			tc.setup(rg, &cfg)
			d, m := diagnose(t, cfg)
			s := m[tc.step]
			if s == nil || s.Result != tc.result || !strings.Contains(s.Cause, tc.cause) {
				for _, x := range d.Steps {
					t.Logf("%-20s %-7s %s | %s | %s", x.Name, x.Result, x.Detail, x.Cause, x.Fix)
				}
				t.Fatalf("step %s: %+v, want %s with cause %q", tc.step, s, tc.result, tc.cause)
			}
			if tc.err != nil && !errors.Is(d.Err(), tc.err) {
				t.Fatalf("Err() = %v, want %v", d.Err(), tc.err)
			}
			if tc.result == StepFail {
				// Every step after the failure is skipped, none silently missing.
				after := false
				for _, x := range d.Steps {
					if after && x.Result != StepSkipped {
						t.Errorf("step %s after the failure: %s", x.Name, x.Result)
					}
					after = after || x == s
				}
				if len(d.Steps) < 11 {
					t.Errorf("%d rows", len(d.Steps))
				}
			}
		})
	}
}

func TestDiagnoseTLS(t *testing.T) {
	vendor, clock := FakeVendor(1), NewFakeClock(FakeEpoch)
	key := FakeResponseKey(0x40)
	lic, err := IssueFakeServerLicense(vendor, "srv1", key.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFakeTLSServer(clock, key, lic, 2)
	defer f.Close()
	rg := &rig{t: t, vendor: vendor, clock: clock, srvs: []*FakeServer{f}}

	_, m := diagnose(t, rg.config(nil))
	if s := m[StepTLS]; s.Result != StepFail || !strings.Contains(s.Cause, "does not trust") || !strings.Contains(s.Fix, "--ca-file") {
		t.Fatalf("unpinned: %+v", s)
	}
	_, m = diagnose(t, rg.config(func(c *Config) { c.RootCAs = f.CertPool() }))
	for _, name := range []string{StepTLS, StepSeats} {
		if m[name].Result != StepOK {
			t.Fatalf("pinned: %s %+v", name, m[name])
		}
	}
	// The certificate is for 127.0.0.1 and example.com, not localhost.
	port := f.URL[strings.LastIndex(f.URL, ":")+1:]
	_, m = diagnose(t, rg.config(func(c *Config) { c.RootCAs, c.Servers = f.CertPool(), []string{"https://localhost:" + port} }))
	if s := m[StepTLS]; s.Result != StepFail || !strings.Contains(s.Cause, "not for localhost") {
		t.Fatalf("host name: %+v", s)
	}
	// A plain-HTTP client against the TLS port is named as such.
	rg.clock = clock
	_, m = diagnose(t, rg.config(func(c *Config) { c.Servers = []string{"http://127.0.0.1:" + port} }))
	if s := m[StepAPI]; s.Result != StepFail {
		t.Fatalf("plain http to TLS: %+v", s)
	}
	// The client itself talks to the pinned TLS server.
	c := rg.client(func(c *Config) { c.ManualRenew, c.RootCAs = true, f.CertPool() })
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	c = rg.client(manual)
	if _, err := c.Checkout(context.Background(), Request{}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unpinned checkout: %v", err)
	}
}
