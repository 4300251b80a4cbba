package seatbench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// walFrame is one WAL frame of the store's 4096-byte pages: a 24-byte
// header and the page.
const walFrame = 24 + 4096

// walPages returns how many frames the database's WAL holds.
func walPages(t testing.TB, path string) int64 {
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= 32 {
		return 0
	}
	return (fi.Size() - 32) / walFrame
}

// resetWAL checkpoints the WAL into the database and truncates it, from a
// connection of its own (the store keeps serving).
func resetWAL(t testing.TB, path string) {
	db, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var busy, log, done int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, %v", busy, err)
	}
}

// serverChange is the Change the seat server commits for a batch of n
// requests merged by its committer: n leases put (new ones for checkouts,
// renewed ones for renewals), their usage-log entries and, for checkouts,
// the product's peak.
func serverChange(prefix string, from, n int, kind seats.EventKind, at time.Time) seatstore.Change {
	var c seatstore.Change
	for i := from; i < from+n; i++ {
		l := lease(leaseID(prefix, i))
		l.Expires = at.Add(5 * time.Minute)
		c.PutLeases = append(c.PutLeases, l)
		c.Events = append(c.Events, seats.Event{Time: at, Kind: kind, Product: "acme", LeaseID: l.ID, Session: l.ClientSessionID, User: "user"})
	}
	if kind == seats.EventGrant {
		c.Settings = map[string]string{"peak.acme": fmt.Sprint(from + n)}
	}
	return c
}

// leaseID is the i-th lease ID as the server makes them: in the order
// they were made (internal/seats: the time, then random bits).
func leaseID(prefix string, i int) string {
	return fmt.Sprintf("%s%08X%016X", prefix, i, uint64(i)*0x9E3779B97F4A7C15)
}

// BenchmarkPagesPerCommit reports the pages (WAL frames, each one or two
// write syscalls) one commit of 8 server requests writes, checkouts and
// renewals, with 10,000 live leases: the I/O per fsync that group commit
// cannot share. Deterministic: a regression in the schema or the write
// path shows as more pages.
func BenchmarkPagesPerCommit(b *testing.B) {
	s := openSQLite(b)
	ctx := context.Background()
	const live, batch = 10_000, 8
	for i := 0; i < live; i += 1000 {
		if err := s.Commit(ctx, serverChange("L-", i, 1000, seats.EventGrant, t0)); err != nil {
			b.Fatal(err)
		}
	}
	var co, re int64
	next := live
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resetWAL(b, s.Path())
		b.StartTimer()
		if err := s.Commit(ctx, serverChange("L-", next, batch, seats.EventGrant, t0)); err != nil {
			b.Fatal(err)
		}
		next += batch
		b.StopTimer()
		co += walPages(b, s.Path())
		resetWAL(b, s.Path())
		b.StartTimer()
		// Renew 8 leases spread over the live ones.
		var c seatstore.Change
		for k := range batch {
			l := lease(leaseID("L-", (i*7919+k*1237)%live))
			l.Expires = t0.Add(time.Duration(i+1) * time.Minute)
			c.PutLeases = append(c.PutLeases, l)
			c.Events = append(c.Events, seats.Event{Time: t0, Kind: seats.EventRenew, Product: "acme", LeaseID: l.ID, Session: l.ClientSessionID, User: "user"})
		}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		re += walPages(b, s.Path())
		b.StartTimer()
	}
	b.ReportMetric(float64(co)/float64(b.N), "pages/checkout-commit")
	b.ReportMetric(float64(re)/float64(b.N), "pages/renew-commit")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServerCommit: one transaction of 8 server requests (checkouts
// or renewals, as the committer merges them) after another, in the
// caller's goroutine, 10,000 live leases: the time the single writer is
// busy per group (SQL, WAL writes, fsync, checkpoints), which bounds
// requests/s at 8 connections.
func BenchmarkServerCommit(b *testing.B) {
	for _, kind := range []seats.EventKind{seats.EventGrant, seats.EventRenew} {
		b.Run(string(kind), func(b *testing.B) {
			s := openSQLite(b)
			ctx := context.Background()
			const live, batch = 10_000, 8
			for i := 0; i < live; i += 1000 {
				if err := s.Commit(ctx, serverChange("L-", i, 1000, seats.EventGrant, t0)); err != nil {
					b.Fatal(err)
				}
			}
			next := live
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				var c seatstore.Change
				if kind == seats.EventGrant {
					c = serverChange("L-", next, batch, kind, t0)
					next += batch
				} else {
					for k := range batch {
						l := lease(leaseID("L-", (i*7919+k*1237)%live))
						l.Expires = t0.Add(time.Duration(i+1) * time.Minute)
						c.PutLeases = append(c.PutLeases, l)
						c.Events = append(c.Events, seats.Event{Time: t0, Kind: kind, Product: "acme", LeaseID: l.ID, Session: l.ClientSessionID, User: "user"})
					}
				}
				if err := s.CommitNow(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/commit")
			// CPU time is what a loaded machine does not inflate much.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/commit")
		})
	}
}
