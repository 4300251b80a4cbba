package seatserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
)

// errCommitterClosed is returned for changes queued after close.
var errCommitterClosed = errors.New("the server is shutting down")

// committer makes queued changes durable in order. While one Store.Commit
// runs, new changes queue; the next commit merges all of them (later
// records of a key replace earlier ones, events keep their order), so N
// concurrent requests cost one transaction, not N.
//
// There is no committer goroutine: the requests commit for each other
// (leader and followers). A request whose change is queued when no
// commit is running leads: in its own goroutine it gathers (gather),
// takes every change queued, commits them as one and wakes their
// requests; then it hands the lead to the first request still waiting
// among those queued meanwhile, which does the same. So a group costs one
// wake-up per follower, and none for a goroutine in between (the leader
// does not sleep at all); the store commits in the leader's goroutine
// (CommitNow, for the SQL stores) instead of its writer's.
//
// With a store that commits in two phases (seatstore.Pipelined: SQLite's
// change journal, write then fdatasync) the commits are pipelined: the
// leader hands the lead on as soon as its group is written, and waits for
// the group's sync after that, so the next group is gathered and written
// while the sync runs (at most maxFlight groups written and not yet
// acknowledged). A group is acknowledged once its own sync has returned
// and every group written before it has been acknowledged, in order; when
// an earlier group failed, the later ones fail too (the store then takes
// nothing more). So no request is answered before its change and every
// change queued before it are durable, exactly as without the pipeline.
type committer struct {
	store seatstore.Store
	now   nowCommitter        // store, when it commits in the caller's goroutine
	pipe  seatstore.Pipelined // store, when it commits in two phases
	log   *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // gather's wait; close's wait for the leader
	pending []*pendingChange
	leading bool // a request (or close) leads: it commits what is pending
	closed  bool

	// conns is how many client connections are open (Run's HTTP server
	// counts them); last is how long the last commit took.
	conns     atomic.Int64
	last      time.Duration
	maxGather time.Duration // bounds the gathering wait (defaultMaxGather)
	deadline  bool          // the gathering wait is over (under mu)

	// A commit that takes longer than timeout closes stuck: every request
	// waiting then is answered 503 (its change stays queued), and later
	// ones wait on a new channel. One timer for the committer, not a
	// context with a timer per request. Under mu.
	timeout  time.Duration
	stuck    chan struct{}
	watchdog *time.Timer

	// flight: the groups being committed (written, not acknowledged), in
	// order, the oldest first; inflight: the changes in them; tail: the
	// group written last (the next one is acknowledged after it). Under mu.
	flight   []*group
	inflight int
	tail     *group
}

// group is one commit of the changes merged from batch.
type group struct {
	batch []*pendingChange
	start time.Time
	prev  *group        // acknowledged before this one (nil once it is)
	done  chan struct{} // closed when acknowledged, err set
	err   error
}

// maxFlight bounds the groups written and not yet acknowledged: one being
// synced, the next written and waiting for its sync. A third waits (and
// gathers) until the first is acknowledged, so each sync covers a whole
// group and a hanging disk holds at most this many leaders.
const maxFlight = 2

type pendingChange struct {
	c     *committer
	ch    seatstore.Change
	err   error
	done  chan struct{}
	stuck chan struct{} // the committer's stuck channel when ch was queued
	// lead is closed when this request is to lead (under c.mu: leader
	// set first); gaveUp: it stopped waiting, so the lead goes past it.
	lead   chan struct{}
	leader bool
	gaveUp bool
	first  bool // it leads from the start (set by enqueue, then only read)
}

// errCommitStuck: a commit took longer than CommitTimeout.
var errCommitStuck = errors.New("the store took longer than the commit timeout")

// nowCommitter is a store that commits in the caller's goroutine
// (seatstore's SQL stores: CommitNow).
type nowCommitter interface {
	CommitNow(context.Context, seatstore.Change) error
}

