package seatserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/console"
	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// newConsole builds the web console over s (Extras.Console). The caller is
// initExtras.
func (s *Server) newConsole() (*console.Console, error) {
	if s.cfg.Users == nil {
		return nil, fmt.Errorf("%w: the console needs Users", ErrConfig)
	}
	return console.New(console.Options{
		Backend: consoleBackend{s}, Users: s.cfg.Users, Audit: s.cfg.Audit, AuditPath: s.cfg.Extras.AuditPath,
		IPListDir: s.cfg.Extras.IPListDir, IPListError: s.IPListError,
		Limiter: s.ext.limit, IPDecision: s.IPDecision, Gate: s.passGate, Now: s.now, Logger: s.log,
	})
}

// serveConsole serves the console's paths (/ and /console/...) when it
// is on, after the IP lists; it reports whether it answered.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if s.ext == nil || s.ext.console == nil || (p != "/" && p != console.Prefix && !strings.HasPrefix(p, console.Prefix+"/")) {
		return false
	}
	if !s.IPDecision(remoteAddrOf(r)).Allowed() {
		http.Error(w, "this address is refused by the server's IP lists (blacklist.dat, not in whitelist.dat)", http.StatusForbidden)
		return true
	}
	s.ext.console.ServeHTTP(w, r)
	return true
}

// consoleBackend is console.Backend over the server.
type consoleBackend struct{ s *Server }

func (b consoleBackend) Products() []console.Product {
	s := b.s
	lics := s.Licences()
	held := map[string]int{}
	for _, d := range s.ext.reg.List(devices.Approved) {
		held[d.App]++
	}
	s.mu.Lock()
	now := s.now()
	var out []console.Product
	seen := map[string]bool{}
	for _, l := range s.core.Licenses() {
		if seen[l.Product] {
			continue
		}
		seen[l.Product] = true
		cp := s.core.Capacity(l.Product, now)
		out = append(out, console.Product{Name: l.Product, Seats: cp.Seats, InUse: s.core.InUse(l.Product), Peak: s.peak[l.Product],
			Unit: seatUnitName(cp.Unit), Devices: held[l.Product]})
	}
	s.mu.Unlock()
	for i := range out {
		p := &out[i]
		// The product runs until its last working main (or demo) license
		// ends; with none working, until the last one ended.
		var best *seat.Licence
		for j := range lics {
			l := &lics[j]
			if l.KeyID != p.Name || l.Kind == license.KindAdditional.String() {
				continue
			}
			if best == nil || (l.Workable && !best.Workable) || (l.Workable == best.Workable && later(l.ExpireDate, best.ExpireDate)) {
				best = l
			}
		}
		if best != nil && best.ExpireDate != nil {
			p.Expires = best.ExpireDate
			d := int(best.ExpireDate.Sub(now).Hours() / 24)
			if best.ExpireDate.Before(now) {
				d = -1
			}
			p.DaysLeft = &d
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// later reports whether a ends after b (nil: never ends).
func later(a, b *time.Time) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	return a.After(*b)
}

func (b consoleBackend) Licences() []seat.Licence { return b.s.Licences() }

func (b consoleBackend) Install(ctx context.Context, code []byte, itn, iec string) (seat.Licence, error) {
	res, err := b.s.Install(ctx, code, itn, iec)
	if err != nil {
		return seat.Licence{}, err
	}
	return res.Licence, nil
}

func (b consoleBackend) RemoveLicence(ctx context.Context, serial string) error {
	return b.s.Remove(ctx, serial)
}

func (b consoleBackend) Sessions(offset, limit int) ([]seat.Session, int) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ls, total := s.core.LeasesPage("", offset, limit)
	out := make([]seat.Session, 0, len(ls))
	features := map[string][]license.Feature{}
	for _, l := range ls {
		f, ok := features[l.Product]
		if !ok {
			f = s.core.Capacity(l.Product, now).Features
			features[l.Product] = f
		}
		out = append(out, s.sessionLocked(l, f, now))
	}
	return out, total
}

func (b consoleBackend) ReleaseSession(ctx context.Context, id, by string) error {
	if err := checkPathID("ID", id); err != nil {
		return err
	}
	var released bool
	err := b.s.apply(ctx, func(now time.Time) ([]seats.Event, seatstore.Change) {
		var ev []seats.Event
		released, ev = b.s.core.Release(id, now, "force-released by admin "+safetext.Clean(by)+" in the console")
		return ev, seatstore.Change{}
	})
	if err != nil {
		return err
	}
	if !released {
		return fmt.Errorf("no lease %s: it was released or expired meanwhile", safetext.Clean(id))
	}
	return nil
}

func (b consoleBackend) Devices() []devices.Device { return b.s.ext.reg.List("") }

func (b consoleBackend) ApproveDevice(ctx context.Context, code, by string) (devices.Device, error) {
	return b.s.ApproveDevice(ctx, code, by)
}

func (b consoleBackend) DenyDevice(ctx context.Context, code, by string) (devices.Device, error) {
	return b.s.DenyDevice(ctx, code, by)
}

func (b consoleBackend) UnlinkDevice(ctx context.Context, code string) (devices.Device, error) {
	return b.s.UnlinkDevice(ctx, code)
}

func (b consoleBackend) Settings() console.Settings {
	return console.Settings{Lease: b.s.cfg.Lease, Sweep: b.s.cfg.Extras.Sweep, Products: b.Products(), Node: b.s.cfg.Node, KeyID: b.s.keyID}
}
