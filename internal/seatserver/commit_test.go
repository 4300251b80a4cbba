package seatserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// countStore records the Changes committed.
type countStore struct {
	seatstore.Store
	mu      sync.Mutex
	commits []seatstore.Change
}

func (s *countStore) Commit(_ context.Context, c seatstore.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, c)
	return nil
}

func (s *countStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.commits)
}

func change(id string) seatstore.Change {
	return seatstore.Change{Events: []seats.Event{{Time: time.Now(), Kind: seats.EventRenew, LeaseID: id}}}
}

// TestCommitterGathers: with two client connections open and the last
// commit slow, a change waits for the other connection's change and both
// share one commit; with no connection counted (tests, the CLI) nothing
// waits.
// gatheringCommitter returns a committer over a counting store whose
// gathering wait is a minute (closed when the test ends).
func gatheringCommitter(t *testing.T) (*countStore, *committer) {
	st := &countStore{}
	c := newCommitter(st, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { c.close() })
	c.mu.Lock()
	c.last, c.maxGather = time.Minute, time.Minute
	c.mu.Unlock()
	return st, c
}

func TestCommitterGathers(t *testing.T) {
	st, c := gatheringCommitter(t)
	c.conns.Store(2)
	first := c.enqueue(change("L-1"))
	time.Sleep(20 * time.Millisecond) // the loop takes L-1 and gathers
	if n := st.count(); n != 0 {
		t.Fatalf("%d commits before the second connection's change", n)
	}
	second := c.enqueue(change("L-2"))
	for _, p := range []*pendingChange{first, second} {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.count(); n != 1 || len(st.commits[0].Events) != 2 {
		t.Fatalf("%d commits (%+v), want one of both changes", n, st.commits)
	}

	// A connection closed: one change is all there is to wait for.
	c.connState(nil, http.StateActive) // counts open connections, not requests
	c.connState(nil, http.StateIdle)
	c.connState(nil, http.StateClosed)
	if n := c.conns.Load(); n != 1 {
		t.Fatalf("%d connections counted, want 1", n)
	}
	start := time.Now()
	if err := c.commit(context.Background(), change("L-3")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second || st.count() != 2 {
		t.Fatalf("lone change took %s, %d commits", d, st.count())
	}
}

// TestCommitterLazyDoesNotGather: a group of lazy changes only (renewals,
// acknowledged before their sync) has no sync to share and does not wait
// for other connections' changes; one synced change in it does.
func TestCommitterLazyDoesNotGather(t *testing.T) {
	st, c := gatheringCommitter(t)
	c.conns.Store(8)
	lazy := change("L-1")
	lazy.Lazy = true
	done := make(chan error, 1)
	go func() { done <- c.commit(context.Background(), lazy) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a lazy change waited for the gathering deadline (a minute)")
	}
	synced := c.enqueue(change("L-2"))
	time.Sleep(20 * time.Millisecond)
	if n := st.count(); n != 1 {
		t.Fatalf("%d commits: a synced change did not gather", n)
	}
	c.conns.Store(1)
	c.mu.Lock()
	c.cond.Broadcast()
	c.mu.Unlock()
	if err := synced.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// nowStore records whether changes came through CommitNow or Commit.
type nowStore struct {
	countStore
	now int
}

func (s *nowStore) CommitNow(ctx context.Context, c seatstore.Change) error {
	s.mu.Lock()
	s.now++
	s.mu.Unlock()
	return s.countStore.Commit(ctx, c)
}

// TestMetricStoreCommitsNow: the store wrapped for /metrics keeps the
// committer on the store's CommitNow (one grouping layer, the committer's),
// and still counts the commit; a store without CommitNow gets Commit.
func TestMetricStoreCommitsNow(t *testing.T) {
	m := NewMetrics()
	inner := &nowStore{}
	c := newCommitter(m.Store(inner), slog.New(slog.DiscardHandler))
	if c.now == nil {
		t.Fatal("the metrics store hides CommitNow from the committer")
	}
	if err := c.commit(context.Background(), change("L-1")); err != nil {
		t.Fatal(err)
	}
	c.close()
	if inner.now != 1 || inner.count() != 1 {
		t.Fatalf("CommitNow called %d times, %d commits; want 1, 1", inner.now, inner.count())
	}
	if n := testutilCount(t, m, "airseal_store_commit_duration_seconds"); n != 1 {
		t.Fatalf("commit histogram counts %d, want 1", n)
	}

	plain := &countStore{}
	if err := m.Store(plain).(nowCommitter).CommitNow(context.Background(), change("L-2")); err != nil || plain.count() != 1 {
		t.Fatalf("CommitNow over a store without it: %v, %d commits", err, plain.count())
	}
}

// testutilCount returns the sample count of the histogram named name.
func testutilCount(t *testing.T, m *Metrics, name string) uint64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// hangStore's commits wait until release is closed.
type hangStore struct {
	countStore
	release chan struct{}
}

func (s *hangStore) Commit(ctx context.Context, c seatstore.Change) error {
	<-s.release
	return s.countStore.Commit(ctx, c)
}

// TestCommitterStuck: when a commit takes longer than the commit timeout,
// the requests waiting for it and those queued behind it give up with
// errCommitStuck (a 503) instead of waiting for the store (all but its
// leader, which runs the commit); their changes stay queued and are
// committed once the store answers, and later changes wait as before.
func TestCommitterStuck(t *testing.T) {
	st := &hangStore{release: make(chan struct{})}
	c := newCommitter(st, slog.New(slog.DiscardHandler))
	defer c.close()
	c.mu.Lock()
	c.timeout = 50 * time.Millisecond
	c.mu.Unlock()
	start := time.Now()
	leader := c.enqueue(change("L-1"))
	led := make(chan error, 1)
	go func() { led <- leader.wait(context.Background()) }()
	time.Sleep(10 * time.Millisecond) // L-1's commit hangs
	second := c.enqueue(change("L-2"))
	third := c.enqueue(change("L-3"))
	for _, p := range []*pendingChange{second, third} {
		if err := p.wait(context.Background()); !errors.Is(err, errCommitStuck) {
			t.Fatalf("waiting for a hanging store: %v, want errCommitStuck", err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %s", d)
	}
	close(st.release)
	if err := <-led; err != nil {
		t.Fatalf("the leader: %v", err)
	}
	// The leader committed L-2 and L-3 too, though nobody waits for them.
	for _, p := range []*pendingChange{second, third} {
		<-p.done
		if p.err != nil {
			t.Fatal(p.err)
		}
	}
	if err := c.commit(context.Background(), change("L-4")); err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
	if n := st.count(); n != 3 {
		t.Fatalf("%d commits, want 3 (L-1, L-2 and L-3, L-4)", n)
	}
}

// TestCommitterLeads: concurrent requests commit for each other (every
// change durable once, in the order queued) and close commits what is
// queued.
func TestCommitterLeads(t *testing.T) {
	st := &countStore{}
	c := newCommitter(st, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	var order sync.Mutex
	var queued []string
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("L-%d-%d", g, i)
				order.Lock()
				queued = append(queued, id)
				p := c.enqueue(change(id))
				order.Unlock()
				ctx := context.Background()
				if i%50 == 49 { // some give up at once: their change is committed all the same
					cctx, cancel := context.WithCancel(ctx)
					cancel()
					ctx = cctx
				}
				if err := p.wait(ctx); err != nil && ctx.Err() == nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	c.close()
	if err := c.commit(context.Background(), change("L-late")); !errors.Is(err, errCommitterClosed) {
		t.Errorf("after close: %v", err)
	}
	var got []string
	for _, ch := range st.commits {
		for _, e := range ch.Events {
			got = append(got, e.LeaseID)
		}
	}
	if !slices.Equal(got, queued) {
		t.Fatalf("%d changes committed, %d queued, or out of order", len(got), len(queued))
	}
	t.Logf("%d changes in %d commits", len(got), len(st.commits))
}

// TestMergeKeyed: the merge's shortcut for distinct keys gives what the
// general merge gives, on random groups of puts and deletes with and
// without repeated keys.
func TestMergeKeyed(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	id := func(s string) string { return s }
	keys := func(n, space int) []string {
		var out []string
		for range n {
			out = append(out, fmt.Sprintf("L-%d", rnd.Intn(space)))
		}
		return out
	}
	for i := 0; i < 5000; i++ {
		space := 3 + rnd.Intn(40)
		aPut, aDel := mergeKeyedMap(nil, nil, keys(rnd.Intn(12), space), keys(rnd.Intn(4), space), id)
		bPut, bDel := keys(rnd.Intn(5), space), keys(rnd.Intn(3), space)
		wantPut, wantDel := mergeKeyedMap(slices.Clone(aPut), slices.Clone(aDel), bPut, bDel, id)
		gotPut, gotDel := mergeKeyed(slices.Clone(aPut), slices.Clone(aDel), bPut, bDel, id)
		if !slices.Equal(gotPut, wantPut) || !slices.Equal(gotDel, wantDel) {
			t.Fatalf("a %v/%v + b %v/%v: got %v/%v, want %v/%v", aPut, aDel, bPut, bDel, gotPut, gotDel, wantPut, wantDel)
		}
	}
}

// nopStore commits nothing, at once.
type nopStore struct{ seatstore.Store }

func (nopStore) Commit(context.Context, seatstore.Change) error { return nil }

// BenchmarkCommitterHandoff is the committer's own cost per change (the
// hand-offs, wake-ups and merging) with a store that costs nothing, from 8
// goroutines on GOMAXPROCS 2 as the bench's 8 connections:
//
//	go test -run '^$' -bench BenchmarkCommitterHandoff ./internal/seatserver
func BenchmarkCommitterHandoff(b *testing.B) {
	c := newCommitter(nopStore{}, slog.New(slog.DiscardHandler))
	defer c.close()
	ch := change("L-1")
	b.SetParallelism(4)
	b.ResetTimer()
	defer cpuPerOp(b, processCPU())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.commit(context.Background(), ch); err != nil {
				b.Error(err)
			}
		}
	})
}

// pipeStore is a two-phase store (seatstore.Pipelined) whose syncs the
// test ends: each write is sent on writes, and its wait returns what the
// test sends on the write's sync. Its Commit is a write and its wait.
type pipeStore struct {
	countStore
	writes chan *pipeWrite
}

type pipeWrite struct {
	ids  []string
	sync chan error
}

func newPipeStore() *pipeStore { return &pipeStore{writes: make(chan *pipeWrite, 16)} }

func (s *pipeStore) WriteCommit(ctx context.Context, c seatstore.Change) (func() error, error) {
	w := &pipeWrite{sync: make(chan error, 1)}
	for _, e := range c.Events {
		w.ids = append(w.ids, e.LeaseID)
	}
	s.countStore.Commit(ctx, c)
	s.writes <- w
	return func() error { return <-w.sync }, nil
}

func (s *pipeStore) Commit(ctx context.Context, c seatstore.Change) error {
	wait, err := s.WriteCommit(ctx, c)
	if err != nil {
		return err
	}
	return wait()
}

// written returns the next write, failing after a while.
func (s *pipeStore) written(t *testing.T, what string) *pipeWrite {
	t.Helper()
	select {
	case w := <-s.writes:
		return w
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not written", what)
		return nil
	}
}

// pipelined returns a committer over a pipeStore with two groups written
// and syncing, L-1's then L-2's, each one change.
func pipelined(t *testing.T) (st *pipeStore, c *committer, first, second *pipeWrite, p1, p2 *pendingChange) {
	t.Helper()
	st = newPipeStore()
	c = newCommitter(st, slog.New(slog.DiscardHandler))
	p1 = c.enqueue(change("L-1"))
	go p1.wait(context.Background())
	first = st.written(t, "L-1")
	// L-1's sync runs (blocked): L-2 is written meanwhile.
	p2 = c.enqueue(change("L-2"))
	go p2.wait(context.Background())
	second = st.written(t, "L-2 (while L-1's sync runs)")
	if !slices.Equal(first.ids, []string{"L-1"}) || !slices.Equal(second.ids, []string{"L-2"}) {
		t.Fatalf("written %v then %v, want L-1 then L-2", first.ids, second.ids)
	}
	t.Cleanup(func() {
		first.sync <- nil
		second.sync <- nil
		c.close()
	})
	return st, c, first, second, p1, p2
}

// done reports whether p was acknowledged within d.
func done(p *pendingChange, d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestCommitterPipelineOverlap: with a two-phase store the next group is
// written while the previous group's sync runs (pipelined), and each is
// acknowledged once synced.
func TestCommitterPipelineOverlap(t *testing.T) {
	_, _, first, second, p1, p2 := pipelined(t)
	first.sync <- nil
	if !done(p1, 10*time.Second) || p1.err != nil {
		t.Fatalf("L-1 synced: acknowledged %v, err %v", done(p1, 0), p1.err)
	}
	if done(p2, 50*time.Millisecond) {
		t.Fatal("L-2 acknowledged before its sync")
	}
	second.sync <- nil
	if !done(p2, 10*time.Second) || p2.err != nil {
		t.Fatalf("L-2 synced: acknowledged %v, err %v", done(p2, 0), p2.err)
	}
	first.sync, second.sync = make(chan error, 1), make(chan error, 1) // for the cleanup
}

// TestCommitterPipelineInOrder: a group whose sync ends first is not
// acknowledged before the group written before it is durable.
func TestCommitterPipelineInOrder(t *testing.T) {
	_, _, first, second, p1, p2 := pipelined(t)
	second.sync <- nil
	if done(p2, 100*time.Millisecond) {
		t.Fatal("L-2 acknowledged while L-1, written before it, is not durable")
	}
	first.sync <- nil
	for _, p := range []*pendingChange{p1, p2} {
		if !done(p, 10*time.Second) || p.err != nil {
			t.Fatalf("both synced: acknowledged %v, err %v", done(p, 0), p.err)
		}
	}
	first.sync, second.sync = make(chan error, 1), make(chan error, 1)
}

// TestCommitterPipelineFailure: when an earlier group's sync fails, a
// later group fails too, though its own sync succeeded (what reached the
// disk after a failed sync is unknown).
func TestCommitterPipelineFailure(t *testing.T) {
	_, _, first, second, p1, p2 := pipelined(t)
	broken := errors.New("disk on fire")
	second.sync <- nil
	first.sync <- broken
	for _, p := range []*pendingChange{p1, p2} {
		if !done(p, 10*time.Second) || !errors.Is(p.err, broken) {
			t.Fatalf("after L-1's sync failed: acknowledged %v, err %v, want %v", done(p, 0), p.err, broken)
		}
	}
	first.sync, second.sync = make(chan error, 1), make(chan error, 1)
}

// TestMetricStorePipelines: the store wrapped for /metrics keeps a
// two-phase store's phases apart for the committer (and counts the commit
// once synced); a store without them is not made to look two-phase.
func TestMetricStorePipelines(t *testing.T) {
	m := NewMetrics()
	if _, ok := m.Store(&countStore{}).(seatstore.Pipelined); ok {
		t.Fatal("a one-phase store wrapped for metrics looks two-phase")
	}
	inner := newPipeStore()
	c := newCommitter(m.Store(inner), slog.New(slog.DiscardHandler))
	defer c.close()
	if c.pipe == nil {
		t.Fatal("the metrics store hides WriteCommit from the committer")
	}
	errc := make(chan error, 1)
	go func() { errc <- c.commit(context.Background(), change("L-1")) }()
	w := inner.written(t, "L-1")
	if n := testutilCount(t, m, "airseal_store_commit_duration_seconds"); n != 0 {
		t.Fatalf("commit counted (%d) before its sync", n)
	}
	w.sync <- nil
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := testutilCount(t, m, "airseal_store_commit_duration_seconds"); n != 1 {
		t.Fatalf("commit histogram counts %d, want 1", n)
	}
}
