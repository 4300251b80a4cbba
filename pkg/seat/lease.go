package seat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/internal/seats"
)

// Mode is how a session runs: licensed (it holds a seat) or demo (the
// server has no valid license of the product and sent its demo limits).
type Mode string

// Request is a checkout. Empty fields take defaults.
type Request struct {
	// Product overrides Config.Product.
	Product string
	// ClientSessionID is the idempotency key: a retry with the same ID
	// gets the same lease back, never a second seat. 16 to 64 characters
	// of A-Z a-z 0-9 _ -; empty means 128 random bits.
	ClientSessionID string
	// AppName, UserName and ComputerName describe the session to the
	// server's admin. Defaults: the program name, the OS user, the host
	// name. Per-computer licenses count one seat per ComputerName.
	AppName, UserName, ComputerName string
	// SessionStarted is when the session began; zero means now.
	SessionStarted time.Time
}

// LeaseInfo is a lease as the server last granted or renewed it.
type LeaseInfo struct {
	// Server is the base URL holding the lease.
	Server string `json:"server"`
	// ID is the server's lease ID; empty in demo mode (no seat held).
	ID              string `json:"id,omitempty"`
	ClientSessionID string `json:"client_session_id"`
	Product         string `json:"product"`
	Mode            Mode   `json:"mode"`
	// UsedLicence is the serial of the license that holds the seat.
	UsedLicence string `json:"used_licence,omitempty"`
	// Granted and Expires are the server's times: the server reclaims the
	// seat at Expires unless it is renewed.
	Granted time.Time `json:"granted"`
	Expires time.Time `json:"expires"`
	// RenewEvery is how often the lease is renewed (in JSON:
	// renew_every_seconds).
	RenewEvery time.Duration `json:"-"`
	// Features are the entitlements (the demo limits in demo mode).
	Features map[string]int64 `json:"features"`
	// ServerTime is the signed time of the server's last answer.
	ServerTime time.Time `json:"server_time"`
}

type leaseInfoJSON struct {
	plainLeaseInfo
	RenewEvery float64 `json:"renew_every_seconds"`
}

type plainLeaseInfo LeaseInfo