func newCommitter(st seatstore.Store, log *slog.Logger) *committer {
	c := &committer{store: st, log: log, maxGather: defaultMaxGather,
		timeout: CommitTimeout, stuck: make(chan struct{})}
	c.now, _ = st.(nowCommitter)
	c.pipe, _ = st.(seatstore.Pipelined)
	c.cond = sync.NewCond(&c.mu)
	c.watchdog = time.AfterFunc(time.Hour, c.checkStuck)
	c.watchdog.Stop()
	return c
}

// checkStuck runs when the watchdog fires: when the commit running has
// taken c.timeout, it closes c.stuck (and starts a new one).
func (c *committer) checkStuck() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.flight) == 0 {
		return
	}
	if left := c.timeout - time.Since(c.flight[0].start); left > 0 {
		c.watchdog.Reset(left) // fired for an earlier commit
		return
	}
	close(c.stuck)
	c.stuck = make(chan struct{})
}

// enqueue queues ch and returns it to wait for until it is durable (or
// failed): the change is committed once it is waited for (wait; by this
// request when it leads). A change queued after close fails at once.
func (c *committer) enqueue(ch seatstore.Change) *pendingChange {
	p := &pendingChange{c: c, ch: ch, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		p.err = errCommitterClosed
		close(p.done)
		return p
	}
	p.stuck = c.stuck
	c.pending = append(c.pending, p)
	if !c.leading {
		c.leading, p.leader, p.first = true, true, true
	} else {
		p.lead = make(chan struct{})
		c.cond.Signal() // a leader gathering counts this one
	}
	c.mu.Unlock()
	return p
}

// wait waits until p is durable or failed, committing it (and the others
// queued) when p leads. It gives up when ctx ends, or with errCommitStuck
// when a commit takes longer than the commit timeout (so at most about
// twice that: the commit before p's, then p's), but the change stays
// queued: the core already holds it, and the store must follow the core.
func (p *pendingChange) wait(ctx context.Context) error {
	if p.first {
		p.c.lead()
		return p.err
	}
	select {
	case <-p.done:
		return p.err
	case <-p.lead:
		p.c.lead()
		return p.err
	case <-ctx.Done():
		if p.giveUp() {
			return ctx.Err()
		}
	case <-p.stuck:
		if p.giveUp() {
			return errCommitStuck
		}
	}
	// giveUp refused: p is done (committed in another leader's group while
	// it gave up: its result is there, and leading now would make a
	// second leader, which handed the lead to a request twice), or p was
	// made the leader (lead all the same, or the queue would wait for
	// nobody). A leader's change is never done before it leads.
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.c.lead()
	return p.err
}

// giveUp marks p as no longer waiting, unless it was made the leader or
// is done (false: it must lead, or its result is there).
func (p *pendingChange) giveUp() bool {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	select {
	case <-p.done:
		return false
	default:
	}
	if p.leader {
		return false
	}
	p.gaveUp = true
	return true
}

// commit queues ch and waits for it.
func (c *committer) commit(ctx context.Context, ch seatstore.Change) error {
	return c.enqueue(ch).wait(ctx)
}

// lead commits what is pending, as the leader, until the lead goes to a
// waiting request or nothing is pending; then it waits for its last
// group to be acknowledged.
func (c *committer) lead() {
	c.mu.Lock()
	for {
		for len(c.flight) >= maxFlight {
			c.cond.Wait() // finish broadcasts
		}
		c.gather()
		g := c.start(c.pending)
		c.pending = nil
		c.mu.Unlock()
		var wait func() error
		if g != nil {
			wait = c.write(g)
		}
		c.mu.Lock()
		next := -1
		for i, p := range c.pending {
			if !p.gaveUp && !c.closed { // closing: commit it all here
				next = i
				break
			}
		}
		if next >= 0 {
			p := c.pending[next]
			p.leader = true
			close(p.lead)
			c.mu.Unlock()
			c.finish(g, wait)
			return
		}
		if len(c.pending) == 0 {
			// Queued changes whose requests all gave up are committed
			// here (above, next round), not left for the next request.
			c.leading = false
			c.cond.Broadcast() // close waits for the leader
			c.mu.Unlock()
			c.finish(g, wait)
			return
		}
		c.mu.Unlock()
		c.finish(g, wait)
		c.mu.Lock()
	}
}

