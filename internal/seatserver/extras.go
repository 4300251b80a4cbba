package seatserver

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/console"
	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/iplist"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/seatstore"
)

// Extras configures the administrator's side of the server (issue 11):
// devices that need an approval, the IP lists and the failed-login limit.
// The zero value has devices with the default caps, no IP lists and the
// default login limit.
type Extras struct {
	// Devices tunes the device registry (caps, the notification hook).
	// Its Now is replaced by the server's clock.
	Devices devices.Options
	// IPListDir holds whitelist.dat and blacklist.dat (internal/iplist):
	// empty for no IP lists. The files are reloaded when they change.
	IPListDir string
	// Console serves the web console at / and /console/ (needs
	// Config.Users). AuditPath is the audit log file it shows; Sweep is
	// shown on its settings page.
	Console   bool
	AuditPath string
	Sweep     time.Duration
}

// extState is the running state of Extras.
type extState struct {
	devMu   sync.Mutex // serializes a registry change with its commit
	reg     *devices.Registry
	lists   *iplist.Lists
	limit   *loginlimit.Limiter
	listMu  sync.Mutex
	checked time.Time // last check of the IP list files
	listErr error     // the last reload error (the previous lists stay)
	console *console.Console
}

// listReload is how often the IP list files are checked for a change.
const listReload = time.Second

// initExtras sets up Extras from the loaded state. The caller is New.
func (s *Server) initExtras(st *seatstore.State) error {
	// One failed-login limiter for the API and the console (New set
	// cfg.LoginLimit); whitelisted addresses are exempt from it, as the
	// Cleverence seed says, unless the caller chose its own exemption.
	x := &extState{limit: s.cfg.LoginLimit}
	if s.cfg.Exempt == nil {
		s.cfg.Exempt = func(a netip.Addr) bool { return s.IPDecision(a) == iplist.Whitelisted }
	}
	opt := s.cfg.Extras.Devices
	opt.Now = s.now
	if opt.HookError == nil {
		opt.HookError = func(d devices.Device, err error) {
			s.log.Error("device notification hook", "device", d.Code, "err", err)
		}
	}
	reg, err := devices.New(coreSeats{s}, opt)
	if err != nil {
		return err
	}
	if err := reg.Load(st.Devices); err != nil {
		return err
	}
	x.reg = reg
	if dir := s.cfg.Extras.IPListDir; dir != "" {
		l, err := iplist.Open(dir)
		if err != nil {
			return err
		}
		x.lists = l
	}
	s.ext = x
	if s.cfg.Extras.Console {
		c, err := s.newConsole()
		if err != nil {
			return err
		}
		x.console = c
	}
	return nil
}

// remoteAddrOf is the client's address.
func remoteAddrOf(r *http.Request) netip.Addr { return loginlimit.RemoteAddr(r) }

// Devices returns the device registry.
func (s *Server) Devices() *devices.Registry { return s.ext.reg }

// LoginLimiter returns the failed-login limiter.
func (s *Server) LoginLimiter() *loginlimit.Limiter { return s.ext.limit }

// IPDecision decides for a client address by the IP lists (Allowed when
// the server has none). The files are checked for a change at most once a
// second; a malformed file keeps the lists in force and is logged with its
// line number.
func (s *Server) IPDecision(a netip.Addr) iplist.Decision {
	x := s.ext
	if x.lists == nil {
		return iplist.Allowed
	}
	now := time.Now()
	x.listMu.Lock()
	if now.Sub(x.checked) >= listReload {
		x.checked = now
		err := x.lists.Reload()
		if err != nil && (x.listErr == nil || err.Error() != x.listErr.Error()) {
			s.log.Error("IP lists not reloaded; the previous lists stay in force", "err", err)
		}
		x.listErr = err
	}
	x.listMu.Unlock()
	if !a.IsValid() {
		return iplist.Blacklisted
	}
	return x.lists.Check(a)
}

// IPListError returns the error of the last reload of the IP lists (nil
// when they loaded).
func (s *Server) IPListError() error {
	s.ext.listMu.Lock()
	defer s.ext.listMu.Unlock()
	return s.ext.listErr
}

// refuseAddr answers 403 when the client's address is refused by the IP
// lists and reports whether it did.
func (s *Server) refuseAddr(w http.ResponseWriter, r *http.Request, qid string) bool {
	if s.IPDecision(loginlimit.RemoteAddr(r)).Allowed() {
		return false
	}
	s.fail(w, r, qid, caller{}, &statusError{http.StatusForbidden, "this address is refused by the server's IP lists (blacklist.dat, not in whitelist.dat); ask the administrator"})
	return true
}

// keepDeviceSeats renews the seats of approved devices (a device seat
// lasts until it is unlinked, but the core's leases expire) and retries
// those in demo mode, so a freed seat or a renewed subscription takes
// effect without the administrator. Run calls it on every sweep.
func (s *Server) keepDeviceSeats(ctx context.Context) {
	for _, d := range s.ext.reg.List("") {
		switch d.State {
		case devices.Approved, devices.NoSeat, devices.SubscriptionEnded:
			if _, err := s.CheckDevice(ctx, d.Code); err != nil && ctx.Err() == nil {
				s.log.Warn("renewing a device seat", "device", d.Code, "err", err)
			}
		}
	}
}
