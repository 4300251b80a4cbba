package seatserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

func (s *Server) getAPI(q *request) (answer, error) {
	seen := map[string]bool{}
	var urns []string
	for _, rt := range routes {
		if rt.Pattern != seat.PathAPI && !seen[rt.Pattern] {
			seen[rt.Pattern] = true
			urns = append(urns, rt.Pattern)
		}
	}
	return answer{http.StatusOK, seat.APIInfo{Version: s.cfg.Version, Protocol: seat.Protocol, Urns: urns}}, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return safetext.Clean(h)
}

// Mode returns "reclaim" inside the reclaim window after a start, "demo"
// when no license is installed, else "licensed".
func (s *Server) Mode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modeLocked(s.now())
}

func (s *Server) modeLocked(now time.Time) string {
	reclaiming := s.core.Reclaiming(now)
	if s.cl != nil {
		reclaiming = s.cl.reclaiming(now)
	}
	switch {
	case reclaiming && !s.cfg.ReadOnly:
		return "reclaim"
	case len(s.records) == 0:
		return seat.ModeDemo
	}
	return seat.ModeLicensed
}

func (s *Server) getServerInfo(q *request) (answer, error) {
	lics := s.ServerLicences()
	info := seat.ServerInfo{
		ComputerName: hostname(), OSType: runtime.GOOS, CPU: runtime.GOARCH, PID: os.Getpid(),
		Version: s.cfg.Version, Started: wireTime(s.started), Time: wireTime(s.now()),
		ComputerID: s.cfg.ComputerID, Node: s.cfg.Node, ResponseKey: s.keyID,
		ServerLicences: lics, Mode: s.Mode(), LeaseSeconds: int(s.cfg.Lease / time.Second),
	}
	if len(lics) > 0 {
		info.ServerLicence = lics[0]
	}
	return answer{http.StatusOK, info}, nil
}

func (s *Server) getLicences(q *request) (answer, error) {
	return answer{http.StatusOK, seat.Licences{Licences: s.Licences()}}, nil
}

func (s *Server) getLicence(q *request) (answer, error) {
	id := q.params.get("KeyNo")
	if err := checkPathID("KeyNo", id); err != nil {
		return answer{}, err
	}
	l, ok := s.Licence(id)
	if !ok {
		return answer{}, &statusError{http.StatusNotFound, "no license " + safetext.Clean(id) + " is installed; GET /api/licences lists them"}
	}
	return answer{http.StatusOK, l}, nil
}

func (s *Server) postLicences(q *request) (answer, error) {
	w, err := ParseInstall(q.body)
	if err != nil {
		return answer{}, err
	}
	res, err := s.Install(q.r.Context(), []byte(w.ActivationCodeString), string(w.ITN), string(w.IEC))
	if err != nil {
		return answer{}, err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		s.adminAction(q, "install license", res.Licence.KeyNo+" ("+res.Licence.KeyID+", "+res.Licence.Kind+")")
	}
	return answer{status, res.Licence}, nil
}

func (s *Server) deleteLicence(q *request) (answer, error) {
	id := q.params.get("KeyNo")
	if err := checkPathID("KeyNo", id); err != nil {
		return answer{}, err
	}
	l, ok := s.Licence(id)
	if !ok {
		return answer{}, &statusError{http.StatusNotFound, "no license " + safetext.Clean(id) + " is installed; GET /api/licences lists them"}
	}
	if err := s.Remove(q.r.Context(), l.KeyNo); err != nil {
		return answer{}, err
	}
	s.adminAction(q, "remove license", l.KeyNo+" ("+l.KeyID+")")
	l.Enabled, l.Workable = false, false
	return answer{http.StatusOK, l}, nil
}

func (s *Server) postRevocations(q *request) (answer, error) {
	data, err := ParseRevocations(q.body)
	if err != nil {
		return answer{}, err
	}
	res, err := s.AddRevocations(q.r.Context(), data)
	if err != nil {
		return answer{}, err
	}
	s.adminAction(q, "apply revocation list", fmt.Sprintf("key %s sequence %d, revoked %v", res.KeyID, res.Sequence, res.Revoked))
	return answer{http.StatusOK, res}, nil
}

