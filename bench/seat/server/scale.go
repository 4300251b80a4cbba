package main

// -scale: a server holding N live leases against one holding 100.
//
// Each server runs in a process of its own (this program run again with
// -serve-leases), as each would in production: the garbage collector of a
// process marks that process's heap only, so the 100-lease server does not
// pay for the N leases of the other (in one process it did, which hid what
// the N leases cost), and the resident memory reported is the N-lease
// server's alone. The load comes from this process, the same client for
// both; the rounds alternate which server goes first (A B, B A), after an
// unmeasured warm-up of each, and each server reports the garbage
// collector's CPU time during the rounds.

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/bench/seat/internal/loadgen"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatserver"
)

// scaleArgs are what scaleBench needs.
type scaleArgs struct {
	dir                           string
	key                           ed25519.PrivateKey
	token                         string
	n, conns, rounds              int
	phase                         time.Duration
	store, memprofile, cpuprofile string
}

// The child server's response key (seed, hex) and client token.
const envKey, envToken = "SEAT_BENCH_KEY", "SEAT_BENCH_TOKEN"

// scaleBench compares renewals on a server with a.n live leases against
// one with 100, and reports the memory the a.n leases take and a sweep's
// time.
func scaleBench(hc *http.Client, a scaleArgs) {
	small := startChild(a, 100, "small", "-100")
	defer small.stop()
	big := startChild(a, a.n, "big", "")
	defer big.stop()
	fmt.Printf("\nscale: each server in a process of its own; the one holding %d leases: %s\n", a.n, big.ready)
	fmt.Printf("scale: the one holding 100 leases: %s\n", small.ready)
	renew := func(c *child, d time.Duration, count *float64) float64 {
		rps, p99 := loadgen.Load(a.conns, d, func(k, i int) error {
			return renew(hc, c.url, "bench", a.token, c.ids[(k*7919+i*104729)%len(c.ids)])
		})
		*count += rps * d.Seconds()
		return p99
	}
	var warm float64
	renew(small, a.phase/3, &warm) // warm-up: connections, caches, the store settled after the fill
	renew(big, a.phase/3, &warm)
	if a.cpuprofile != "" {
		small.ask("profile", "profiling")
		big.ask("profile", "profiling")
	}
	s0, b0 := small.stats(), big.stats()
	var p100, pN, ratios []float64
	var n100, nN float64 // renewals made
	for r := 0; r < a.rounds; r++ {
		var x, y float64
		if r%2 == 0 {
			x = renew(small, a.phase, &n100)
			y = renew(big, a.phase, &nN)
		} else {
			y = renew(big, a.phase, &nN)
			x = renew(small, a.phase, &n100)
		}
		p100, pN, ratios = append(p100, x), append(pN, y), append(ratios, y/x)
		fmt.Printf("round %d  renew p99: 100 leases %6.2f ms, %d leases %6.2f ms  ratio %.2f\n", r+1, x, a.n, y, y/x)
	}
	s1, b1 := small.stats(), big.stats()
	x, y := loadgen.Median(p100), loadgen.Median(pN)
	lo, hi := ratios[0], ratios[0]
	for _, q := range ratios {
		lo, hi = min(lo, q), max(hi, q)
	}
	fmt.Printf("server CPU per renewal (all of it: requests, store, garbage collector): 100 leases %.0f us, %d leases %.0f us\n",
		(s1.cpu-s0.cpu)/n100*1e6, a.n, (b1.cpu-b0.cpu)/nN*1e6)
	fmt.Printf("garbage collection during the rounds: 100 leases %d cycles, %.2f s CPU; %d leases %d cycles, %.2f s CPU\n",
		s1.cycles-s0.cycles, s1.gcCPU-s0.gcCPU, a.n, b1.cycles-b0.cycles, b1.gcCPU-b0.gcCPU)
	fmt.Printf("server holding %d leases after the rounds: heap in use %.1f MiB, resident %.1f MiB (target < 256 MiB)\n", a.n, b1.heapMiB, b1.rssMiB)
	fmt.Printf("medians: renew p99 %.2f ms with 100 leases, %.2f ms with %d; ratio %.2f (target <= 1, i.e. no worse); median of the round ratios %.2f, from %.2f to %.2f\n",
		x, y, a.n, y/x, loadgen.Median(ratios), lo, hi)
}

// child is a seat server in a process of its own (serveChild).
type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	url   string
	ids   []string
	ready string // what it said when ready, after the URL and the ID file
}

