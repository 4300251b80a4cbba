// Package booksbench measures the usage report (issue 12 item 4, Speed):
// writing and verifying a report over a usage log of 1,000,000 records in
// SQLite, with the peak memory of each.
package booksbench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/usagereport"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// records is the log size (AIRSEAL_BENCH_RECORDS, default 1,000,000).
func records() int {
	if n, err := strconv.Atoi(os.Getenv("AIRSEAL_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// peak samples the memory the Go runtime has mapped (heap, stacks,
// metadata: what the process's RSS is made of) every 5 ms until stop.
func peak() (stop func() uint64) {
	var max atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	go func() {
		defer wg.Done()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64() - s[1].Value.Uint64(); v > max.Load() {
				max.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return max.Load() }
}

// BenchmarkReportMillion builds a month of usage (records() entries: up
// to 200 concurrent leases, grants, renewals, releases, refusals, a
// checkpoint every 2,000 records) in SQLite, then writes the report of the
// month to a file and verifies it, each once per iteration. Metrics:
// write-s, verify-s, write-peak-MiB and verify-peak-MiB (memory mapped by
// the Go runtime, heap released to the OS excluded), file-MiB.
func BenchmarkReportMillion(b *testing.B) {
	dir := b.TempDir()
	st, err := seatstore.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	resp := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	vendor, _ := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	sl := &license.ServerLicense{License: license.License{Serial: "BENCH", Product: "acme-erp", Kind: license.KindMain,
		Customer: license.Customer{Name: "Acme"}, IssuedAt: t0.AddDate(0, -1, 0), NotBefore: t0.AddDate(0, -1, 0), Seats: 200},
		SeatUnit: license.PerSession, Nodes: []license.Node{{Name: "node1", ResponseKey: resp.Public().(ed25519.PublicKey)}}}
	if err := sl.Sign(vendor); err != nil {
		b.Fatal(err)
	}
	arm, _ := sl.Armor()
	n := records()
	step := 30 * 24 * time.Hour / time.Duration(n)
	live := []string{}
	next := 0
	var batch []seats.Event
	var seq int64
	var hash [32]byte
	flush := func() {
		if err := st.Commit(ctx, seatstore.Change{Events: batch}); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * step)
		var e seats.Event
		switch {
		case i%2000 == 1999:
			// A checkpoint signs the head so far (the store chains as
			// usagereport.ChainHash does, from seq 1).
			h := usagereport.SignHead(resp, seq, hash, at)
			e = seats.Event{Time: at, Kind: usagereport.KindCheckpoint, Detail: h.Detail()}
		case len(live) < 200 && i%3 != 2:
			id := fmt.Sprintf("L%07d", next)
			next++
			live = append(live, id)
			e = seats.Event{Time: at, Kind: seats.EventGrant, Product: "acme-erp", LeaseID: id, Session: "s-" + id, User: "user" + strconv.Itoa(next%500)}
		case len(live) >= 200 && i%7 == 0:
			e = seats.Event{Time: at, Kind: seats.EventRefuse, Product: "acme-erp", LeaseID: "R", Session: "s-R" + strconv.Itoa(i), Detail: "200 of 200 seats in use"}
		case i%2 == 0:
			id := live[i%len(live)]
			e = seats.Event{Time: at, Kind: seats.EventRenew, Product: "acme-erp", LeaseID: id, Session: "s-" + id}
		default:
			k := i % len(live)
			id := live[k]
			live = append(live[:k], live[k+1:]...)
			e = seats.Event{Time: at, Kind: seats.EventRelease, Product: "acme-erp", LeaseID: id, Session: "s-" + id}
		}
		batch = append(batch, e)
		seq++
		hash = usagereport.ChainHash(hash, &usagereport.Record{Seq: seq, Time: e.Time, Kind: string(e.Kind), Product: e.Product,
			LeaseID: e.LeaseID, Session: e.Session, User: e.User, Detail: e.Detail})
		if len(batch) == 200 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	b.Logf("built a log of %d records in %s", n, time.Since(start).Round(time.Second))
	ring := keys.NewKeyring(vendor.Public())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, fmt.Sprintf("r%d.report", i))
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := peak()
		ws := time.Now()
		res, err := seatserver.WriteReport(ctx, st, f, seatserver.ReportOptions{From: t0, To: t0.Add(30 * 24 * time.Hour),
			Now: t0.Add(31 * 24 * time.Hour), Key: resp, Licenses: []string{string(arm)}})
		wd := time.Since(ws)
		wpeak := stop()
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		fi, _ := os.Stat(path)
		runtime.GC()
		f, _ = os.Open(path)
		stop = peak()
		vs := time.Now()
		got, err := usagereport.Verify(f, path, usagereport.VerifyOptions{Keyring: ring, Serial: "BENCH"})
		vd := time.Since(vs)
		vpeak := stop()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if got.Records != res.Records || res.Records < int64(n) {
			b.Fatalf("verified %d records, wrote %d, log %d", got.Records, res.Records, n)
		}
		b.ReportMetric(wd.Seconds(), "write-s")
		b.ReportMetric(vd.Seconds(), "verify-s")
		b.ReportMetric(float64(wpeak)/(1<<20), "write-peak-MiB")
		b.ReportMetric(float64(vpeak)/(1<<20), "verify-peak-MiB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
}