// adminAction logs an admin action and appends it to the audit log.
func (s *Server) adminAction(q *request, what, detail string) {
	from := q.r.RemoteAddr
	if host, _, err := net.SplitHostPort(from); err == nil {
		from = host
	}
	s.log.Info("admin action", "caller", q.caller.name, "what", what, "detail", safetext.Clean(detail), "from", from)
	if s.cfg.Audit != nil {
		if err := s.cfg.Audit.Append(s.now(), q.caller.name, what, from, detail); err != nil {
			s.log.Error("audit log", "err", err)
		}
	}
}

// connectionID names a computer in /api/connections.
func connectionID(computer string) string {
	h := sha256.Sum256([]byte("airseal connection\x00" + computer))
	return strings.ToUpper(hex.EncodeToString(h[:16]))
}

// Connections returns the computers holding seats, by name.
func (s *Server) Connections() []seat.Connection {
	s.mu.Lock()
	ls := s.core.Leases("")
	s.mu.Unlock()
	by := map[string]*seat.Connection{}
	products := map[string]map[string]bool{}
	for _, l := range ls {
		c := by[l.ComputerName]
		if c == nil {
			c = &seat.Connection{ID: connectionID(l.ComputerName), ComputerName: l.ComputerName, Created: wireTime(l.Granted)}
			by[l.ComputerName] = c
			products[l.ComputerName] = map[string]bool{}
		}
		c.Sessions++
		if g := wireTime(l.Granted); g.Before(c.Created) {
			c.Created = g
		}
		if e := wireTime(l.Expires); e.After(c.ExpireTime) {
			c.ExpireTime = e
		}
		if !products[l.ComputerName][l.Product] {
			products[l.ComputerName][l.Product] = true
			c.Products = append(c.Products, l.Product)
		}
	}
	out := make([]seat.Connection, 0, len(by))
	for _, c := range by {
		sort.Strings(c.Products)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ComputerName < out[j].ComputerName })
	return out
}

func (s *Server) getConnections(q *request) (answer, error) {
	return answer{http.StatusOK, seat.Connections{Connections: s.Connections()}}, nil
}

func (s *Server) getConnection(q *request) (answer, error) {
	id := q.params.get("ID")
	if err := checkPathID("ID", id); err != nil {
		return answer{}, err
	}
	for _, c := range s.Connections() {
		if strings.EqualFold(c.ID, id) {
			return answer{http.StatusOK, c}, nil
		}
	}
	return answer{}, &statusError{http.StatusNotFound, "no computer with connection ID " + safetext.Clean(id) + " holds a seat; GET /api/connections lists them"}
}

// sessionLocked describes a lease. The caller holds s.mu.
func (s *Server) sessionLocked(l seats.Lease, features []license.Feature, now time.Time) seat.Session {
	out := seat.Session{
		ID: l.ID, ClientSessionID: l.ClientSessionID, Product: l.Product, KeyID: l.Product, Mode: string(l.Mode),
		AppName: l.AppName, UserName: l.UserName, ComputerName: l.ComputerName,
		Granted: wireTime(l.Granted), Expires: wireTime(l.Expires), ExpireTime: wireTime(l.Expires),
		Expired:    !now.Before(l.Expires),
		RenewEvery: int(s.cfg.Lease / 5 / time.Second),
		Features:   featureMap(features),
	}
	if !l.SessionStarted.IsZero() {
		t := wireTime(l.SessionStarted)
		out.SessionStarted = &t
	}
	if l.Mode == seats.ModeLicensed {
		out.UsedLicence = s.usedLicenceLocked(l.Product, now)
	}
	return out
}

// usedLicenceLocked names the license a product's seats come from: its
// valid main (or demo) license (the core's Capacity, cached).
func (s *Server) usedLicenceLocked(product string, now time.Time) string {
	return s.core.Capacity(product, now).Main
}

func (s *Server) getSessions(q *request) (answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ls := s.core.Leases("")
	out := make([]seat.Session, 0, len(ls))
	features := map[string][]license.Feature{} // per product, computed once
	for _, l := range ls {
		f, ok := features[l.Product]
		if !ok {
			f = s.core.Capacity(l.Product, now).Features
			features[l.Product] = f
		}
		out = append(out, s.sessionLocked(l, f, now))
	}
	return answer{http.StatusOK, seat.Sessions{Sessions: out}}, nil
}