// MarshalJSON writes RenewEvery in seconds.
func (i LeaseInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(leaseInfoJSON{plainLeaseInfo(i), i.RenewEvery.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (i *LeaseInfo) UnmarshalJSON(b []byte) error {
	var v leaseInfoJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*i = LeaseInfo(v.plainLeaseInfo)
	if v.RenewEvery < 0 || v.RenewEvery > 24*3600 {
		return fmt.Errorf("renew_every_seconds: %v is not 0 to 86400", v.RenewEvery)
	}
	i.RenewEvery = time.Duration(v.RenewEvery * float64(time.Second))
	return nil
}

// Lease is a seat (or a demo-mode session) held by this client. Unless
// Config.ManualRenew is set, a goroutine renews it every RenewEvery until
// Close, trying the servers of the list in order when the one holding it
// fails. It is safe for concurrent use.
type Lease struct {
	c   *Client
	req CheckoutRequest

	mu       sync.Mutex
	info     LeaseInfo
	srv      *server
	deadline time.Time // on c.clock: kept until then without an answer
	err      error

	done     chan struct{}
	doneOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	loop     sync.WaitGroup
	// inCallback is set while OnModeChange runs.
	inCallback atomic.Bool
}

// Info returns a copy of the lease as last granted or renewed.
func (l *Lease) Info() LeaseInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	info := l.info
	info.Features = cloneFeatures(l.info.Features)
	return info
}

// Mode returns the lease's current mode.
func (l *Lease) Mode() Mode {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info.Mode
}

// Done is closed when the lease ends: lost (Err says why; after OnLost
// has returned) or closed.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns why the lease ended, or nil while it is held.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Deadline returns the time (on the client's clock) until which the lease
// is held without a further answer: the signed Expires of the last renewal,
// carried over to this machine's clock, or earlier under Config.Grace.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

func cloneFeatures(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkoutRequest fills the defaults of r.
func (c *Client) checkoutRequest(r Request) (CheckoutRequest, error) {
	product := r.Product
	if product == "" {
		product = c.cfg.Product
	}
	if product == "" {
		return CheckoutRequest{}, fmt.Errorf("%w: Product: name the product whose seat to take (Config.Product or Request.Product)", ErrBadRequest)
	}
	id := r.ClientSessionID
	if id == "" {
		id = newQueryID()
	}
	if err := seats.CheckSessionID(id); err != nil {
		return CheckoutRequest{}, fmt.Errorf("%w: ClientSessionID: %v", ErrBadRequest, err)
	}
	app, usr, host := r.AppName, r.UserName, r.ComputerName
	if app == "" {
		app = filepath.Base(os.Args[0])
	}
	if usr == "" {
		if u, err := user.Current(); err == nil {
			usr = u.Username
		}
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	started := r.SessionStarted
	if started.IsZero() {
		started = c.clock.Now()
	}
	return CheckoutRequest{Product: product, ClientSessionID: id, AppName: clean(app, 200), UserName: clean(usr, 200),
		ComputerName: clean(host, 200), SessionStarted: started.UTC().Format(TimeFormat)}, nil
}

// retryable reports whether err is a failure of one server that another
// server (or a later attempt) may not have: unreachable, untrusted,
// replayed, starting up, or a 5xx.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusServiceUnavailable || se.Status >= 500 || !se.Verified
	}
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUntrustedServer) || errors.Is(err, ErrReplay)
}

// session decodes and checks a lease body against the request.
func session(r *reply, want CheckoutRequest) (LeaseInfo, error) {
	var s Session
	if err := decodeAnswer(r.body, &s); err != nil {
		return LeaseInfo{}, fmt.Errorf("%w: %s: the lease is refused: %v", ErrServer, r.server, clean(err.Error(), 500))
	}
	bad := func(format string, args ...any) (LeaseInfo, error) {
		return LeaseInfo{}, fmt.Errorf("%w: %s: the lease %s", ErrServer, r.server, fmt.Sprintf(format, args...))
	}
	switch {
	case s.ClientSessionID != want.ClientSessionID:
		return bad("is for session %q, not %q", clean(s.ClientSessionID, 80), want.ClientSessionID)
	case want.Product != "" && s.Product != want.Product:
		return bad("is for product %q, not %q", clean(s.Product, 200), want.Product)
	case s.Mode != ModeLicensed && s.Mode != ModeDemo:
		return bad("has mode %q, want licensed or demo", clean(s.Mode, 40))
	case s.Mode == ModeLicensed && s.ID == "":
		return bad("has no ID")
	case len(s.ID) > 200:
		return bad("ID is %d bytes long", len(s.ID))
	case s.Mode == ModeLicensed && !s.Expires.After(r.time):
		return bad("expires at %s, not after the server's time %s", s.Expires.UTC().Format(TimeFormat), r.time.UTC().Format(TimeFormat))
	}
	every := time.Duration(s.RenewEvery) * time.Second
	if life := s.Expires.Sub(r.time); s.Mode == ModeLicensed && (every <= 0 || every > life/2) {
		every = life / 2 // renew well before the seat is reclaimed, whatever RenewEvery says
	}
	if every < time.Second {
		every = time.Second
	}
	if s.Mode == ModeDemo && s.RenewEvery <= 0 {
		every = time.Minute // ask again for a seat now and then
	}
	return LeaseInfo{Server: r.server, ID: clean(s.ID, 200), ClientSessionID: s.ClientSessionID, Product: s.Product,
		Mode: Mode(s.Mode), UsedLicence: clean(s.UsedLicence, 100), Granted: s.Granted, Expires: s.Expires,
		RenewEvery: every, Features: s.Features, ServerTime: r.time}, nil
}

// order returns the servers to try, first the one given (when not nil).
func (c *Client) order(first *server) []*server {
	out := make([]*server, 0, len(c.servers))
	if first != nil {
		out = append(out, first)
	}
	for _, s := range c.servers {
		if s != first {
			out = append(out, s)
		}
	}
	return out
}

// pass sends one request to each server in turn until one gives an answer
// that is not retryable (success, or a verdict of a trusted server).
func (c *Client) pass(ctx context.Context, list []*server, fn func(*server) error) (*server, error) {
	var fails []ServerFailure
	for _, s := range list {
		err := fn(s)
		if err == nil || !retryable(err) {
			return s, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fails = append(fails, ServerFailure{Server: s.base, Err: err})
	}
	return nil, &ListError{Failures: fails}
}

// passes runs pass up to Config.Attempts times, waiting with backoff in
// between.
func (c *Client) passes(ctx context.Context, first *server, fn func(*server) error) (*server, error) {
	wait := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		s, err := c.pass(ctx, c.order(first), fn)
		if err == nil || !retryable(err) || attempt >= c.cfg.Attempts {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.clock.After(wait):
		}
		wait = min(2*wait, MaxBackoff)
	}
}

// checkoutOn asks one server for the seat.
func (c *Client) checkoutOn(ctx context.Context, s *server, req CheckoutRequest) (LeaseInfo, error) {
	r, err := c.call(ctx, s, http.MethodPost, PathSessions, req)
	if err != nil {
		var ns *NoSeatError
		if errors.As(err, &ns) && ns.Product == "" {
			ns.Product = req.Product
		}
		return LeaseInfo{}, err
	}
	return session(r, req)
}

// Checkout takes a seat of the product: it tries the servers in order
// (each with a short connect timeout; Config.Attempts passes with backoff)
// until one answers. The answer is a lease (Mode licensed), a demo-mode
// session (Mode demo: the server has no valid license and sent the demo
// limits), or an error: ErrNoSeat (*NoSeatError), ErrDeviceNotApproved,
// ErrUnauthorized, ErrForbidden, ErrUntrustedServer, ErrReplay,
// ErrUnreachable. Unless Config.ManualRenew is set, the lease renews
// itself until Close.
func (c *Client) Checkout(ctx context.Context, r Request) (*Lease, error) {
	req, err := c.checkoutRequest(r)
	if err != nil {
		return nil, err
	}
	var info LeaseInfo
	s, err := c.passes(ctx, nil, func(s *server) error {
		var err error
		info, err = c.checkoutOn(ctx, s, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	l := c.newLease(req, s, info)
	if !c.cfg.ManualRenew {
		l.start()
	}
	return l, nil
}

func (c *Client) newLease(req CheckoutRequest, s *server, info LeaseInfo) *Lease {
	l := &Lease{c: c, req: req, srv: s, done: make(chan struct{}), stop: make(chan struct{})}
	l.set(s, info)
	return l
}

// set records a grant or renewal and moves the deadline; it returns the
// previous mode.
func (l *Lease) set(s *server, info LeaseInfo) Mode {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.info.Mode
	l.info, l.srv = info, s
	now := l.c.clock.Now()
	if info.Mode == ModeLicensed {
		// Carried over to the local clock: the seat is held for as long as
		// the server said, counted from when its answer arrived.
		l.deadline = now.Add(info.Expires.Sub(info.ServerTime))
	} else {
		l.deadline = now.Add(max(info.RenewEvery, time.Minute))
	}
	if g := l.c.cfg.Grace; g > 0 && now.Add(g).Before(l.deadline) {
		l.deadline = now.Add(g)
	}
	return old
}

// Resume takes over a lease saved earlier (LeaseInfo from Lease.Info, e.g.
// by a script between runs). Its server must be in the list. Heartbeats
// start unless Config.ManualRenew is set; the deadline is the saved
// Expires read on this machine's clock.
func (c *Client) Resume(info LeaseInfo) (*Lease, error) {
	var s *server
	for _, x := range c.servers {
		if x.base == info.Server {
			s = x
		}
	}
	if s == nil {
		return nil, fmt.Errorf("seat: the lease is held by %s, which is not in the server list %v", info.Server, c.Servers())
	}
	if err := seats.CheckSessionID(info.ClientSessionID); err != nil {
		return nil, fmt.Errorf("seat: ClientSessionID: %v", err)
	}
	if info.Mode == ModeLicensed && info.ID == "" {
		return nil, errors.New("seat: the saved lease has no ID")
	}
	req := CheckoutRequest{Product: info.Product, ClientSessionID: info.ClientSessionID, AppName: filepath.Base(os.Args[0])}
	l := &Lease{c: c, req: req, srv: s, info: info, done: make(chan struct{}), stop: make(chan struct{})}
	l.deadline = info.Expires
	if l.info.RenewEvery <= 0 {
		l.info.RenewEvery = time.Minute
	}
	if !c.cfg.ManualRenew {
		l.start()
	}
	return l, nil
}

// renewOnce makes one pass: renew on the server holding the lease, then
// the idempotent checkout (same ClientSessionID) on it and the others in
// order, carrying the lease over to the first that answers. A demo-mode
// session asks for a seat again, the primary server first.
func (c *Client) renewOnce(ctx context.Context, l *Lease) (LeaseInfo, *server, error) {
	l.mu.Lock()
	cur, id, mode, req := l.srv, l.info.ID, l.info.Mode, l.req
	l.mu.Unlock()
	if mode == ModeLicensed && id != "" {
		r, err := c.call(ctx, cur, http.MethodPost, RenewPath(url.PathEscape(id)), nil)
		if err == nil {
			var info LeaseInfo
			info, err = session(r, req)
			if err == nil {
				return info, cur, nil
			}
		}
		if !retryable(err) && !errors.Is(err, ErrUnknownLease) {
			return LeaseInfo{}, nil, err // the seat was taken away (410), or credentials refused
		}
		// Unknown (reclaimed while unreachable): ask it again for the seat
		// with the same session ID, then the others. Failed: the others
		// first, it last (a dead server costs a timeout per try).
		list := c.order(cur)
		if !errors.Is(err, ErrUnknownLease) {
			list = append(list[1:], cur)
		}
		return c.checkoutList(ctx, list, req)
	}
	return c.checkoutList(ctx, c.order(nil), req)
}

// checkoutList makes one pass of idempotent checkouts over list.
func (c *Client) checkoutList(ctx context.Context, list []*server, req CheckoutRequest) (LeaseInfo, *server, error) {
	var info LeaseInfo
	s, err := c.pass(ctx, list, func(s *server) error {
		var err error
		info, err = c.checkoutOn(ctx, s, req)
		return err
	})
	return info, s, err
}

// Renew renews the lease now (Config.Attempts passes with backoff), moving
// it to another server of the list if the one holding it fails. A
// definitive refusal (the seat lost, no seat free at failover) ends the
// lease: Err returns it.
func (c *Client) Renew(ctx context.Context, l *Lease) error {
	if err := l.Err(); err != nil {
		return err
	}
	wait := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		info, s, err := c.renewOnce(ctx, l)
		if err == nil {
			l.apply(s, info)
			return nil
		}
		if ctx.Err() != nil {
			// The caller gave up (shutting down, its own deadline): the
			// servers refused nothing, so the lease is not lost.
			return ctx.Err()
		}
		if !retryable(err) {
			l.lose(err)
			return err
		}
		if attempt >= c.cfg.Attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.clock.After(wait):
		}
		wait = min(2*wait, MaxBackoff)
	}
}

// apply records a renewal and reports a mode change.
func (l *Lease) apply(s *server, info LeaseInfo) {
	if old := l.set(s, info); old != info.Mode && l.c.cfg.OnModeChange != nil {
		l.inCallback.Store(true)
		defer l.inCallback.Store(false)
		l.c.cfg.OnModeChange(l, old, info.Mode)
	}
}

// Release gives the seat back: DELETE on the server holding it, then the
// others (a node of the same cluster can release it too). A lease the
// server no longer knows counts as released. It stops the heartbeats.
func (c *Client) Release(ctx context.Context, l *Lease) error {
	l.halt()
	l.mu.Lock()
	cur, id, mode := l.srv, l.info.ID, l.info.Mode
	l.mu.Unlock()
	if mode != ModeLicensed || id == "" {
		l.end(ErrClosed)
		return nil // a demo-mode session holds no seat
	}
	_, err := c.passes(ctx, cur, func(s *server) error {
		_, err := c.call(ctx, s, http.MethodDelete, SessionPath(url.PathEscape(id)), nil)
		if errors.Is(err, ErrUnknownLease) {
			return nil
		}
		return err
	})
	if err == nil {
		l.end(ErrClosed)
	}
	return err
}

// Close stops the heartbeats and releases the seat. After Close, Err
// returns ErrClosed.
func (l *Lease) Close(ctx context.Context) error {
	if err := l.Err(); err != nil && !errors.Is(err, ErrClosed) {
		l.halt()
		return nil // lost: nothing to give back
	}
	return l.c.Release(ctx, l)
}

// end records why the lease ended and closes Done, once.
func (l *Lease) end(err error) bool {
	set := l.setErr(err)
	l.doneOnce.Do(func() { close(l.done) })
	return set
}

// setErr records why the lease ended, once.
func (l *Lease) setErr(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false
	}
	l.err = err
	return true
}

// lose ends the lease and calls OnLost before Done is closed, so a
// goroutine waiting on Done sees what OnLost did.
func (l *Lease) lose(err error) {
	if l.setErr(err) && l.c.cfg.OnLost != nil {
		l.c.cfg.OnLost(l, err)
	}
	l.doneOnce.Do(func() { close(l.done) })
}

// start runs the heartbeat goroutine. OnLost is called after the loop has
// ended, so OnLost may call Close.
func (l *Lease) start() {
	l.loop.Add(1)
	go func() {
		err := l.heartbeat()
		l.loop.Done()
		if err != nil {
			l.lose(err)
		}
	}()
}

// halt stops the heartbeat goroutine and waits for it, unless called from
// OnModeChange (which runs on that goroutine: waiting would never end; the
// loop ends as soon as the callback returns).
func (l *Lease) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	if !l.inCallback.Load() {
		l.loop.Wait()
	}
}

