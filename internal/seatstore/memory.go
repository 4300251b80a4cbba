package seatstore

import (
	"context"
	"maps"
	"slices"
	"strings"
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
	leases   map[string]seats.Lease
	tokens   map[string]TokenRecord
	devices  map[string]devices.Device
	settings map[string]string
	events   []LoggedEvent
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		licenses: map[string]LicenseRecord{},
		leases:   map[string]seats.Lease{},
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, l := range c.PutLicenses {
		l.Raw = slices.Clone(l.Raw)
		m.licenses[l.Serial] = l
	}
	for _, s := range c.DeleteLicenses {
		delete(m.licenses, s)
	}
	for _, l := range c.PutLeases {
		m.leases[l.ID] = l
	}
	for _, id := range c.DeleteLeases {
		delete(m.leases, id)
	}
	for _, t := range c.PutTokens {
		m.tokens[t.Name] = t
	}
	for _, n := range c.DeleteTokens {
		delete(m.tokens, n)
	}
	for _, d := range c.PutDevices {
		d.DemoLimits = slices.Clone(d.DemoLimits)
		m.devices[d.Code] = d
	}
	for _, code := range c.DeleteDevices {
		delete(m.devices, code)
	}
	maps.Copy(m.settings, c.Settings)
	for _, e := range c.Events {
		m.events = append(m.events, LoggedEvent{Seq: int64(len(m.events)) + 1, Event: e})
	}
	return nil
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
		l.Raw = slices.Clone(l.Raw)
		s.Licenses = append(s.Licenses, l)
	}
	for _, k := range slices.Sorted(maps.Keys(m.leases)) {
		s.Leases = append(s.Leases, m.leases[k])
	}
	for _, k := range slices.Sorted(maps.Keys(m.tokens)) {
		s.Tokens = append(s.Tokens, m.tokens[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(m.devices), strings.Compare) {
		d := m.devices[k]
		d.DemoLimits = slices.Clone(d.DemoLimits)
		s.Devices = append(s.Devices, d)
	}
	return s, nil
}

// Events implements Store.
func (m *Memory) Events(ctx context.Context, from, to time.Time, fn func(LoggedEvent) error) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	evs := slices.Clone(m.events)
	m.mu.Unlock()
	for _, e := range evs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if (!from.IsZero() && e.Time.Before(from)) || (!to.IsZero() && !e.Time.Before(to)) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
