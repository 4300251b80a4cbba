// Package devices is the license server's per-device approval: a handheld
// terminal registers, waits for an administrator, and once approved holds
// one device seat of its product until it is unlinked.
//
// The states, each with the message the client shows (the Cleverence
// seed's diagnostics table):
//
//	(none) --Register--> pending --Approve--> approved | no_seat | subscription_ended
//	                        |                     ^  (Check retries the seat)
//	                      Deny                    |
//	                        v                     |
//	                     denied --Register--> pending
//
//	any state --Unlink--> (none), freeing the seat if one was held
//
// Approve takes a seat through a SeatTaker (the seat core implements it;
// MemorySeats is a second implementation for tests). When no seat is free
// the device is approved but runs in demo mode with the license's demo
// limits (no_seat); when the product's subscription has ended it runs in
// demo mode too (subscription_ended). Check, called on every connection of
// a device, asks the SeatTaker again, so a device gets its seat as soon as
// one is freed, and a renewed subscription takes effect without the admin.
//
// # Security
//
// Registration is open to anyone who can reach the server, so everything a
// device sends is validated before it is stored (CheckCode, CheckName,
// CheckApp: length and character set, no control or bidirectional
// characters), and storage is bounded: at most Options.MaxPendingPerIP
// pending requests per client address (an IPv6 client is counted by its
// /64, which one host usually owns whole) and Options.MaxPending in total;
// pending requests older than Options.PendingTTL are dropped. Only an
// administrator's Approve creates a seat, and a device never holds two:
// approving an approved device does not call the SeatTaker again.
//
// The notification hook (Hook) runs a command without a shell, its path
// absolute, with the device's values in environment variables and as JSON
// on standard input — never in its argument list — cleaned with
// internal/safetext, with a minimal environment (the server's own
// environment, which may hold secrets, is not passed on) and a timeout. Or
// it writes one file per request, mode 0600, never replacing a file.
//
// What is not guaranteed: a device code is what the device says it is;
// two devices that send the same code are one device to this package. The
// approval is what stands between a stranger and a seat.
package devices

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/license"
)

// State is where a device stands.
type State string

// The states.
const (
	// Pending: registered, waiting for an administrator.
	Pending State = "pending"
	// Denied: an administrator refused it; it may register again.
	Denied State = "denied"
	// Approved: it holds one device seat of its product.
	Approved State = "approved"
	// NoSeat: approved, but no device seat was free: demo mode.
	NoSeat State = "no_seat"
	// SubscriptionEnded: approved, but the product's license
	// subscription has ended: demo mode.
	SubscriptionEnded State = "subscription_ended"
)

// Message is the text the client shows for the state (the meaning of the
// Cleverence seed's messages), with what to do.
func (s State) Message() string {
	switch s {
	case Pending:
		return "the administrator has not yet allowed this device (hint: ask the administrator to approve the request, or wait until they do)"
	case Denied:
		return "the administrator denied this device; register again (hint: send a new registration request and ask the administrator to approve it)"
	case Approved:
		return "this device is licensed"
	case NoSeat:
		return "no free device license: working in demo mode with the license's demo limits (hint: ask the administrator to unlink a device that is no longer used, or to add device licenses)"
	case SubscriptionEnded:
		return "the license subscription has ended: working in demo mode (hint: ask the administrator to renew the subscription)"
	}
	return "unknown device state"
}

// Licensed reports whether the device works without demo limits.
func (s State) Licensed() bool { return s == Approved }

// Errors matched with errors.Is.
var (
	// ErrUnknown: no device with that code is registered.
	ErrUnknown = errors.New("device is not registered (hint: register it first: POST /api/devices)")
	// ErrTooManyPending: a cap on pending requests was reached.
	ErrTooManyPending = errors.New("too many pending device requests")
	// ErrInvalid: a value the device sent is malformed.
	ErrInvalid = errors.New("invalid device request")
	// ErrState: the action does not apply to the device's state.
	ErrState = errors.New("action not allowed in this device state")
	// ErrNoSeat is returned by a SeatTaker when no device seat is free.
	ErrNoSeat = errors.New("no free device seat")
	// ErrSubscriptionEnded is returned by a SeatTaker when the product's
	// license subscription has ended.
	ErrSubscriptionEnded = errors.New("license subscription ended")
)

// Grant is a SeatTaker's answer. With ErrNoSeat or ErrSubscriptionEnded
// the Grant is returned too and carries the demo limits in force.
type Grant struct {
	// KeyNo names the license the seat came from (empty in demo mode).
	KeyNo string
	// DemoLimits apply when the device runs in demo mode.
	DemoLimits []license.Feature
}

