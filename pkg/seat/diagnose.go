package seat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/pkg/license"
)

// Results of a diagnosis step.
const (
	StepOK      = "ok"
	StepWarn    = "warn"
	StepFail    = "fail"
	StepSkipped = "skipped"
)

// Names of the diagnosis steps, in the order they run.
const (
	StepAddress   = "address"
	StepDNS       = "name resolution"
	StepTCP       = "tcp connect"
	StepTLS       = "tls certificate"
	StepAPI       = "seat api"
	StepAuth      = "authentication"
	StepLicense   = "server license"
	StepSignature = "response signature"
	StepClock     = "clock skew"
	StepProduct   = "product installed"
	StepSeats     = "seats free"
	StepDevice    = "device approval"
)

// ClockWarn is the clock difference above which diagnose warns (the
// protocol refuses above MaxResponseAge).
const ClockWarn = 30 * time.Second

// Step is one row of a diagnosis: what was checked, the result, and for a
// failure or warning the cause and the fix (the Cleverence diagnostics
// table, for our server).
type Step struct {
	Name   string `json:"step"`
	Result string `json:"result"`
	// Detail is what was found (addresses, certificate, license serial).
	Detail string `json:"detail,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Fix    string `json:"fix,omitempty"`
	// Err is the error behind a failure, for errors.Is (not in JSON).
	Err error `json:"-"`
}

// Diagnosis is the result of diagnosing one server.
type Diagnosis struct {
	Server string  `json:"server"`
	Steps  []*Step `json:"steps"`
}

// Err returns the error of the first failed step, or nil.
func (d *Diagnosis) Err() error {
	for _, s := range d.Steps {
		if s.Result == StepFail {
			return s.Err
		}
	}
	return nil
}

// Failed returns the first failed step, or nil.
func (d *Diagnosis) Failed() *Step {
	for _, s := range d.Steps {
		if s.Result == StepFail {
			return s
		}
	}
	return nil
}

// diag runs the steps for one server.
type diag struct {
	d *Diagnosis
	c *Client
	s *server
	u *url.URL
}

func (g *diag) add(name, result, detail, cause, fix string, err error) *Step {
	st := &Step{Name: name, Result: result, Detail: detail, Cause: cause, Fix: fix, Err: err}
	if result == StepFail && err == nil {
		st.Err = errors.New(name + ": " + cause)
	}
	g.d.Steps = append(g.d.Steps, st)
	return st
}

func (g *diag) skip(names ...string) {
	for _, n := range names {
		g.add(n, StepSkipped, "", "an earlier step failed", "", nil)
	}
}

// Diagnose checks, for each server of cfg.Servers, every step a
// connection needs: the address, name resolution, TCP, TLS and the
// certificate (against the pinned CA when one is given), the seat API,
// authentication, the server's license and its vendor signature, the
// response signature, clock skew, the product installed and a free seat
// (a seat is taken for a moment with a fresh session ID and released),
// and the device state or IP-list refusal when the server answers with
// one. A failed step skips those that need it. Each failure says its
// cause and fix. cfg.Product may be empty (the product steps are then
// skipped).
func Diagnose(ctx context.Context, cfg Config) []*Diagnosis {
	var out []*Diagnosis
	for _, srv := range cfg.Servers {
		out = append(out, diagnoseOne(ctx, cfg, srv))
	}
	return out
}

func diagnoseOne(ctx context.Context, cfg Config, srv string) *Diagnosis {
	g := &diag{d: &Diagnosis{Server: srv}}
	base, err := NormalizeServer(srv, cfg.AllowHTTP)
	if err != nil {
		g.add(StepAddress, StepFail, "", err.Error(), "give the server as https://HOST:9099 or HOST[:PORT] (port 9099 by default)", fmt.Errorf("%w: %v", ErrBadAddress, err))
		g.skip(StepDNS, StepTCP, StepTLS, StepAPI, StepAuth, StepLicense, StepSignature, StepClock, StepProduct, StepSeats)
		return g.d
	}
	g.d.Server = base
	one := cfg
	one.Servers = []string{base}
	one.ManualRenew = true
	one.Attempts = 1
	one.OnLost, one.OnModeChange = nil, nil
	c, err := New(one)
	if err != nil {
		g.add(StepAddress, StepFail, base, err.Error(), "fix the client configuration named in the cause", fmt.Errorf("%w: %v", ErrBadAddress, err))
		g.skip(StepDNS, StepTCP, StepTLS, StepAPI, StepAuth, StepLicense, StepSignature, StepClock, StepProduct, StepSeats)
		return g.d
	}
	g.c, g.s = c, c.servers[0]
	g.u, _ = url.Parse(base)
	g.add(StepAddress, StepOK, base, "", "", nil)
	steps := []func(context.Context) bool{g.dns, g.tcp, g.tlsCheck, g.api, g.authAndLicense, g.product}
	for _, f := range steps {
		if !f(ctx) {
			break
		}
	}
	// Mark the steps that did not run.
	done := map[string]bool{}
	for _, s := range g.d.Steps {
		done[s.Name] = true
	}
	for _, n := range []string{StepDNS, StepTCP, StepTLS, StepAPI, StepAuth, StepLicense, StepSignature, StepClock, StepProduct, StepSeats} {
		if !done[n] {
			g.skip(n)
		}
	}
	return g.d
}

// ErrBadAddress: the server address or the client configuration is wrong.
var ErrBadAddress = errors.New("bad server address or client configuration")

func (g *diag) dns(ctx context.Context) bool {
	host := g.u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		g.add(StepDNS, StepOK, host+" is an IP address; nothing to resolve", "", "", nil)
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		var de *net.DNSError
		cause := fmt.Sprintf("the name %s cannot be resolved: %v", host, err)
		if errors.As(err, &de) && de.IsTimeout {
			cause = fmt.Sprintf("no DNS server answered for %s in time", host)
		}
		g.add(StepDNS, StepFail, "", cause, "check the server name; check the DNS server (/etc/resolv.conf) or add the name to /etc/hosts; or give the server's IP address",
			unreachable(g.s.base, err))
		return false
	}
	g.add(StepDNS, StepOK, host+" → "+strings.Join(addrs, ", "), "", "", nil)
	return true
}

func (g *diag) hostPort() string {
	port := g.u.Port()
	if port == "" {
		port = "443"
		if g.u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(g.u.Hostname(), port)
}

func (g *diag) tcp(ctx context.Context) bool {
	addr := g.hostPort()
	d := net.Dialer{Timeout: g.c.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		cause, fix := fmt.Sprintf("cannot connect to %s: %v", addr, err), "check that the server runs and the address is right"
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			cause = fmt.Sprintf("nothing listens on %s (connection refused)", addr)
			fix = fmt.Sprintf("start the server (license-server serve --addr %s) or fix the port; 9099 is the default", addr)
		case errors.As(err, &ne) && ne.Timeout():
			cause = fmt.Sprintf("no answer from %s within %s: a firewall drops the packets, or the host is down", addr, g.c.cfg.ConnectTimeout)
			fix = "open the TCP port on the server's firewall and check the route to the server"
		case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
			cause = fmt.Sprintf("no route to %s", addr)
			fix = "check the network connection and routing to the server"
		}
		g.add(StepTCP, StepFail, "", cause, fix, unreachable(g.s.base, err))
		return false
	}
	remote := conn.RemoteAddr().String()
	conn.Close()
	g.add(StepTCP, StepOK, "connected to "+remote, "", "", nil)
	return true
}

func (g *diag) tlsCheck(ctx context.Context) bool {
	host := g.u.Hostname()
	if g.u.Scheme == "http" {
		if isLoopback(host) {
			g.add(StepTLS, StepOK, "plain HTTP on loopback: no TLS needed", "", "", nil)
		} else {
			g.add(StepTLS, StepWarn, "plain HTTP", "the token travels in clear text on the network",
				"serve with TLS (license-server serve --tls-cert F --tls-key F) and use https://", nil)
		}
		return true
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.c.tls != nil {
		cfg = g.c.tls.Clone()
	}
	cfg.ServerName = host
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: g.c.cfg.ConnectTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, g.c.cfg.ConnectTimeout+2*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", g.hostPort())
	if err != nil {
		pin := "pin the server's certificate or CA: seat --ca-file ca.pem (license-server cert writes a test certificate and prints how to trust it)"
		cause, fix := fmt.Sprintf("TLS handshake failed: %v", err), "check that the server serves TLS on this port"
		var ua x509.UnknownAuthorityError
		var he x509.HostnameError
		var ci x509.CertificateInvalidError
		var rh tls.RecordHeaderError
		switch {
		case errors.As(err, &ua):
			cause = "the server's certificate is signed by an authority this client does not trust (a self-signed or private CA certificate)"
			if g.c.cfg.CAFile != "" || g.c.cfg.RootCAs != nil {
				cause = "the server's certificate is not issued by the pinned CA"
				fix = "pin the CA that issued the server's certificate, or check that this is your license server"
			} else {
				fix = pin
			}
		case errors.As(err, &he):
			names := strings.Join(he.Certificate.DNSNames, ", ")
			for _, ip := range he.Certificate.IPAddresses {
				names += ", " + ip.String()
			}
			cause = fmt.Sprintf("the certificate is for %s, not for %s", strings.Trim(names, ", "), host)
			fix = fmt.Sprintf("connect by a name the certificate holds, or issue one for this name: license-server cert --host %s", host)
		case errors.As(err, &ci) && ci.Reason == x509.Expired:
			cause = "the server's certificate has expired or is not yet valid (or this machine's clock is wrong)"
			fix = "renew the server's certificate; check both clocks"
		case errors.As(err, &rh):
			cause = "the server does not speak TLS on this port (plain HTTP?)"
			fix = "use http:// for a server that serves plain HTTP on loopback, or serve TLS"
		}
		g.add(StepTLS, StepFail, "", cause, fix, unreachable(g.s.base, err))
		return false
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	leaf := st.PeerCertificates[0]
	detail := fmt.Sprintf("%s, certificate %q issued by %q, valid until %s", tls.VersionName(st.Version), leaf.Subject.CommonName,
		leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	if left := leaf.NotAfter.Sub(g.c.clock.Now()); left < 14*24*time.Hour {
		g.add(StepTLS, StepWarn, detail, fmt.Sprintf("the certificate expires in %d days", int(left.Hours()/24)), "renew the server's certificate before it expires", nil)
		return true
	}
	g.add(StepTLS, StepOK, detail, "", "", nil)
	return true
}

func (g *diag) api(ctx context.Context) bool {
	r, err := g.c.roundTrip(ctx, g.s, http.MethodGet, PathAPI, nil)
	if err != nil {
		g.add(StepAPI, StepFail, "", err.Error(), "check that the address is the license server's, not a proxy or another service", err)
		return false
	}
	switch r.status {
	case http.StatusOK:
	case http.StatusForbidden:
		g.add(StepAPI, StepFail, "", "the server refuses this client's address (IP list: blacklist.dat, or not in whitelist.dat)",
			"ask the administrator to add this address to whitelist.dat (or remove it from blacklist.dat) in the server's directory", statusError(r, false))
		return false
	case http.StatusTooManyRequests:
		g.add(StepAPI, StepFail, "", "too many failed logins from this address; the server refuses it for a while",
			"wait a minute (Retry-After: "+r.header.Get("Retry-After")+" s), then fix the token; whitelisted addresses are not limited", statusError(r, false))
		return false
	default:
		g.add(StepAPI, StepFail, "", fmt.Sprintf("GET %s answered %d %s: not an airseal license server", PathAPI, r.status, http.StatusText(r.status)),
			"check the address and port; a proxy in between must pass /api through", statusError(r, false))
		return false
	}
	var info APIInfo
	if err := decodeAnswer(r.body, &info); err != nil || info.Protocol != Protocol {
		g.add(StepAPI, StepFail, "", fmt.Sprintf("GET %s does not answer protocol %s: another service listens here", PathAPI, Protocol),
			"check the address and port of the license server", fmt.Errorf("%w: %s: not an airseal license server", ErrUntrustedServer, g.s.base))
		return false
	}
	g.add(StepAPI, StepOK, fmt.Sprintf("protocol %s, server version %s", Protocol, clean(info.Version, 60)), "", "", nil)
	return true
}

// authAndLicense fetches the server's license (GET /api/serverinfo needs
// the credentials) and checks, one step each, the credentials, the license
// with the vendor's keys, the response signature and the clocks.
func (g *diag) authAndLicense(ctx context.Context) bool {
	r, err := g.c.roundTrip(ctx, g.s, http.MethodGet, PathServerInfo, nil)
	if err != nil {
		g.add(StepAuth, StepFail, "", err.Error(), "check the network and the server", err)
		return false
	}
	if r.status != http.StatusOK {
		err := statusError(r, false)
		var se *StatusError
		errors.As(err, &se)
		switch r.status {
		case http.StatusUnauthorized:
			cause := "the server refused the credentials: " + se.Message
			if g.c.cfg.User == "" && g.c.cfg.Token == "" {
				cause = "no credentials were given and the server needs them"
			}
			g.add(StepAuth, StepFail, "", cause, "give the token name and token from 'license-server token add NAME' (seat --user NAME with AIRSEAL_SEAT_TOKEN or --token-file)", err)
		case http.StatusForbidden:
			g.add(StepAuth, StepFail, "", "the server refused this caller: "+se.Message, "ask the administrator for a token with the client role, or to allow this address in the IP lists", err)
		case http.StatusTooManyRequests:
			g.add(StepAuth, StepFail, "", "too many failed logins from this address; the server refuses it for a while", "wait a minute, then fix the token; whitelisted addresses are not limited", err)
		default:
			g.add(StepAuth, StepFail, "", fmt.Sprintf("GET %s answered %d: %s", PathServerInfo, r.status, se.Message), "see the server's log", err)
		}
		return false
	}
	who := "user " + clean(g.c.cfg.User, 80)
	if g.c.cfg.User == "" {
		who = "no credentials needed"
	}
	g.add(StepAuth, StepOK, who, "", "", nil)

	lic, keys, until, err := g.c.verifyInfo(r)
	if err != nil {
		cause, fix := err.Error(), "install the license the vendor issued for this server: license-server license add FILE"
		var le *LicenseError
		if errors.As(err, &le) {
			cause = "the server's license: " + le.Err.Error()
		}
		switch {
		case errors.Is(err, license.ErrUnknownKey):
			cause = "the server's license is not signed by this product's vendor (" + le.Err.Error() + "): a license of another vendor, or a fake server"
			fix = "check that this is your license server; install the vendor's license for it (license-server license add)"
		case errors.Is(err, license.ErrBadSignature):
			cause = "the server's license was changed after the vendor signed it"
			fix = "install the license file exactly as the vendor sent it"
		case errors.Is(err, license.ErrExpired), errors.Is(err, license.ErrNotYetValid):
			fix = "ask the vendor for a renewed server license, or check this machine's clock"
		case errors.Is(err, license.ErrRevoked):
			fix = "the vendor revoked this server license; ask the vendor for a new one"
		case errors.Is(err, license.ErrClockRollback):
			fix = "set this machine's clock right (NTP): it is earlier than a time already seen"
		case errors.Is(err, license.ErrMalformed):
			fix = "the server needs a v2 server license issued from its server-request.json (license-server init)"
		}
		g.add(StepLicense, StepFail, "", cause, fix, err)
		return false
	}
	g.add(StepLicense, StepOK, fmt.Sprintf("serial %s for %s, %d seats, %d node(s), signed by vendor key %s",
		lic.Serial, clean(lic.Customer.Name, 80), lic.Seats, len(lic.Nodes), lic.KeyID), "", "", nil)

	now := g.c.clock.Now()
	t, err := verifyReply(r, keys, now)
	var skew *SkewError
	if err != nil && !errors.As(err, &skew) {
		cause, fix := err.Error(), "check that nothing between this client and the server changes the answers"
		switch {
		case errors.Is(err, ErrReplay):
			cause = "the answer is for another query: a caching proxy or a replayed answer"
			fix = "make any proxy in between pass /api uncached, or connect directly"
		case strings.Contains(err.Error(), "does not name"):
			cause = "the answers are signed by a key the server's license does not name: the server's response key does not match its license, or this is a fake server"
			fix = "if the server was initialized again, send its new server-request.json to the vendor for a new license"
		}
		g.add(StepSignature, StepFail, "", cause, fix, err)
		return false
	}
	g.add(StepSignature, StepOK, fmt.Sprintf("query ID echoed; signed by a node key of the license (%d key(s))", len(keys)), "", "", nil)
	diff := t.Sub(now).Round(time.Second)
	detail := fmt.Sprintf("server %s, this machine %s (%+ds)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), int(diff.Seconds()))
	switch {
	case skew != nil:
		g.add(StepClock, StepFail, detail, fmt.Sprintf("the clocks differ by %s; answers more than %s off are refused as stale", diff, MaxResponseAge),
			"synchronize both clocks (NTP: timedatectl set-ntp true)", err)
		return false
	case diff > ClockWarn || diff < -ClockWarn:
		g.add(StepClock, StepWarn, detail, fmt.Sprintf("the clocks differ by %s (refused above %s)", diff, MaxResponseAge), "synchronize both clocks (NTP)", nil)
	default:
		g.add(StepClock, StepOK, detail, "", "", nil)
	}
	g.c.raiseFloor(t)
	set := r.header.Get(HeaderLicenceSet)
	if set == "" {
		set = "-"
	}
	g.s.setTrust(lic, keys, until, set, g.c.clock.Now())
	return true
}

// product takes a seat for a moment with a fresh session ID and gives it
// back: this checks the product is installed and a seat is free.
func (g *diag) product(ctx context.Context) bool {
	if g.c.cfg.Product == "" {
		g.add(StepProduct, StepSkipped, "", "no product given", "give --product to check the product's license and seats", nil)
		g.add(StepSeats, StepSkipped, "", "no product given", "", nil)
		return true
	}
	p := g.c.cfg.Product
	host, _ := os.Hostname()
	l, err := g.c.Checkout(ctx, Request{AppName: "seat-diagnose", ComputerName: host})
	var ns *NoSeatError
	var de *DeviceError
	var se *StatusError
	switch {
	case err == nil && l.Mode() == ModeDemo:
		g.add(StepProduct, StepFail, "demo mode", fmt.Sprintf("the server has no valid license of %s and answers in demo mode (demo limits apply)", p),
			fmt.Sprintf("install a license of %s on the server (license-server license add), or renew the one that expired", p), fmt.Errorf("%w: %s runs in demo mode on %s", ErrNoSeat, p, g.s.base))
		g.add(StepSeats, StepSkipped, "", "no license of the product", "", nil)
		return false
	case err == nil:
		info := l.Info()
		rel := "released"
		if err := g.c.Release(ctx, l); err != nil {
			rel = "not released (" + err.Error() + "); it expires at " + info.Expires.UTC().Format(time.RFC3339)
		}
		g.add(StepProduct, StepOK, fmt.Sprintf("%s licensed (license %s)", p, info.UsedLicence), "", "", nil)
		g.add(StepSeats, StepOK, "a seat was granted ("+info.ID+") and "+rel, "", "", nil)
		return true
	case errors.As(err, &ns):
		g.add(StepProduct, StepOK, p+" licensed", "", "", nil)
		cause := fmt.Sprintf("every seat of %s is in use", p)
		if ns.Seats > 0 {
			cause = fmt.Sprintf("%d of %d seats of %s are in use", ns.InUse, ns.Seats, p)
		}
		g.add(StepSeats, StepFail, "", cause, "close unused sessions, ask the administrator to force-release stale ones (DELETE /api/sessions/{ID}), or buy more seats", err)
		return false
	case errors.As(err, &de):
		g.add(StepProduct, StepOK, p+" licensed", "", "", nil)
		g.add(StepSeats, StepSkipped, "", "the device is not approved", "", nil)
		cause, fix := deviceMessage(de.State)
		g.add(StepDevice, StepFail, "state "+de.State, cause, fix, err)
		return false
	case errors.As(err, &se) && se.Status == http.StatusServiceUnavailable:
		g.add(StepProduct, StepOK, p, "", "", nil)
		g.add(StepSeats, StepWarn, "", "the server restarted and is reclaiming leases; new seats are given out after one lease lifetime",
			"try again in a few minutes", nil)
		return true
	case errors.As(err, &se) && se.Status == http.StatusForbidden:
		g.add(StepProduct, StepFail, "", "the server refused the checkout: "+se.Message, "ask the administrator for a token with the client role", err)
		return false
	}
	g.add(StepProduct, StepFail, "", err.Error(), "see the server's log", err)
	return false
}

// deviceMessage splits the device state's client message (the Cleverence
// seed's table) into cause and fix.
func deviceMessage(state string) (cause, fix string) {
	msg := devices.State(state).Message()
	if c, f, ok := strings.Cut(msg, " (hint: "); ok {
		return c, strings.TrimSuffix(f, ")")
	}
	return msg, "ask the administrator"
}
