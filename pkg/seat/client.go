package seat

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// Defaults of Config.
const (
	// DefaultConnectTimeout bounds a TCP connect to one server, so a dead
	// server costs seconds, not minutes, before the next is tried.
	DefaultConnectTimeout = 3 * time.Second
	// DefaultRequestTimeout bounds one request to one server, response
	// included.
	DefaultRequestTimeout = 15 * time.Second
	// DefaultBackoff is the first wait between passes over the server list;
	// it doubles up to MaxBackoff.
	DefaultBackoff = 500 * time.Millisecond
	// MaxBackoff caps the wait between passes over the server list.
	MaxBackoff = 30 * time.Second
	// DefaultAttempts is how many passes over the server list Checkout,
	// Renew and Release make before they give up.
	DefaultAttempts = 2
)

// Clock is the time source of a Client. Tests pass a fake one; nil means
// the system clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Client. Servers and Keyring are required.
type Config struct {
	// Servers are the license servers, tried in this order (the primary,
	// then the 1C-style ReservedServers). Each is a base URL
	// ("https://lic1.corp:9099") or HOST[:PORT], which means
	// https://HOST:PORT (port 9099 when omitted).
	Servers []string
	// Keyring holds the vendor's public keys: the only keys a server
	// license is verified with. Never anything the server supplies.
	Keyring *keys.Keyring
	// Product is the product whose seats are asked for (Request.Product
	// overrides it per checkout).
	Product string
	// User and Token are the Basic-auth credentials of this client: the
	// name and the API token from 'license-server token add NAME'.
	User, Token string
	// CAFile is a PEM file of the CA (or self-signed certificate) to pin
	// for TLS: only certificates it issued are accepted. RootCAs is the
	// same as a pool. Both empty: the system's roots.
	CAFile  string
	RootCAs *x509.CertPool
	// HTTPClient replaces the client built from the fields above (its
	// redirects are not followed). Timeouts still apply per request.
	HTTPClient *http.Client
	// AllowHTTP allows plain http:// servers other than loopback. The
	// responses stay signed, but the token travels in clear text.
	AllowHTTP bool
	// Clock is the time source; nil for the system clock.
	Clock Clock
	// State keeps the clock floor between runs (the newest signed server
	// time seen); nil keeps it in memory only.
	State license.StateStore
	// Revocations is a signed revocation list (any encoding) applied to
	// server licenses; nil for none.
	Revocations []byte
	// Grace, when positive, bounds how long a lease is kept while no server
	// can be reached. It is never longer than the lease itself: the grace
	// ends at the signed Expires of the last renewal whatever Grace says.
	// 0 means "until Expires".
	Grace time.Duration
	// OnLost is called once, from the heartbeat goroutine, when a lease is
	// lost: taken away by the server, refused at failover, or not renewed
	// before it expired. err says why (ErrGraceEnded, ErrLeaseLost,
	// ErrNoSeat, ...). It must not block for long.
	OnLost func(l *Lease, err error)
	// OnModeChange is called, from the heartbeat goroutine, when a lease's
	// mode changes between licensed and demo (a license installed, removed
	// or a seat freed while the session runs in demo mode). It may call
	// Close (e.g. to stop on demo mode); it must not block for long.
	OnModeChange func(l *Lease, from, to Mode)
	// ManualRenew turns off the automatic heartbeats: the caller renews
	// with Client.Renew (scripts, cmd/seat).
	ManualRenew bool
	// ConnectTimeout, RequestTimeout, Backoff and Attempts: see the
	// Default constants; zero values take the defaults.
	ConnectTimeout time.Duration
	RequestTimeout time.Duration
	Backoff        time.Duration
	Attempts       int
}

// Client talks to a list of license servers. It is safe for concurrent use.
type Client struct {
	cfg     Config
	servers []*server
	http    *http.Client
	tls     *tls.Config // nil when Config.HTTPClient was given
	clock   Clock

	floorMu sync.Mutex
	floor   time.Time // newest signed server time seen
	saved   time.Time // floor last written to cfg.State
}