// startChild starts a seat server holding n leases in a.dir/name; its
// profiles (a.memprofile, a.cpuprofile) are written to the file names
// with suffix added.
func startChild(a scaleArgs, n int, name, suffix string) *child {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	args := []string{"-serve-leases", strconv.Itoa(n), "-dir", filepath.Join(a.dir, name), "-store", a.store}
	if a.memprofile != "" {
		args = append(args, "-memprofile", a.memprofile+suffix)
	}
	if a.cpuprofile != "" {
		args = append(args, "-scalecpuprofile", a.cpuprofile+suffix)
	}
	c := &child{cmd: exec.Command(exe, args...)}
	c.cmd.Env = append(os.Environ(), envKey+"="+hex.EncodeToString(a.key.Seed()), envToken+"="+a.token)
	c.cmd.Stderr = os.Stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		log.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	c.out = bufio.NewScanner(out)
	if err := c.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	f := strings.SplitN(c.read("ready"), " ", 4)
	if len(f) < 4 {
		log.Fatalf("child %s: bad ready line %q", name, f)
	}
	c.url, c.ready = f[1], f[3]
	b, err := os.ReadFile(f[2])
	if err != nil {
		log.Fatal(err)
	}
	c.ids = strings.Fields(string(b))
	if len(c.ids) != n {
		log.Fatalf("child %s: %d lease IDs, want %d", name, len(c.ids), n)
	}
	return c
}

// read returns the next line the child prints that starts with word.
func (c *child) read(word string) string {
	for c.out.Scan() {
		if l := c.out.Text(); strings.HasPrefix(l, word+" ") {
			return l
		}
	}
	log.Fatalf("seat server child ended before it said %q", word)
	return ""
}

// ask sends a command and returns the answer, which starts with word.
func (c *child) ask(cmd, word string) string {
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		log.Fatal(err)
	}
	return c.read(word)
}

// memStats is a child's memory and garbage collection so far.
type memStats struct {
	heapMiB, rssMiB, gcCPU, cpu float64
	cycles                      uint64
}

func (c *child) stats() memStats {
	var m memStats
	l := c.ask("stats", "stats")
	if _, err := fmt.Sscanf(l, "stats heap %f MiB, resident %f MiB, %d collections, %f s of garbage collector CPU, %f s",
		&m.heapMiB, &m.rssMiB, &m.cycles, &m.gcCPU, &m.cpu); err != nil {
		log.Fatalf("child stats %q: %v", l, err)
	}
	return m
}

func (c *child) stop() {
	_ = c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		log.Print(err)
	}
}

// serveChild is -serve-leases: a seat server in dir holding n leases. It
// prints "ready URL IDFILE what-it-measured", then answers on stdin
// "stats" (memory and garbage collection so far) and "profile" (start
// the CPU profile), and ends at the end of stdin.
func serveChild(dir string, n int, store, memprofile, cpuprofile string) {
	seed, err := hex.DecodeString(os.Getenv(envKey))
	if err != nil || len(seed) != ed25519.SeedSize {
		log.Fatalf("-serve-leases: %s: want the response key's seed in hex", envKey)
	}
	memoryStore = store == "memory"
	url, srv, _, stop := startServer(dir, ed25519.NewKeyFromSeed(seed), "bench", os.Getenv(envToken))
	defer stop()
	t0 := time.Now()
	ids := fill(srv, n)
	took := time.Since(t0)
	idFile := filepath.Join(dir, "ids.txt")
	if err := os.WriteFile(idFile, []byte(strings.Join(ids, "\n")), 0o600); err != nil {
		log.Fatal(err)
	}
	runtime.GC()
	if memprofile != "" {
		writeProfile("heap", memprofile)
	}
	sweep := func() time.Duration {
		t := time.Now()
		if err := srv.Sweep(context.Background()); err != nil {
			log.Fatal(err)
		}
		return time.Since(t)
	}
	sweep() // the first sweep saves the clock floor
	sw := sweep()
	fmt.Printf("ready %s %s %d leases taken in %s (%.0f/s, durable each); %s; a sweep with nothing expiring %s\n",
		url, idFile, n, took.Round(time.Millisecond), float64(n)/took.Seconds(), memLine(), sw)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "stats":
			fmt.Printf("stats %s\n", memLine())
		case "profile":
			f, err := os.Create(cpuprofile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			defer pprof.StopCPUProfile()
			fmt.Println("profiling " + cpuprofile)
		}
	}
}

// memLine is the process's heap in use, resident memory, and garbage
// collections so far with their CPU time.
func memLine() string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	gc := 0.0
	if s[0].Value.Kind() == metrics.KindFloat64 {
		gc = s[0].Value.Float64()
	}
	return fmt.Sprintf("heap %.1f MiB, resident %.1f MiB, %d collections, %.3f s of garbage collector CPU, %.3f s of CPU",
		float64(m.HeapInuse)/(1<<20), rssMiB(), m.NumGC, gc, cpuTime().Seconds())
}

// rssMiB is the process's resident set size from /proc/self/status.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// fill takes count leases on srv, from 32 goroutines, and returns their
// IDs.
func fill(srv *seatserver.Server, count int) []string {
	ctx := context.Background()
	ids := make([]string, count)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				r := seats.Request{Product: "bench", ClientSessionID: fmt.Sprintf("fill-%012d", i), AppName: "bench", UserName: fmt.Sprintf("user%d", i), ComputerName: fmt.Sprintf("ws-%d", i)}
				sess, _, err := srv.Checkout(ctx, r)
				if err != nil {
					log.Fatal(err)
				}
				ids[i] = sess.ID
			}
		}()
	}
	wg.Wait()
	return ids
}