// SeatTaker hands out device seats. The seat core implements it.
//
// TakeDeviceSeat must be idempotent per (product, device): a device that
// already holds a seat gets the same seat back, never a second one; it is
// also how Check learns that an existing holder's subscription ended.
// It returns ErrNoSeat or ErrSubscriptionEnded (errors.Is) with a Grant
// carrying the demo limits. ReleaseDeviceSeat frees the device's seat; a
// device that holds none is not an error.
type SeatTaker interface {
	TakeDeviceSeat(product, device string) (Grant, error)
	ReleaseDeviceSeat(product, device string) error
}

// Device is one registered device, as stored and shown. Every string came
// from the device and was validated before it was stored.
type Device struct {
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	App        string    `json:"app"` // the product whose device seat it needs
	IP         string    `json:"ip"`
	Registered time.Time `json:"registered"`
	State      State     `json:"state"`
	// Decided and DecidedBy record the last administrator action.
	Decided   time.Time `json:"decided,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	// KeyNo is the license holding the seat (Approved only).
	KeyNo string `json:"key_no,omitempty"`
	// DemoLimits apply in NoSeat and SubscriptionEnded.
	DemoLimits []license.Feature `json:"demo_limits,omitempty"`
}

// Message is the device's client message.
func (d Device) Message() string { return d.State.Message() }

// Request is what a device sends to register.
type Request struct {
	Code string
	Name string
	App  string
	IP   netip.Addr // the server records it from the connection
}

// Limits on values a device sends.
const (
	MaxCode = 64  // bytes of [A-Za-z0-9._:-]
	MaxName = 128 // bytes of safe text (64 Cyrillic letters)
	MaxApp  = 128 // bytes of safe text
)

// CheckCode validates a device code: 1 to MaxCode characters of letters,
// digits, '.', '_', ':' and '-'.
func CheckCode(code string) error {
	if len(code) == 0 || len(code) > MaxCode {
		return fmt.Errorf("%w: device code must be 1 to %d characters", ErrInvalid, MaxCode)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("%w: device code %q: only letters, digits, '.', '_', ':' and '-'", ErrInvalid, safetext.Clean(code))
		}
	}
	return nil
}

// CheckName validates a device name: 1 to MaxName bytes of text
// internal/safetext accepts.
func CheckName(name string) error { return checkText("device name", name, MaxName) }

// CheckApp validates an app (product) name: 1 to MaxApp bytes of text
// internal/safetext accepts.
func CheckApp(app string) error { return checkText("app", app, MaxApp) }

func checkText(field, s string, limit int) error {
	if len(s) == 0 || len(s) > limit {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalid, field, limit)
	}
	if err := safetext.Check(field, s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// Options configures a Registry. Zero fields take the defaults.
type Options struct {
	// MaxPendingPerIP caps pending requests from one address (IPv6: one
	// /64). Default 20: a warehouse behind one NAT registers its
	// terminals at once.
	MaxPendingPerIP int
	// MaxPending caps pending requests in total. Default 1000.
	MaxPending int
	// PendingTTL drops pending requests older than this. Default 7 days.
	PendingTTL time.Duration
	// Hook, when set, is told of each new pending request.
	Hook *Hook
	// HookError receives hook failures (the registration itself
	// succeeded). The server should log them; nil drops them.
	HookError func(Device, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Registry holds the devices. It is safe for concurrent use.
type Registry struct {
	seats SeatTaker
	opt   Options
	mu    sync.Mutex
	m     map[string]*Device
}

// New returns an empty registry taking seats from seats.
func New(seats SeatTaker, opt Options) (*Registry, error) {
	if seats == nil {
		return nil, errors.New("devices: no SeatTaker")
	}
	if opt.MaxPendingPerIP <= 0 {
		opt.MaxPendingPerIP = 20
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 1000
	}
	if opt.PendingTTL <= 0 {
		opt.PendingTTL = 7 * 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Hook != nil {
		if err := opt.Hook.check(); err != nil {
			return nil, err
		}
	}
	return &Registry{seats: seats, opt: opt, m: map[string]*Device{}}, nil
}

// ipKey is the unit of the per-IP cap: the IPv4 address, or the /64 of an
// IPv6 address.
func ipKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (r *Registry) prune(now time.Time) {
	for code, d := range r.m {
		if d.State == Pending && now.Sub(d.Registered) > r.opt.PendingTTL {
			delete(r.m, code)
		}
	}
}

// TooManyPendingError says which cap was hit; errors.Is matches
// ErrTooManyPending.
type TooManyPendingError struct {
	PerIP bool // the per-address cap, else the total cap
	Limit int
}

func (e *TooManyPendingError) Error() string {
	if e.PerIP {
		return fmt.Sprintf("%v: %d from this address are waiting for the administrator (hint: approve or deny them first)", ErrTooManyPending, e.Limit)
	}
	return fmt.Sprintf("%v: %d are waiting for the administrator (hint: approve or deny them first)", ErrTooManyPending, e.Limit)
}

// Is matches ErrTooManyPending.
func (e *TooManyPendingError) Is(target error) bool { return target == ErrTooManyPending }

// Register records a device's request. A new device, or one that was
// denied, becomes Pending (and the hook runs); a device already pending or
// decided is returned as it is, so a retry is harmless. A code registered
// for another app is refused (unlink it first). Values are validated
// before anything is stored; the caps are checked before a new request is
// stored.
func (r *Registry) Register(req Request) (Device, error) {
	if err := CheckCode(req.Code); err != nil {
		return Device{}, err
	}
	if err := CheckName(req.Name); err != nil {
		return Device{}, err
	}
	if err := CheckApp(req.App); err != nil {
		return Device{}, err
	}
	if !req.IP.IsValid() {
		return Device{}, fmt.Errorf("%w: no client address", ErrInvalid)
	}
	ip := req.IP.Unmap().WithZone("")
	r.mu.Lock()
	now := r.opt.Now()
	r.prune(now)
	if d, ok := r.m[req.Code]; ok {
		if d.App != req.App {
			r.mu.Unlock()
			return Device{}, fmt.Errorf("%w: device %s is registered for app %q (hint: unlink it first)", ErrState, d.Code, d.App)
		}
		if d.State != Denied {
			out := clone(d)
			r.mu.Unlock()
			return out, nil
		}
	}
	total, perIP := 0, 0
	key := ipKey(ip)
	for _, d := range r.m {
		if d.State == Pending {
			total++
			if ipKey(netip.MustParseAddr(d.IP)) == key {
				perIP++
			}
		}
	}
	if perIP >= r.opt.MaxPendingPerIP {
		r.mu.Unlock()
		return Device{}, &TooManyPendingError{PerIP: true, Limit: r.opt.MaxPendingPerIP}
	}
	if total >= r.opt.MaxPending {
		r.mu.Unlock()
		return Device{}, &TooManyPendingError{Limit: r.opt.MaxPending}
	}
	d := &Device{Code: req.Code, Name: req.Name, App: req.App, IP: ip.String(), Registered: now.UTC(), State: Pending}
	r.m[req.Code] = d
	out := clone(d)
	r.mu.Unlock()
	if h := r.opt.Hook; h != nil {
		if err := h.Notify(out); err != nil && r.opt.HookError != nil {
			r.opt.HookError(out, err)
		}
	}
	return out, nil
}

func clone(d *Device) Device {
	out := *d
	out.DemoLimits = append([]license.Feature(nil), d.DemoLimits...)
	return out
}

// take asks the SeatTaker for d's seat and sets d's state from the answer.
func (r *Registry) take(d *Device) error {
	g, err := r.seats.TakeDeviceSeat(d.App, d.Code)
	switch {
	case err == nil:
		d.State, d.KeyNo, d.DemoLimits = Approved, g.KeyNo, nil
	case errors.Is(err, ErrNoSeat):
		d.State, d.KeyNo, d.DemoLimits = NoSeat, "", g.DemoLimits
	case errors.Is(err, ErrSubscriptionEnded):
		d.State, d.KeyNo, d.DemoLimits = SubscriptionEnded, "", g.DemoLimits
	default:
		return fmt.Errorf("device %s: taking a seat of %q: %w", d.Code, d.App, err)
	}
	return nil
}

// Approve approves a pending device: it takes one device seat of its app
// (Approved), or finds none free (NoSeat, demo mode) or the subscription
// ended (SubscriptionEnded, demo mode). Approving a device in NoSeat or
// SubscriptionEnded tries the seat again; approving an Approved device
// changes nothing (never a second seat). A denied device must register
// again first. by names the administrator.
func (r *Registry) Approve(code, by string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.m[code]
	if !ok {
		return Device{}, fmt.Errorf("device %s: %w", safetext.Clean(code), ErrUnknown)
	}
	switch d.State {
	case Approved:
		return clone(d), nil
	case Denied:
		return Device{}, fmt.Errorf("device %s was denied: %w (hint: the device must register again)", d.Code, ErrState)
	}
	prev := *d
	if err := r.take(d); err != nil {
		*d = prev
		return Device{}, err
	}
	d.Decided, d.DecidedBy = r.opt.Now().UTC(), by
	return clone(d), nil
}

// Deny refuses a device that holds no seat (Pending, NoSeat,
// SubscriptionEnded; any seat the seat core still links to it is freed).
// An Approved device must be unlinked instead.
func (r *Registry) Deny(code, by string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.m[code]
	if !ok {
		return Device{}, fmt.Errorf("device %s: %w", safetext.Clean(code), ErrUnknown)
	}
	switch d.State {
	case Approved:
		return Device{}, fmt.Errorf("device %s holds a seat: %w (hint: unlink it instead)", d.Code, ErrState)
	case NoSeat, SubscriptionEnded:
		// The seat core may still link a seat whose subscription ended.
		if err := r.seats.ReleaseDeviceSeat(d.App, d.Code); err != nil {
			return Device{}, fmt.Errorf("device %s: freeing its seat of %q: %w", d.Code, d.App, err)
		}
	}
	d.State, d.KeyNo, d.DemoLimits = Denied, "", nil
	d.Decided, d.DecidedBy = r.opt.Now().UTC(), by
	return clone(d), nil
}

// Unlink forgets a device in any state and frees its seat if it held one
// (the seat core is asked even in NoSeat and SubscriptionEnded, where a
// seat may still be linked). The device must register again to come back.
func (r *Registry) Unlink(code string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.m[code]
	if !ok {
		return Device{}, fmt.Errorf("device %s: %w", safetext.Clean(code), ErrUnknown)
	}
	switch d.State {
	case Approved, NoSeat, SubscriptionEnded:
		if err := r.seats.ReleaseDeviceSeat(d.App, d.Code); err != nil {
			return Device{}, fmt.Errorf("device %s: freeing its seat of %q: %w", d.Code, d.App, err)
		}
	}
	delete(r.m, code)
	return clone(d), nil
}

// Check is what a device's connection calls: it returns the device's state
// and message. For an approved device (Approved, NoSeat,
// SubscriptionEnded) it asks the SeatTaker again, so a freed seat or a
// renewed subscription takes effect, and an ended subscription shows.
func (r *Registry) Check(code string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(r.opt.Now())
	d, ok := r.m[code]
	if !ok {
		return Device{}, fmt.Errorf("device %s: %w", safetext.Clean(code), ErrUnknown)
	}
	switch d.State {
	case Approved, NoSeat, SubscriptionEnded:
		prev := *d
		if err := r.take(d); err != nil {
			*d = prev
			return Device{}, err
		}
	}
	return clone(d), nil
}

// Get returns a device without asking the SeatTaker.
func (r *Registry) Get(code string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.m[code]
	if !ok {
		return Device{}, fmt.Errorf("device %s: %w", safetext.Clean(code), ErrUnknown)
	}
	return clone(d), nil
}

// List returns the devices in state s (all when s is empty), oldest
// registration first, then by code.
func (r *Registry) List(s State) []Device {
	r.mu.Lock()
	r.prune(r.opt.Now())
	out := make([]Device, 0, len(r.m))
	for _, d := range r.m {
		if s == "" || d.State == s {
			out = append(out, clone(d))
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Registered.Equal(out[j].Registered) {
			return out[i].Registered.Before(out[j].Registered)
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// Count returns how many devices are in each state.
func (r *Registry) Count() map[State]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(r.opt.Now())
	out := map[State]int{}
	for _, d := range r.m {
		out[d.State]++
	}
	return out
}

// Load replaces the registry's devices with ds (from the server's store),
// validating every value as Register does. On error nothing changes. The
// seats of approved devices are not taken again here: the seat core keeps
// its own record and Check reconciles.
func (r *Registry) Load(ds []Device) error {
	m := make(map[string]*Device, len(ds))
	for i, d := range ds {
		err := errors.Join(CheckCode(d.Code), CheckName(d.Name), CheckApp(d.App))
		if err == nil {
			if _, perr := netip.ParseAddr(d.IP); perr != nil {
				err = fmt.Errorf("%w: ip %q", ErrInvalid, safetext.Clean(d.IP))
			}
		}
		if err == nil {
			switch d.State {
			case Pending, Denied, Approved, NoSeat, SubscriptionEnded:
			default:
				err = fmt.Errorf("%w: state %q", ErrInvalid, safetext.Clean(string(d.State)))
			}
		}
		if err == nil {
			if _, dup := m[d.Code]; dup {
				err = fmt.Errorf("%w: device code %s twice", ErrInvalid, d.Code)
			}
		}
		if err != nil {
			return fmt.Errorf("device %d: %w", i+1, err)
		}
		d := d
		d.DemoLimits = append([]license.Feature(nil), d.DemoLimits...)
		m[d.Code] = &d
	}
	r.mu.Lock()
	r.m = m
	r.mu.Unlock()
	return nil
}
