package seatstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
)

// BenchmarkFoldRenewals measures what folding lazy renewals of random
// leases costs (fold-ns/renewal: the fold's transaction and a PASSIVE
// checkpoint after it, as the checkpointer runs one after each fold or
// two), by the number of live leases and of renewals per fold. The seat
// server at 8 connections writes ~8,000 renewals a second, one record
// each, so a fold takes the 2048 records (foldRecords) that wake it; a
// fold of 8192 is what folding renewals less often would give. With 100
// leases the fold coalesces the puts of each lease into one UPDATE; with
// 100,000 nearly every renewal is an UPDATE of its own. ns/op includes
// the commits.
//
//	go test -run NONE -bench FoldRenewals -benchtime 40000x ./internal/seatstore/
func BenchmarkFoldRenewals(b *testing.B) {
	for _, n := range []int{100, 100000} {
		for _, per := range []int{foldRecords, 4 * foldRecords} {
			b.Run(fmt.Sprintf("leases-%d/per-fold-%d", n, per), func(b *testing.B) {
				benchFoldRenewals(b, n, per)
			})
		}
	}
}

func benchFoldRenewals(b *testing.B, n, per int) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "seats.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetFoldInterval(time.Hour)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	ls := make([]seats.Lease, n)
	for i := range ls {
		ls[i] = jlease(fmt.Sprintf("%016x", rng.Uint64()), "bench", jt0)
		ls[i].ClientSessionID = fmt.Sprintf("fill-%012d", i)
	}
	for i := 0; i < n; i += 1000 {
		c := Change{PutLeases: ls[i:min(i+1000, n)]}
		for j := range c.PutLeases {
			c.Events = append(c.Events, seats.Event{Time: jt0, Kind: seats.EventGrant, Product: "bench", LeaseID: c.PutLeases[j].ID})
		}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.jr.fold(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.rdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		b.Fatal(err)
	}
	var spent time.Duration
	now := jt0
	b.ResetTimer()
	for done := 0; done < b.N; {
		for k := 0; k < per && done < b.N; k, done = k+1, done+1 {
			l := ls[rng.IntN(n)]
			now = now.Add(time.Millisecond)
			l.Expires = now.Add(time.Minute)
			c := Change{Lazy: true, PutLeases: []seats.Lease{l},
				Events: []seats.Event{{Time: now, Kind: seats.EventRenew, Product: "bench", LeaseID: l.ID}}}
			if err := s.Commit(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		t := time.Now()
		if err := s.jr.fold(); err != nil {
			b.Fatal(err)
		}
		if _, err := s.rdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(t)
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "fold-ns/renewal")
}