func (s *Server) getSession(q *request) (answer, error) {
	id := q.params.get("ID")
	if err := checkPathID("ID", id); err != nil {
		return answer{}, err
	}
	if s.cl != nil {
		// Cluster mode: the lease as stored now, whichever node holds it.
		l, ok, err := s.storedLease(q.r.Context(), id)
		switch {
		case err != nil:
			return answer{}, err
		case !ok:
			return answer{}, seats.ErrUnknownLease
		case l.Lost != "":
			return answer{}, seatsLost(l.Lost)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.now()
		return answer{http.StatusOK, s.sessionLocked(l, s.core.Capacity(l.Product, now).Features, now)}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.core.Lease(id); ok {
		return answer{http.StatusOK, s.sessionLocked(l, s.core.Capacity(l.Product, now).Features, now)}, nil
	}
	if l, ok := s.core.Lost(id); ok {
		return answer{}, seatsLost(l.Lost)
	}
	return answer{}, seats.ErrUnknownLease
}

func seatsLost(why string) error {
	return &lostError{why}
}

type lostError struct{ why string }

func (e *lostError) Error() string { return seats.ErrLost.Error() + ": " + e.why }
func (e *lostError) Unwrap() error { return seats.ErrLost }

// Checkout takes a seat (or returns the lease the session holds, or a
// demo-mode answer) and makes it durable before returning; created is
// true when a seat was taken now. It is POST /api/sessions without HTTP.
func (s *Server) Checkout(ctx context.Context, r seats.Request) (sess seat.Session, created bool, err error) {
	return s.checkout(ctx, r, nil)
}

// checkout is Checkout that, for a request q, prepares its signed answer
// while the change is made durable.
func (s *Server) checkout(ctx context.Context, r seats.Request, q *request) (sess seat.Session, created bool, err error) {
	if s.cl != nil {
		sess, _, created, err = s.clusterCheckout(ctx, r)
		return sess, created, err
	}
	var g seats.Grant
	var out seat.Session
	err = s.applyErrThen(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		var ev []seats.Event
		var err error
		g, ev, err = s.core.Checkout(r, now)
		if err == nil {
			out = s.sessionLocked(g.Lease, g.Features, now)
		}
		return ev, seatstore.Change{}, err
	}, func() {
		if q != nil {
			q.prepare(s, checkoutStatus(g.Created), out)
		}
	})
	return out, g.Created, err
}

func (s *Server) postSessions(q *request) (answer, error) {
	r, err := ParseCheckout(q.body)
	if err != nil {
		return answer{}, err
	}
	sess, created, err := s.checkout(q.r.Context(), r, q)
	if err != nil {
		return answer{}, err
	}
	return answer{checkoutStatus(created), sess}, nil
}

// checkoutStatus is 201 for a seat taken now, 200 for one held already.
func checkoutStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *Server) renewSession(q *request) (answer, error) {
	id := q.params.get("ID")
	if err := checkPathID("ID", id); err != nil {
		return answer{}, err
	}
	if s.cl != nil {
		out, err := s.clusterRenew(q.r.Context(), id)
		if err != nil {
			return answer{}, err
		}
		return answer{http.StatusOK, out}, nil
	}
	var out seat.Session
	err := s.applyErrThen(q.r.Context(), func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		l, ev, err := s.core.Renew(id, now)
		if err == nil {
			out = s.sessionLocked(l, s.core.Capacity(l.Product, now).Features, now)
		}
		return ev, seatstore.Change{}, err
	}, func() { q.prepare(s, http.StatusOK, out) })
	if err != nil {
		return answer{}, err
	}
	return answer{http.StatusOK, out}, nil
}

func (s *Server) deleteSession(q *request) (answer, error) {
	id := q.params.get("ID")
	if err := checkPathID("ID", id); err != nil {
		return answer{}, err
	}
	detail := "released by " + q.caller.name
	if q.caller.role == seat.RoleAdmin {
		detail = "force-released by admin " + q.caller.name
	}
	var released bool
	var err error
	if s.cl != nil {
		released, err = s.clusterRelease(q.r.Context(), id, detail)
	} else {
		err = s.apply(q.r.Context(), func(now time.Time) ([]seats.Event, seatstore.Change) {
			var ev []seats.Event
			released, ev = s.core.Release(id, now, detail)
			return ev, seatstore.Change{}
		})
	}
	if err != nil {
		return answer{}, err
	}
	if !released {
		return answer{http.StatusAccepted, seat.Release{ID: id, Released: false}}, nil
	}
	if q.caller.role == seat.RoleAdmin {
		s.adminAction(q, "force-release seat", id)
	}
	return answer{http.StatusOK, seat.Release{ID: id, Released: true}}, nil
}
