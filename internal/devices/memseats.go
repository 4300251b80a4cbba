package devices

import (
	"fmt"
	"sync"

	"github.com/airseal/airseal/pkg/license"
)

// MemorySeats is an in-memory SeatTaker: a fixed number of device seats
// per product. It is for tests of this package and of the server's HTTP
// layer; the seat core is the real implementation. Safe for concurrent
// use.
type MemorySeats struct {
	mu      sync.Mutex
	total   map[string]int
	ended   map[string]bool
	holders map[string]map[string]bool // product → device codes
	// DemoLimits is returned with ErrNoSeat and ErrSubscriptionEnded.
	DemoLimits []license.Feature
}

// NewMemorySeats returns seats[product] device seats per product.
func NewMemorySeats(seats map[string]int) *MemorySeats {
	m := &MemorySeats{total: map[string]int{}, ended: map[string]bool{}, holders: map[string]map[string]bool{}}
	for p, n := range seats {
		m.total[p] = n
	}
	return m
}

// SetSeats changes a product's seat count (seats already held stay held).
func (m *MemorySeats) SetSeats(product string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total[product] = n
}

// EndSubscription marks a product's subscription ended (or renewed).
func (m *MemorySeats) EndSubscription(product string, ended bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended[product] = ended
}

// TakeDeviceSeat implements SeatTaker.
func (m *MemorySeats) TakeDeviceSeat(product, device string) (Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	demo := Grant{DemoLimits: append([]license.Feature(nil), m.DemoLimits...)}
	if m.ended[product] {
		return demo, fmt.Errorf("%s: %w", product, ErrSubscriptionEnded)
	}
	h := m.holders[product]
	if h[device] {
		return Grant{KeyNo: "MEM-" + product}, nil
	}
	if len(h) >= m.total[product] {
		return demo, fmt.Errorf("%d of %d device seats of %s in use: %w", len(h), m.total[product], product, ErrNoSeat)
	}
	if h == nil {
		h = map[string]bool{}
		m.holders[product] = h
	}
	h[device] = true
	return Grant{KeyNo: "MEM-" + product}, nil
}

// ReleaseDeviceSeat implements SeatTaker.
func (m *MemorySeats) ReleaseDeviceSeat(product, device string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.holders[product], device)
	return nil
}

// Holders returns the devices holding a seat of product.
func (m *MemorySeats) Holders(product string) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for d := range m.holders[product] {
		out[d] = true
	}
	return out
}
