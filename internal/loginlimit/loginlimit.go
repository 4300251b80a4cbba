// Package loginlimit counts failed logins per client address and refuses
// an address that failed too often within a window: the one limiter of
// `token serve` and `license-server` (10 failures a minute per address,
// then 429 with Retry-After).
//
// An IPv4 address is counted alone; an IPv6 address by its /64, since one
// host usually controls a whole /64 and could otherwise step through
// addresses. An IPv4-mapped IPv6 address counts as its IPv4 address.
//
// # Security
//
// A blocked address is refused before its credentials are checked, so a
// right password sent after the limit is refused too until the window
// ends: guessing cannot go on by luck. The table is bounded (MaxEntries):
// when it is full of live entries a new address is not counted rather than
// letting a flood of addresses grow memory without bound; expired entries
// are swept at most once per quarter window so a flood cannot make every
// failure scan the table under the lock. Exemption (a whitelisted address)
// is the caller's decision: the caller does not call Fail or Blocked for
// it.
package loginlimit

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// The defaults both servers use.
const (
	// DefaultLimit failed logins per DefaultWindow from one address (IPv6:
	// one /64), then refused until the window ends.
	DefaultLimit  = 10
	DefaultWindow = time.Minute
	// DefaultMaxEntries bounds the table.
	DefaultMaxEntries = 1 << 16
)

// Limiter counts failures per key in fixed windows starting at a key's
// first failure. It is safe for concurrent use.
type Limiter struct {
	mu     sync.Mutex
	m      map[string]*entry
	limit  int
	window time.Duration
	// maxEntries bounds memory (see the package Security section).
	maxEntries int
	lastSweep  time.Time
	sweeps     int // for tests
}

type entry struct {
	start time.Time
	n     int
}

// New returns a limiter allowing limit failures per window.
func New(limit int, window time.Duration) *Limiter {
	return &Limiter{m: make(map[string]*entry), limit: limit, window: window, maxEntries: DefaultMaxEntries}
}

// Limit and Window return the limiter's parameters.
func (l *Limiter) Limit() int { return l.limit }

// Window returns the length of the counting window.
func (l *Limiter) Window() time.Duration { return l.window }

// Key returns the counting key of an address given as text (an IP, with
// or without a port): the IPv4 address, or the /64 prefix of an IPv6
// address. Text that is no address is its own key.
func Key(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	return AddrKey(a)
}

// AddrKey is Key for a parsed address.
func AddrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// RemoteAddr returns the address of the client of r (RemoteAddr without
// its port; the invalid Addr when it does not parse).
func RemoteAddr(r *http.Request) netip.Addr {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		h = r.RemoteAddr
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// Blocked reports whether key has used up its failures, and how long until
// its window ends.
func (l *Limiter) Blocked(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		return 0, false
	}
	left := e.start.Add(l.window).Sub(now)
	if left <= 0 {
		delete(l.m, key)
		return 0, false
	}
	return left, e.n >= l.limit
}

// RetryAfter turns a wait into whole seconds for a Retry-After header
// (rounded up, at least 1).
func RetryAfter(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Fail counts one failure of key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil || now.Sub(e.start) >= l.window {
		if len(l.m) >= l.maxEntries {
			if now.Sub(l.lastSweep) < l.window/4 {
				return // full: bounded memory and CPU win; this key is not counted
			}
			l.lastSweep = now
			l.sweeps++
			for k, x := range l.m {
				if now.Sub(x.start) >= l.window {
					delete(l.m, k)
				}
			}
			if len(l.m) >= l.maxEntries {
				return // full of live entries
			}
		}
		l.m[key] = &entry{start: now, n: 1}
		return
	}
	e.n++
}
