package usagereport

import (
	"hash/maphash"
	"sort"
	"strings"
	"time"
)

// Event kinds the summary counts (internal/seats).
const (
	kindGrant   = "grant"
	kindRenew   = "renew"
	kindRelease = "release"
	kindExpire  = "expire"
	kindRefuse  = "refuse"
	kindLost    = "lost"
)

// demoDetail starts the Detail of a refusal that answered demo mode (no
// valid license), as opposed to one for lack of a free seat.
const demoDetail = "no valid license"

// Day is one product's usage on one UTC day.
type Day struct {
	// Day is the UTC date, YYYY-MM-DD.
	Day     string `json:"day"`
	Product string `json:"product"`
	// Peak is the most leases held at once.
	Peak int `json:"peak"`
	// SeatSeconds is the time leases were held, summed (seat-hours ×
	// 3600), from their grant (or, for a lease granted before the report's
	// first record, its first renewal) to their release, expiry or loss.
	SeatSeconds int64 `json:"seat_seconds"`
	// Refusals are checkouts refused for lack of a free seat.
	Refusals int `json:"refusals"`
	// Demo are checkouts answered in demo mode (no valid license).
	Demo int `json:"demo"`
	// Users and Sessions count the distinct user names and client session
	// IDs seen in the day's records (the devices of the day).
	Users    int `json:"users"`
	Sessions int `json:"sessions"`
}

// SeatHours returns SeatSeconds in hours.
func (d *Day) SeatHours() float64 { return float64(d.SeatSeconds) / 3600 }

type dayKey struct {
	day     int64 // days since the Unix epoch
	product string
}

type productState struct {
	live int
	last time.Time
}

// summarizer computes the per-day summary from records in log order. Its
// memory grows with the leases held at once and the distinct users and
// sessions of two days, not with the log.
type summarizer struct {
	from, to time.Time
	seed     maphash.Seed
	days     map[dayKey]*Day
	products map[string]*productState
	leases   map[string]string // lease ID → product, held now
	users    map[dayKey]map[uint64]struct{}
	sessions map[dayKey]map[uint64]struct{}
	maxDay   int64
}

func newSummarizer(from, to time.Time) *summarizer {
	return &summarizer{from: from, to: to, seed: maphash.MakeSeed(), days: map[dayKey]*Day{}, products: map[string]*productState{},
		leases: map[string]string{}, users: map[dayKey]map[uint64]struct{}{}, sessions: map[dayKey]map[uint64]struct{}{}, maxDay: -1 << 62}
}

func dayOf(t time.Time) int64 {
	return floorDiv(t.Unix(), 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (s *summarizer) day(k dayKey) *Day {
	d := s.days[k]
	if d == nil {
		d = &Day{Day: time.Unix(k.day*86400, 0).UTC().Format(time.DateOnly), Product: k.product}
		s.days[k] = d
	}
	return d
}

func (s *summarizer) inRange(t time.Time) bool {
	return !t.Before(s.from) && t.Before(s.to)
}

// integrate accounts the leases held by product p from its last event to
// t, clipped to the report's period, split at UTC midnights.
func (s *summarizer) integrate(p string, ps *productState, t time.Time) {
	if !t.After(ps.last) {
		return
	}
	a, b := ps.last, t
	ps.last = t
	if a.Before(s.from) {
		a = s.from
	}
	if b.After(s.to) {
		b = s.to
	}
	for a.Before(b) {
		k := dayKey{dayOf(a), p}
		end := time.Unix((k.day+1)*86400, 0)
		if end.After(b) {
			end = b
		}
		if ps.live > 0 {
			d := s.day(k)
			d.SeatSeconds += int64(ps.live) * int64(end.Sub(a)/time.Second)
			if ps.live > d.Peak {
				d.Peak = ps.live
			}
		}
		a = end
	}
}

func (s *summarizer) product(p string, t time.Time) *productState {
	ps := s.products[p]
	if ps == nil {
		ps = &productState{last: t}
		s.products[p] = ps
	}
	return ps
}

func (s *summarizer) add(r *Record) {
	if r.Kind == KindCheckpoint || r.Product == "" {
		return
	}
	ps := s.product(r.Product, r.Time)
	s.integrate(r.Product, ps, r.Time)
	switch r.Kind {
	case kindGrant, kindRenew:
		if r.LeaseID != "" {
			if _, ok := s.leases[r.LeaseID]; !ok {
				s.leases[r.LeaseID] = r.Product
				ps.live++
			}
		}
	case kindRelease, kindExpire, kindLost:
		if p, ok := s.leases[r.LeaseID]; ok && r.LeaseID != "" {
			delete(s.leases, r.LeaseID)
			if q := s.products[p]; q != nil && q.live > 0 {
				q.live--
			}
		}
	}
	if !s.inRange(r.Time) {
		return
	}
	k := dayKey{dayOf(r.Time), r.Product}
	d := s.day(k)
	if ps.live > d.Peak {
		d.Peak = ps.live
	}
	if r.Kind == kindRefuse {
		if strings.HasPrefix(r.Detail, demoDetail) {
			d.Demo++
		} else {
			d.Refusals++
		}
	}
	if r.User != "" {
		s.distinct(s.users, k, r.User)
	}
	if r.Session != "" {
		s.distinct(s.sessions, k, r.Session)
	}
	if k.day > s.maxDay {
		s.maxDay = k.day
		s.flush(k.day - 1)
	}
}

func (s *summarizer) distinct(m map[dayKey]map[uint64]struct{}, k dayKey, v string) {
	set := m[k]
	if set == nil {
		set = map[uint64]struct{}{}
		m[k] = set
	}
	set[maphash.String(s.seed, v)] = struct{}{}
}

// flush counts and forgets the distinct sets of days before before; a
// record of such a day arriving later (clock skew between nodes) opens a
// new set whose count is added.
func (s *summarizer) flush(before int64) {
	for k, set := range s.users {
		if k.day < before {
			s.day(k).Users += len(set)
			delete(s.users, k)
		}
	}
	for k, set := range s.sessions {
		if k.day < before {
			s.day(k).Sessions += len(set)
			delete(s.sessions, k)
		}
	}
}

// finish accounts the leases still held up to end and returns the days,
// sorted by day then product.
func (s *summarizer) finish(end time.Time) []Day {
	for p, ps := range s.products {
		s.integrate(p, ps, end)
	}
	s.flush(1 << 62)
	out := make([]Day, 0, len(s.days))
	for _, d := range s.days {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Product < out[j].Product
	})
	return out
}
