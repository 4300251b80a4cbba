package seats

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkScale measures what a core holding n live leases costs against
// one holding 100 (issue 10: renewal p99 with 100,000 leases no worse than
// with 100): a renewal (ns/op), the garbage collector's CPU time (but its
// idle workers') for one full collection with the core alive (gc-cpu-ms: the mark work every
// collection of the server does, part of it as assists on request
// goroutines), the heap the collector must scan per lease (scan-B/lease,
// which does not depend on the machine's load) and the heap per lease
// (heap-B/lease). Run:
//
//	go test -run '^$' -bench Scale -benchtime 200000x ./internal/seats/
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("leases=%d", n), func(b *testing.B) {
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			scan0 := gcMetric("/gc/scan/heap:bytes")
			c, ids := filledCore(b, n)
			runtime.GC()
			runtime.ReadMemStats(&m1)
			scan1 := gcMetric("/gc/scan/heap:bytes")
			var gcs []float64
			for i := 0; i < 5; i++ {
				cpu := gcCPU()
				runtime.GC()
				gcs = append(gcs, (gcCPU()-cpu)*1000)
			}
			sort.Float64s(gcs)
			now := t0.Add(time.Second)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(time.Microsecond)
				if _, _, err := c.Renew(ids[(i*104729)%len(ids)], now); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(gcs[len(gcs)/2], "gc-cpu-ms")
			b.ReportMetric((scan1-scan0)/float64(n), "scan-B/lease")
			b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "heap-B/lease")
			runtime.KeepAlive(c)
		})
	}
}

// gcCPU is the garbage collector's CPU time so far in seconds, but the
// idle mark workers' (which run only on processors with nothing else to
// do).
func gcCPU() float64 {
	return gcMetric("/cpu/classes/gc/total:cpu-seconds") - gcMetric("/cpu/classes/gc/mark/idle:cpu-seconds")
}

// gcMetric reads a runtime/metrics value as a float64.
func gcMetric(name string) float64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	switch s[0].Value.Kind() {
	case metrics.KindUint64:
		return float64(s[0].Value.Uint64())
	case metrics.KindFloat64:
		return s[0].Value.Float64()
	}
	return 0
}

// filledCore returns a core with n live leases of one product, their
// strings allocated apart as a decoded request's are, and their IDs.
func filledCore(tb testing.TB, n int) (*Core, []string) {
	c := New(lifetime, nil)
	if _, err := c.Install(mainLic("M1", n), t0); err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		r := Request{Product: strings.Clone("erp"), ClientSessionID: fmt.Sprintf("session-%016d", i), AppName: strings.Clone("Accounting"),
			UserName: fmt.Sprintf("user%d", i), ComputerName: fmt.Sprintf("ws-%d", i), SessionStarted: t0}
		g, _, err := c.Checkout(r, t0)
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = g.Lease.ID
	}
	return c, ids
}

// BenchmarkLeases100k is Leases with 100,000 live leases: what a license
// taken away pays for choosing the newest leases, under the server's lock.
func BenchmarkLeases100k(b *testing.B) {
	c, _ := filledCore(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := len(c.Leases("erp")); n != 100_000 {
			b.Fatalf("%d leases", n)
		}
	}
}

// BenchmarkHolders100k is Holders with 100,000 live leases: what a refused
// checkout by an admin pays to name the 100 oldest, under the server's
// lock (a client's refusal names none).
func BenchmarkHolders100k(b *testing.B) {
	c, _ := filledCore(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := len(c.Holders("erp", MaxHolders)); n != MaxHolders {
			b.Fatalf("%d holders", n)
		}
	}
}