// New checks cfg and returns a Client. Errors name the field and the fix.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("seat: Servers: give at least one license server (https://HOST:9099)")
	}
	if cfg.Keyring == nil || cfg.Keyring.Len() == 0 {
		return nil, errors.New("seat: Keyring: give the vendor's public keys; a server is trusted only through a license they signed")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Grace < 0 {
		return nil, errors.New("seat: Grace: must not be negative (0 means until the lease expires)")
	}
	c := &Client{cfg: cfg, clock: cfg.Clock}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	seen := map[string]bool{}
	for _, s := range cfg.Servers {
		base, err := NormalizeServer(s, cfg.AllowHTTP)
		if err != nil {
			return nil, fmt.Errorf("seat: Servers: %w", err)
		}
		if seen[base] {
			return nil, fmt.Errorf("seat: Servers: %s is listed twice", base)
		}
		seen[base] = true
		c.servers = append(c.servers, &server{base: base})
	}
	hc, tc, err := buildHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	c.http, c.tls = hc, tc
	if cfg.State != nil {
		st, err := cfg.State.Load()
		if err != nil {
			return nil, fmt.Errorf("seat: State: %w", err)
		}
		c.floor, c.saved = st.NewestSeen, st.NewestSeen
	}
	return c, nil
}

// Servers returns the normalized base URLs, in the order they are tried.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.base
	}
	return out
}

// ClockFloor returns the newest signed server time this client has seen
// (or loaded from Config.State): a time the machine's clock cannot
// honestly be earlier than. Pass it to license.VerifyOptions.ClockFloor.
func (c *Client) ClockFloor() time.Time {
	c.floorMu.Lock()
	defer c.floorMu.Unlock()
	return c.floor
}

// raiseFloor records a verified server time; it is saved to Config.State
// when it moved by a minute or more (not a file write per response).
func (c *Client) raiseFloor(t time.Time) {
	c.floorMu.Lock()
	defer c.floorMu.Unlock()
	if !t.After(c.floor) {
		return
	}
	c.floor = t
	if c.cfg.State != nil && t.Sub(c.saved) >= time.Minute {
		st, err := c.cfg.State.Load()
		if err == nil {
			if t.After(st.NewestSeen) {
				st.NewestSeen = t
				err = c.cfg.State.Save(st)
			}
			if err == nil {
				c.saved = t
			}
		}
	}
}

// NormalizeServer turns a server as configured into a base URL:
// "https://HOST:PORT" for HOST[:PORT] (port 9099 by default), or the URL
// given, without a trailing slash. It refuses schemes other than http and
// https, credentials, queries and fragments in the URL, and plain http to
// anything but loopback unless allowHTTP. A path prefix is kept; the server
// signs the path it receives, so a reverse proxy in between must not
// rewrite paths.
func NormalizeServer(s string, allowHTTP bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty server address")
	}
	if !strings.Contains(s, "://") {
		host := s
		if _, _, err := net.SplitHostPort(s); err != nil {
			host = net.JoinHostPort(strings.Trim(s, "[]"), strconv.Itoa(DefaultPort))
		}
		s = "https://" + host
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL or HOST[:PORT]: %v", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%q: scheme %q, want https (or http on loopback)", s, u.Scheme)
	}
	if u.User != nil {
		return "", fmt.Errorf("%q: credentials in the URL would be logged; give them as User and Token (seat --user, AIRSEAL_SEAT_TOKEN)", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: a server URL has no query or fragment", s)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%q: no host name", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: port %q is not 1 to 65535", s, p)
		}
	}
	if u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("%q: plain http to a host other than loopback sends the token in clear text; use https (allow it explicitly only on a trusted network)", s)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadCA reads a PEM file of certificates to pin (bounded) into a pool.
func LoadCA(path string) (*x509.CertPool, error) {
	data, err := fileio.ReadRegular(nil, path, fileio.LimitKeyring, "CA certificate file")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate found; give the server's CA or self-signed certificate (license-server cert writes one)", path)
	}
	return pool, nil
}

func buildHTTPClient(cfg Config) (*http.Client, *tls.Config, error) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.HTTPClient != nil {
		if cfg.CAFile != "" || cfg.RootCAs != nil {
			return nil, nil, errors.New("seat: CAFile/RootCAs: give the pinned CA in HTTPClient's transport when HTTPClient is set")
		}
		hc := *cfg.HTTPClient
		hc.CheckRedirect = noRedirect
		var tc *tls.Config
		if tr, ok := hc.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
			tc = tr.TLSClientConfig
		}
		return &hc, tc, nil
	}
	pool := cfg.RootCAs
	if cfg.CAFile != "" {
		if pool != nil {
			return nil, nil, errors.New("seat: CAFile and RootCAs: give one of them")
		}
		p, err := LoadCA(cfg.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("seat: CAFile: %w", err)
		}
		pool = p
	}
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr := &http.Transport{
		Proxy:                 nil, // a seat server is on the local network; never an environment proxy
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   cfg.ConnectTimeout + 2*time.Second,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirect}, tc, nil
}