// start makes batch a group in flight, after the group written before
// (c.mu held; nil for an empty batch).
func (c *committer) start(batch []*pendingChange) *group {
	if len(batch) == 0 {
		return nil
	}
	g := &group{batch: batch, start: time.Now(), prev: c.tail, done: make(chan struct{})}
	c.tail = g
	c.flight = append(c.flight, g)
	c.inflight += len(batch)
	if len(c.flight) == 1 {
		// (A watchdog firing now for an earlier commit sees this one
		// running and re-arms for what is left of it.)
		c.watchdog.Reset(c.timeout)
	}
	return g
}

// write merges g's changes and commits them: with a two-phase store it
// only writes them and returns the wait for their sync. A failure is in
// g.err. The commit is not tied to any one request: a client that gave
// up must not abort the others' changes.
func (c *committer) write(g *group) (wait func() error) {
	merged := g.batch[0].ch
	if len(g.batch) > 1 {
		merged = seatstore.Change{}
		for _, p := range g.batch {
			mergeInto(&merged, p.ch)
		}
	}
	switch {
	case c.pipe != nil:
		wait, g.err = c.pipe.WriteCommit(context.Background(), merged)
	case c.now != nil:
		g.err = c.now.CommitNow(context.Background(), merged)
	default:
		g.err = c.store.Commit(context.Background(), merged)
	}
	return wait
}

// finish waits until g (nil: nothing) is durable and every group before
// it acknowledged, then acknowledges it: it wakes its requests.
func (c *committer) finish(g *group, wait func() error) {
	if g == nil {
		return
	}
	err := g.err
	if err == nil && wait != nil {
		err = wait()
	}
	if g.prev != nil {
		<-g.prev.done
		if err == nil && g.prev.err != nil {
			err = fmt.Errorf("a change committed before it failed: %w", g.prev.err)
		}
		g.prev = nil // no chain back through every group ever made
	}
	c.mu.Lock()
	c.flight = c.flight[1:] // g: groups end in order
	c.inflight -= len(g.batch)
	if c.tail == g {
		c.tail = nil
	}
	c.last = time.Since(g.start)
	if len(c.flight) > 0 {
		c.watchdog.Reset(max(0, c.timeout-time.Since(c.flight[0].start)))
	}
	c.cond.Broadcast() // a leader waiting for room, close
	c.mu.Unlock()
	if err != nil {
		c.log.Error("commit failed", "changes", len(g.batch), "err", err)
	}
	for _, p := range g.batch {
		p.err = err
		close(p.done)
	}
	g.err = err
	close(g.done)
}

// defaultMaxGather bounds how long a group waits for more changes.
const defaultMaxGather = 2 * time.Millisecond

// gather waits, with c.mu held and changes pending, while fewer changes
// are pending or in flight (pipelined: written, their sync running) than
// connections are open, for at most the time the last commit took (and
// c.maxGather): changes that come in meanwhile share the group's one
// fsync instead of waiting for the next. Under load this
// makes the groups larger (fewer fsyncs and fixed costs per request);
// with one client it costs nothing, with many idle connections at most
// one commit's time.
//
// A group of lazy changes only (renewals: acknowledged before their sync,
// seatstore.Change.Lazy) has no sync to share: it does not wait.
func (c *committer) gather() {
	wait := min(c.last, c.maxGather)
	if wait <= 0 || c.closed || int64(len(c.pending)+c.inflight) >= c.conns.Load() || c.allLazy() {
		return
	}
	c.deadline = false
	t := time.AfterFunc(wait, func() {
		c.mu.Lock()
		c.deadline = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	for !c.deadline && !c.closed && int64(len(c.pending)+c.inflight) < c.conns.Load() {
		c.cond.Wait()
	}
	t.Stop()
}

// allLazy reports whether every pending change is lazy (c.mu held).
func (c *committer) allLazy() bool {
	for _, p := range c.pending {
		if !p.ch.Lazy {
			return false
		}
	}
	return true
}

// connState counts the open connections of Run's HTTP server.
func (c *committer) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		c.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.conns.Add(-1)
	}
}

