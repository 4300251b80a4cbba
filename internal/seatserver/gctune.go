package seatserver

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// GCHeadroom is the heap growth between two collections the license
// server allows itself at least: with a small live heap (a few thousand
// leases: a few MiB) Go's default (GOGC=100: collect when the heap has
// doubled) collects every few hundred requests, and the collections cost
// about a tenth of the CPU of a renewal. With GCHeadroom the server
// collects a tenth as often and its heap stays under live + GCHeadroom;
// with a large live heap (over GCHeadroom: about 100,000 leases) it is
// Go's default, so the memory target of issue 10 (100,000 leases under
// 256 MiB resident) is as before.
const GCHeadroom = 64 << 20

// gcTuner sets GOGC from the live heap so that the heap may grow by
// GCHeadroom between collections, never below Go's default of 100. The
// GOGC and GOMEMLIMIT environment variables, when set, win: it does
// nothing then. It is process-wide (runtime/debug), so several servers in
// one process (tests, the benchmarks) share it; each sets the same value.
type gcTuner struct {
	off     bool
	percent int
	sample  []metrics.Sample
}

func newGCTuner() *gcTuner {
	return &gcTuner{
		off:    os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "",
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
	}
}

// gcPercent is the GOGC for a live heap of live bytes.
func gcPercent(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(max(100, min(GCHeadroom*100/live, 2000)))
}

// tune reads the live heap and sets GOGC when it should change by more
// than a tenth.
func (g *gcTuner) tune() {
	if g.off {
		return
	}
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercent(g.sample[0].Value.Uint64())
	if g.percent == 0 || p*10 > g.percent*11 || p*11 < g.percent*10 {
		debug.SetGCPercent(p)
		g.percent = p
	}
}
