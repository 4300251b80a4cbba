// Package seatbench measures the license server's seat store
// (internal/seatstore) in one run: commits per second with 8 concurrent
// committers, group commit against one transaction per commit, and Load
// of 100,000 leases (time and memory). Run bench/seat/store.sh for paired
// rounds, medians and ratios.
package seatbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// committers is how many goroutines commit at once (the 8
// connections).
const committers = 8

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)

func lease(id string) seats.Lease {
	return seats.Lease{ID: id, Request: seats.Request{Product: "acme", ClientSessionID: "session-" + id, AppName: "app",
		UserName: "user", ComputerName: "PC-" + id, SessionStarted: t0}, Mode: seats.ModeLicensed, Granted: t0, Expires: t0.Add(5 * time.Minute)}
}

// population is how many leases stay live: each checkout also releases
// the lease granted population checkouts before, so the store holds a
// steady number of sessions as a server does.
const population = 1000

// checkout is what the server commits for a new session: the lease
// (granted against the license's seats) and its usage-log entry, plus the
// release of an old session and its entry.
func checkout(prefix string, i int64) seatstore.Change {
	id := fmt.Sprint(prefix, i)
	l := lease(id)
	c := seatstore.Change{Grants: []seatstore.Grant{{Lease: l, Seats: 2 * population}},
		Events: []seats.Event{{Time: t0, Kind: seats.EventGrant, Product: "acme", LeaseID: id, Session: l.ClientSessionID, User: "user"}}}
	if i > population {
		old := fmt.Sprint(prefix, i-population)
		c.DeleteLeases = []string{old}
		c.Events = append(c.Events, seats.Event{Time: t0, Kind: seats.EventRelease, Product: "acme", LeaseID: old, User: "user"})
	}
	return c
}

func openSQLite(b *testing.B) *seatstore.SQLite {
	s, err := seatstore.OpenSQLite(filepath.Join(b.TempDir(), "seats.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// serverCheckout is what the single-node server commits for a new session
// (its core decides the seat, the store only keeps it): the lease put and
// its usage-log entry, plus the release of an old session and its entry.
// SQLite journals it (no Grant).
func serverCheckout(prefix string, i int64) seatstore.Change {
	c := checkout(prefix, i)
	c.PutLeases, c.Grants = []seats.Lease{c.Grants[0].Lease}, nil
	return c
}

// commitLoad runs b.N checkouts from committers goroutines and reports
// commits/s, the Commits per durable group and the process's CPU time
// per commit.
func commitLoad(b *testing.B, s seatstore.Store, batches func() int64) {
	commitLoadOn(b, func(int) seatstore.Store { return s }, batches)
}

// commitLoadOn is commitLoad with committer w using store(w).
func commitLoadOn(b *testing.B, store func(w int) seatstore.Store, batches func() int64) {
	commitLoadWith(b, store, batches, checkout, nil)
}

// commitLoadWith is commitLoadOn committing change(prefix, i); finish,
// when set, runs inside the timing after the last commit.
func commitLoadWith(b *testing.B, store func(w int) seatstore.Store, batches func() int64, change func(string, int64) seatstore.Change, finish func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	prefix := fmt.Sprint(b.N, "-")
	before := batches()
	cpu0 := cpuTime()
	b.ResetTimer()
	for w := range committers {
		wg.Add(1)
		s := store(w)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := s.Commit(context.Background(), change(prefix, i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if finish != nil {
		finish()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/commit")
	if n := batches() - before; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "commits/tx")
	}
}

// BenchmarkCommitGroup: SQLite with group commit (the default).
func BenchmarkCommitGroup(b *testing.B) {
	s := openSQLite(b)
	commitLoad(b, s, s.Batches)
}

// BenchmarkCommitServer: SQLite with group commit, each commit the
// single-node server's checkout (serverCheckout: no Grant, so it goes
// through the change journal); the journal is folded at Close, inside the
// timing.
func BenchmarkCommitServer(b *testing.B) {
	s, err := seatstore.OpenSQLite(filepath.Join(b.TempDir(), "seats.db"))
	if err != nil {
		b.Fatal(err)
	}
	commitLoadWith(b, func(int) seatstore.Store { return s }, s.Batches, serverCheckout, func() {
		if err := s.Close(); err != nil { // folds what waits
			b.Fatal(err)
		}
	})
}

// BenchmarkCommitSingle: SQLite with one transaction (one fsync) per
// Commit, the baseline group commit is measured against.
func BenchmarkCommitSingle(b *testing.B) {
	s := openSQLite(b)
	s.SetMaxBatch(1)
	commitLoad(b, s, s.Batches)
}

// BenchmarkLoad100k: Load of 100,000 leases; reports the heap the loaded
// State holds (live-MiB) beside the usual allocation figures.
func BenchmarkLoad100k(b *testing.B) {
	s := openSQLite(b)
	const n = 100_000
	for i := 0; i < n; i += 5000 {
		var c seatstore.Change
		for j := i; j < i+5000; j++ {
			c.PutLeases = append(c.PutLeases, lease(fmt.Sprintf("L-%06d", j)))
		}
		if err := s.Commit(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	fi, _ := os.Stat(s.Path())
	// The heap the loaded State holds, measured once outside the timing.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	st, err := s.Load(context.Background())
	if err != nil || len(st.Leases) != n {
		b.Fatalf("Load: %d leases, %v", len(st.Leases), err)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	live := float64(m1.HeapAlloc-m0.HeapAlloc) / (1 << 20)
	runtime.KeepAlive(st)
	st = nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(live, "live-MiB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
}

// BenchmarkEvents1M: one walk over a usage log of 1,000,000 entries (the
// signed report's input, issue 12): ns per entry, and the largest heap
// seen during the walk above the heap before it (peak-MiB), which must not
// grow with the log.
func BenchmarkEvents1M(b *testing.B) {
	s := openSQLite(b)
	const n, per = 1_000_000, 10_000
	for i := 0; i < n; i += per {
		var c seatstore.Change
		for j := i; j < i+per; j++ {
			c.Events = append(c.Events, seats.Event{Time: t0.Add(time.Duration(j) * time.Second), Kind: seats.EventRenew, Product: "acme",
				LeaseID: fmt.Sprintf("L-%07d", j%5000), Session: fmt.Sprintf("session-%07d", j%5000), User: "user"})
		}
		if err := s.Commit(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	var peak uint64
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		base := m.HeapAlloc
		count := 0
		var prev [32]byte
		err := s.Events(context.Background(), time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
			if e.Hash != seatstore.ChainHash(prev, e) {
				return fmt.Errorf("entry %d: chain broken", e.Seq)
			}
			prev = e.Hash
			if count++; count%100_000 == 0 {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base {
					peak = max(peak, m.HeapAlloc-base)
				}
			}
			return nil
		})
		if err != nil || count != n {
			b.Fatalf("walked %d entries: %v", count, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}