// close commits what is queued (waiting for a leader to finish) and
// refuses changes from then on.
func (c *committer) close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast() // a leader gathering stops waiting
	for c.leading || len(c.flight) > 0 {
		c.cond.Wait()
	}
	if len(c.pending) > 0 {
		c.leading = true
		c.mu.Unlock()
		c.lead()
		return nil
	}
	c.mu.Unlock()
	return nil
}

// mergeInto appends b's changes to a, b after a: for every keyed record
// the later put or delete wins, and a key ends as exactly one put or one
// delete (a store applies puts before deletes).
func mergeInto(a *seatstore.Change, b seatstore.Change) {
	if b.Empty() {
		return
	}
	if a.Empty() && a.Settings == nil {
		*a = b
		return
	}
	// A group is lazy (acknowledged before its sync) only if every change
	// in it is.
	a.Lazy = a.Lazy && b.Lazy
	a.PutLeases, a.DeleteLeases = mergeKeyed(a.PutLeases, a.DeleteLeases, b.PutLeases, b.DeleteLeases, leaseKey)
	a.PutLicenses, a.DeleteLicenses = mergeKeyed(a.PutLicenses, a.DeleteLicenses, b.PutLicenses, b.DeleteLicenses, licenseKey)
	a.PutTokens, a.DeleteTokens = mergeKeyed(a.PutTokens, a.DeleteTokens, b.PutTokens, b.DeleteTokens, tokenKey)
	a.Grants = append(a.Grants, b.Grants...)
	a.PutDevices = append(a.PutDevices, b.PutDevices...)
	a.DeleteDevices = append(a.DeleteDevices, b.DeleteDevices...)
	a.Events = append(a.Events, b.Events...)
	if len(b.Settings) > 0 {
		if a.Settings == nil {
			a.Settings = map[string]string{}
		}
		maps.Copy(a.Settings, b.Settings)
	}
}

func mergeKeyed[T any](aPut []T, aDel []string, bPut []T, bDel []string, key func(T) string) ([]T, []string) {
	if len(bPut) == 0 && len(bDel) == 0 {
		return aPut, aDel
	}
	// The common case, a group of requests on different leases: no key of
	// b is in a (already merged, so without repeats) or twice in b. Then
	// the result is a's then b's, which is what the general merge below
	// gives too. Checked without a map for small groups (the committer
	// merges each request's change into the group's).
	if n := (len(aPut) + len(aDel)) * (len(bPut) + len(bDel)); n <= 256 && len(bPut)+len(bDel) <= 16 {
		distinct := true
		var seen [16]string
		bk := seen[:0]
		for i := range bPut {
			bk = append(bk, key(bPut[i]))
		}
		bk = append(bk, bDel...)
		for i, k := range bk {
			for _, o := range bk[:i] {
				distinct = distinct && o != k
			}
			for j := range aPut {
				distinct = distinct && key(aPut[j]) != k
			}
			for _, o := range aDel {
				distinct = distinct && o != k
			}
		}
		if distinct {
			return append(aPut, bPut...), append(aDel, bDel...)
		}
	}
	return mergeKeyedMap(aPut, aDel, bPut, bDel, key)
}

// mergeKeyedMap is mergeKeyed for any keys.
func mergeKeyedMap[T any](aPut []T, aDel []string, bPut []T, bDel []string, key func(T) string) ([]T, []string) {
	type slot struct {
		put *T
		del bool
	}
	order := []string{}
	m := map[string]*slot{}
	get := func(k string) *slot {
		s, ok := m[k]
		if !ok {
			s = &slot{}
			m[k] = s
			order = append(order, k)
		}
		return s
	}
	// Within one change puts come before deletes, as a store applies them.
	for _, group := range []struct {
		puts []T
		dels []string
	}{{aPut, aDel}, {bPut, bDel}} {
		for i := range group.puts {
			s := get(key(group.puts[i]))
			s.put, s.del = &group.puts[i], false
		}
		for _, k := range group.dels {
			s := get(k)
			s.put, s.del = nil, true
		}
	}
	var puts []T
	var dels []string
	for _, k := range order {
		if s := m[k]; s.del {
			dels = append(dels, k)
		} else {
			puts = append(puts, *s.put)
		}
	}
	return puts, dels
}
