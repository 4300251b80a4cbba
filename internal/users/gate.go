package users

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Gate bounds the argon2id work password logins may take, so logins
// cannot slow down what authenticates with API tokens (seat checkouts,
// renewals): one Gate is shared by every login path of a server (the
// API's Basic auth and the console).
//
// An argon2id check takes about 200 ms of two cores and 64 MiB. Measured
// on two cores (bench/seat/logins.sh), two checks at a time cut token
// checkouts to under a tenth: the checks' goroutines hold both cores and
// every checkout waits behind them in the scheduler. So the Gate gives
// password checks a budget of wall time: at most Options.Share of it on
// average (a bucket that fills at Share seconds per second up to Burst),
// at most Concurrency checks at once. A login that finds no budget is
// refused at once with a *BusyError (the API answers 503 with
// Retry-After) instead of queueing: waiting logins would pile up without
// bound under a flood.
//
// A right password is remembered for Options.Remember (HMAC-SHA-256 under
// a random per-process key of the name, the password and the stored hash;
// only in memory), so an integration that sends its password with every
// request pays argon2id once, not per request. Changing the password or
// removing the user ends it at once: the stored hash is part of the key
// and the user is looked up on every login.
type Gate struct {
	opt GateOptions
	sem chan struct{}
	key [32]byte

	mu       sync.Mutex
	credit   time.Duration // budget left; a check takes its estimate first
	last     time.Time     // when credit was last filled
	estimate time.Duration // the last check's duration
	cache    map[[32]byte]time.Time
}

// GateOptions tune a Gate; the zero value gives the defaults.
type GateOptions struct {
	// Share is the fraction of wall time password checks may take on
	// average (default 0.03).
	Share float64
	// Burst is the most check time saved up while idle (default 2 s:
	// about ten checks at once after a quiet time).
	Burst time.Duration
	// Concurrency is how many checks may run at once (default
	// max(1, GOMAXPROCS/4): one check already uses two cores).
	Concurrency int
	// Remember is how long a right password is remembered (default 5
	// minutes; negative: never).
	Remember time.Duration
	// MaxRemembered bounds the remembered logins (default 4096).
	MaxRemembered int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// BusyError is returned by Gate.Login when password checks are over
// their budget: nothing was checked; retry after Wait.
type BusyError struct{ Wait time.Duration }

func (e *BusyError) Error() string {
	return fmt.Sprintf("the server is checking too many passwords at the moment; retry in %d s", int(e.Wait.Seconds())+1)
}

// ErrBusy matches every *BusyError with errors.Is.
var ErrBusy = errors.New("password checks busy")

// Is makes errors.Is(err, ErrBusy) true for a *BusyError.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// NewGate returns a Gate with opt's limits.
func NewGate(opt GateOptions) *Gate {
	if opt.Share <= 0 || opt.Share > 1 {
		opt.Share = 0.03
	}
	if opt.Burst <= 0 {
		opt.Burst = 2 * time.Second
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if opt.Remember == 0 {
		opt.Remember = 5 * time.Minute
	}
	if opt.MaxRemembered <= 0 {
		opt.MaxRemembered = 4096
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	g := &Gate{opt: opt, sem: make(chan struct{}, opt.Concurrency), credit: opt.Burst, last: opt.Now(),
		estimate: 200 * time.Millisecond, cache: map[[32]byte]time.Time{}}
	if _, err := rand.Read(g.key[:]); err != nil {
		panic(err)
	}
	return g
}

// Login checks name and password as the package's Login does, within
// the Gate's budget: a *BusyError (errors.Is ErrBusy) when over it, or
// when ctx ends while waiting for a running check.
func (g *Gate) Login(ctx context.Context, s Store, name, password string) (User, error) {
	u, err := s.Get(name)
	var mark [32]byte
	if err == nil && g.opt.Remember > 0 {
		mark = g.mark(name, password, u.Hash)
		if g.remembered(mark) {
			u.Hash = ""
			if u.MustChange {
				return u, ErrMustChange
			}
			return u, nil
		}
	}
	est, err := g.acquire(ctx)
	if err != nil {
		return User{}, err
	}
	t0 := time.Now()
	u, err = Login(s, name, password)
	g.release(est, time.Since(t0))
	if (err == nil || errors.Is(err, ErrMustChange)) && g.opt.Remember > 0 {
		if cur, gerr := s.Get(name); gerr == nil {
			// The hash just verified (Login clears u.Hash).
			g.remember(g.mark(name, password, cur.Hash))
		}
	}
	return u, err
}

// Forget drops every remembered login (tests; a server that wants every
// next login checked again).
func (g *Gate) Forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.cache)
}

func (g *Gate) mark(name, password, hash string) [32]byte {
	m := hmac.New(sha256.New, g.key[:])
	for _, s := range []string{name, password, hash} {
		var n [8]byte
		for i := range n {
			n[i] = byte(len(s) >> (8 * i))
		}
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (g *Gate) remembered(mark [32]byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.cache[mark]
	if !ok {
		return false
	}
	if g.opt.Now().After(t) {
		delete(g.cache, mark)
		return false
	}
	return true
}

func (g *Gate) remember(mark [32]byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opt.Now()
	if len(g.cache) >= g.opt.MaxRemembered {
		for k, t := range g.cache {
			if now.After(t) {
				delete(g.cache, k)
			}
		}
		if len(g.cache) >= g.opt.MaxRemembered {
			clear(g.cache)
		}
	}
	g.cache[mark] = now.Add(g.opt.Remember)
}

// fill adds the budget earned since the last call. The caller holds g.mu.
func (g *Gate) fill(now time.Time) {
	if d := now.Sub(g.last); d > 0 {
		g.credit = min(g.opt.Burst, g.credit+time.Duration(float64(d)*g.opt.Share))
	}
	g.last = now
}

// acquire takes a check's estimated time from the budget and a slot; it
// refuses at once when the budget is spent or every slot is taken for
// longer than the budget would allow waiting.
func (g *Gate) acquire(ctx context.Context) (time.Duration, error) {
	g.mu.Lock()
	g.fill(g.opt.Now())
	if g.credit <= 0 {
		wait := time.Duration(float64(-g.credit+time.Millisecond) / g.opt.Share)
		g.mu.Unlock()
		return 0, &BusyError{Wait: wait}
	}
	est := g.estimate
	g.credit -= est
	g.mu.Unlock()
	select {
	case g.sem <- struct{}{}:
		return est, nil
	default:
	}
	// Another check runs: wait for it, at most about one check's time.
	t := time.NewTimer(2 * est)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
		return est, nil
	case <-t.C:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.credit += est // not spent
	g.mu.Unlock()
	return 0, &BusyError{Wait: est}
}

// release frees the slot and charges the check's real duration in place
// of the estimate taken.
func (g *Gate) release(est, took time.Duration) {
	<-g.sem
	g.mu.Lock()
	defer g.mu.Unlock()
	g.credit += est - took
	g.estimate = took
}
