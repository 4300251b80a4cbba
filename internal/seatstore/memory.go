package seatstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
)

// Memory is a Store that keeps everything in memory: for tests, and as the
// reference behaviour of every store. Nothing survives the process.
type Memory struct {
	mu       sync.Mutex
	closed   bool
	licenses map[string]LicenseRecord
	leases   map[string]memLease
	tokens   map[string]TokenRecord
	devices  map[string]devices.Device
	settings map[string]string
	events   []LoggedEvent
}

type memLease struct {
	seats.Lease
	seatKey string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		licenses: map[string]LicenseRecord{},
		leases:   map[string]memLease{},
		tokens:   map[string]TokenRecord{},
		devices:  map[string]devices.Device{},
		settings: map[string]string{},
	}
}

// Commit implements Store.
func (m *Memory) Commit(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(&c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	// Leases first, with an undo log: a refused Grant leaves nothing.
	undo := map[string]*memLease{}
	save := func(id string) {
		if _, ok := undo[id]; ok {
			return
		}
		if old, ok := m.leases[id]; ok {
			undo[id] = &old
		} else {
			undo[id] = nil
		}
	}
	for _, l := range c.PutLeases {
		save(l.ID)
		sk := "s:" + l.ID
		if old, ok := m.leases[l.ID]; ok {
			sk = old.seatKey
		}
		m.leases[l.ID] = memLease{utcLease(l), sk}
	}
	for _, id := range c.DeleteLeases {
		save(id)
		delete(m.leases, id)
	}
	undoAll := func() {
		for id, old := range undo {
			if old == nil {
				delete(m.leases, id)
			} else {
				m.leases[id] = *old
			}
		}
	}
	for _, g := range c.Grants {
		if _, ok := m.leases[g.Lease.ID]; ok && g.New {
			undoAll()
			return leaseExists(g.Lease.ID)
		}
		if err := m.grant(g); err != nil {
			undoAll()
			return err
		}
		save(g.Lease.ID)
		m.leases[g.Lease.ID] = memLease{utcLease(g.Lease), g.seatKey()}
	}
	for _, r := range c.Renewals {
		l, ok := m.leases[r.ID]
		if !ok || l.Lost != "" {
			undoAll()
			return renewRefused(r.ID, ok, l.Lost)
		}
		save(r.ID)
		l.Expires = utc(r.Expires)
		m.leases[r.ID] = l
	}
	for _, l := range c.PutLicenses {
		l.Raw = cloneBytes(l.Raw)
		l.Installed = utc(l.Installed)
		m.licenses[l.Serial] = l
	}
	for _, s := range c.DeleteLicenses {
		delete(m.licenses, s)
	}
	for _, t := range c.PutTokens {
		t.Created = utc(t.Created)
		m.tokens[t.Name] = t
	}
	for _, n := range c.DeleteTokens {
		delete(m.tokens, n)
	}
	for _, d := range c.PutDevices {
		m.devices[d.Code] = cloneDevice(d)
	}
	for _, code := range c.DeleteDevices {
		delete(m.devices, code)
	}
	maps.Copy(m.settings, c.Settings)
	prev := [32]byte{}
	if n := len(m.events); n > 0 {
		prev = m.events[n-1].Hash
	}
	for _, e := range c.Events {
		e.Time = utc(e.Time)
		le := LoggedEvent{Seq: int64(len(m.events)) + 1, Event: e}
		le.Hash = ChainHash(prev, le)
		prev = le.Hash
		m.events = append(m.events, le)
	}
	return nil
}

// grant checks g against the leases stored now (m.mu held).
func (m *Memory) grant(g Grant) error {
	sk := g.seatKey()
	held := map[string]bool{}
	for id, l := range m.leases {
		if id == g.Lease.ID || l.Product != g.Lease.Product || l.Lost != "" {
			continue
		}
		if l.seatKey == sk {
			return nil
		}
		held[l.seatKey] = true
	}
	if len(held) >= g.Seats {
		return noSeat(g.Lease.Product, len(held), g.Seats)
	}
	return nil
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func cloneDevice(d devices.Device) devices.Device {
	if len(d.DemoLimits) == 0 {
		d.DemoLimits = nil
	} else {
		d.DemoLimits = slices.Clone(d.DemoLimits)
	}
	d.Registered = utc(d.Registered)
	d.Decided = utc(d.Decided)
	return d
}

// Load implements Store.
func (m *Memory) Load(ctx context.Context) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	s := &State{Settings: maps.Clone(m.settings)}
	for _, k := range slices.Sorted(maps.Keys(m.licenses)) {
		l := m.licenses[k]
		l.Raw = cloneBytes(l.Raw)
		s.Licenses = append(s.Licenses, l)
	}
	for _, k := range slices.Sorted(maps.Keys(m.leases)) {
		s.Leases = append(s.Leases, m.leases[k].Lease)
	}
	for _, k := range slices.Sorted(maps.Keys(m.tokens)) {
		s.Tokens = append(s.Tokens, m.tokens[k])
	}
	for _, k := range slices.Sorted(maps.Keys(m.devices)) {
		s.Devices = append(s.Devices, cloneDevice(m.devices[k]))
	}
	return s, nil
}

// Lease implements Store.
func (m *Memory) Lease(ctx context.Context, id string) (seats.Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return seats.Lease{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return seats.Lease{}, false, ErrClosed
	}
	l, ok := m.leases[id]
	return l.Lease, ok, nil
}

// Events implements Store.
func (m *Memory) Events(ctx context.Context, from, to time.Time, fn func(LoggedEvent) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	evs := m.events[:len(m.events):len(m.events)] // entries are never changed
	m.mu.Unlock()
	for _, e := range evs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !inRange(e.Time, from, to) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func inRange(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