// heartbeat renews every RenewEvery. When no server answers it retries
// with backoff, keeping the seat until the deadline (the signed Expires,
// or Config.Grace); then the lease is lost (ErrGraceEnded). A definitive
// refusal loses it at once.
func (l *Lease) heartbeat() error {
	c := l.c
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := time.Duration(0)
	for {
		l.mu.Lock()
		wait, deadline := l.info.RenewEvery, l.deadline
		l.mu.Unlock()
		if backoff > 0 {
			wait = backoff
			if left := deadline.Sub(c.clock.Now()); left > 0 && wait > left {
				wait = left // one last try at the deadline
			}
		}
		select {
		case <-l.stop:
			return nil
		case <-c.clock.After(wait):
		}
		info, s, err := c.renewOnce(ctx, l)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			backoff = 0
			l.apply(s, info)
			continue
		}
		if !retryable(err) {
			return err
		}
		if l.Mode() == ModeLicensed && !c.clock.Now().Before(deadline) {
			return fmt.Errorf("%w (last failure: %w)", ErrGraceEnded, err)
		}
		// A demo-mode session holds no seat: it keeps asking, never lost.
		if backoff == 0 {
			backoff = c.cfg.Backoff
		} else {
			backoff = min(2*backoff, MaxBackoff, max(l.Info().RenewEvery, c.cfg.Backoff))
		}
	}
}
