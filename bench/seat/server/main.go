// Command server measures the seat server's checkouts and renewals per
// second on loopback against a bare net/http floor, paired in one run
// (issue 10, "Speed"):
//
//   - floor: net/http with the same HTTP Basic token check (SHA-256,
//     constant-time compare) and one Ed25519 response signature per
//     request, no storage;
//   - checkout: POST /api/sessions, each a new session, signed, durable in
//     SQLite (WAL, group commit) before it is answered;
//   - renew: POST /api/sessions/{ID}/renew of leases taken beforehand.
//
// Both send Licence-Signature-Batch as pkg/seat does (answers ready
// together may share one signature; each phase prints the answers per
// signature); checkout-alone and renew-alone (-only) send no such header,
// so every answer is signed alone: the same server without batching.
//
// Phases alternate floor, checkout, renew, ROUNDS times, each for
// -phase, at -conns keep-alive connections; it prints each phase's
// requests/s and p99, the medians, and the ratios to the floor (targets:
// checkout >= 0.5x, renew >= 0.7x).
//
// With -scale N it then measures the lease count's cost: a server holding
// N live leases against one holding 100, each in a process of its own
// (scale.go), renewals paired round by round (target: p99 with N no worse
// than with 100), the heap and resident memory of the server holding N
// (target for 100,000: under 256 MiB), and one sweep with nothing
// expiring (work proportional to what expires).
//
// With -store memory the server keeps its state in seatstore.Memory
// instead of SQLite: nothing is durable, so the numbers are not issue
// 10's; it is for profiling the request path (HTTP, JSON, auth, the core,
// the committer) without storage noise, e.g.
// BENCH_FLAGS='-store memory -only renew -cpuprofile /tmp/p' sh bench/seat/server.sh
// then go tool pprof -top -cum /tmp/p.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/bench/seat/internal/loadgen"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/seat"
)

func main() {
	conns := flag.Int("conns", 8, "concurrent keep-alive connections")
	phase := flag.Duration("phase", 3*time.Second, "length of one measured phase")
	rounds := flag.Int("rounds", 5, "rounds of floor, checkout, renew")
	dir := flag.String("dir", "", "directory for the SQLite store (default a temporary one)")
	scale := flag.Int("scale", 0, "also compare a server holding `N` live leases with one holding 100 (0: skip)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	only := flag.String("only", "floor,checkout,renew", "comma-separated phases to run (profiling one phase)")
	blockprofile := flag.String("blockprofile", "", "write a block profile of the run to `FILE`")
	mutexprofile := flag.String("mutexprofile", "", "write a mutex profile of the run to `FILE`")
	tracefile := flag.String("trace", "", "write a runtime/trace of the run to `FILE`")
	memprofile := flag.String("memprofile", "", "with -scale, write a heap profile of the server holding N leases, taken once they are in, to `FILE` (and of the one holding 100 to FILE-100)")
	scaleCPU := flag.String("scalecpuprofile", "", "with -scale, write a CPU profile of the server holding N leases during the measured rounds to `FILE` (and of the one holding 100 to FILE-100)")
	serveLeases := flag.Int("serve-leases", 0, "internal (run by -scale): serve a seat server in -dir holding `N` leases, controlled on stdin")
	storeKind := flag.String("store", "sqlite", "the server's store: sqlite (durable), or memory (seatstore.Memory: not durable, for profiling the request path only)")
	flag.Parse()
	if *serveLeases > 0 {
		serveChild(*dir, *serveLeases, *storeKind, *memprofile, *scaleCPU)
		return
	}
	switch *storeKind {
	case "sqlite":
	case "memory":
		memoryStore = true
	default:
		log.Fatalf("-store %q: want sqlite or memory", *storeKind)
	}
	if *blockprofile != "" {
		runtime.SetBlockProfileRate(10000)
		defer writeProfile("block", *blockprofile)
	}
	if *mutexprofile != "" {
		runtime.SetMutexProfileFraction(5)
		defer writeProfile("mutex", *mutexprofile)
	}
	if *tracefile != "" {
		f, err := os.Create(*tracefile)
		if err != nil {
			log.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			log.Fatal(err)
		}
		defer trace.Stop()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "seat-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	token := base64.RawURLEncoding.EncodeToString(tok)

	srvURL, mainSrv, mainStore, stopSrv := startServer(filepath.Join(*dir, "main"), key, "bench", token)
	defer stopSrv()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	// Leases for the renew phases: enough that every connection renews its own.
	leases := make([][]string, *conns)
	for c := range leases {
		for i := 0; i < 50; i++ {
			id, err := checkout(hc, srvURL, "bench", token, fmt.Sprintf("renew-%02d-%09d", c, i))
			if err != nil {
				log.Fatal(err)
			}
			leases[c] = append(leases[c], id)
		}
	}
	// The floor answers with a body of the same shape and size as the
	// server's checkout answer, and its client encodes and decodes the
	// same JSON as the checkout client: the client work (on the same two
	// cores) is the same in every phase.
	sample, err := loadgen.Do(hc, "POST", srvURL+seat.PathSessions, "bench", token, loadgen.CheckoutBody("renew-00-000000000"), 200)
	if err != nil {
		log.Fatal(err)
	}
	floorURL, stopFloor := loadgen.StartFloor(key, "bench", token, sample)
	defer stopFloor()
	var seq atomic.Int64
	type result struct{ rps, p99, cpu float64 }
	res := map[string][]result{}
	kinds := strings.Split(*only, ",")
	where := filepath.Join(*dir, "main", "state.db")
	if memoryStore {
		where = "memory (seatstore.Memory) -- NOT DURABLE: for profiling the request path only; the ratios are not issue 10's"
	}
	fmt.Printf("seat server bench: %d conns, %d rounds of %s per phase, GOMAXPROCS=%d, store %s\n", *conns, *rounds, *phase, runtimePROCS(), where)
	for r := 0; r < *rounds; r++ {
		for _, k := range kinds {
			var op func(c, i int) error
			switch k {
			case "floor":
				op = func(c, i int) error {
					_, err := floorCall(hc, floorURL, "bench", token, fmt.Sprintf("co-%02d-%012d", c, seq.Add(1)))
					return err
				}
			case "checkout", "checkout-alone":
				batch := k == "checkout"
				op = func(c, i int) error {
					_, err := checkoutBatch(hc, batch, srvURL, "bench", token, fmt.Sprintf("co-%02d-%012d", c, seq.Add(1)))
					return err
				}
			case "renew", "renew-alone":
				batch := k == "renew"
				op = func(c, i int) error {
					return renewBatch(hc, batch, srvURL, "bench", token, leases[c][i%len(leases[c])])
				}
			default:
				log.Fatalf("-only: unknown phase %q (floor, checkout, renew, checkout-alone, renew-alone)", k)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b0, cpu0 := mainStore.Batches(), cpuTime()
			a0, s0 := mainSrv.SignStats()
			rps, p99 := loadgen.Load(*conns, *phase, op)
			cpu := float64((cpuTime() - cpu0).Microseconds()) / (rps * phase.Seconds())
			runtime.ReadMemStats(&m1)
			allocs := float64(m1.Mallocs-m0.Mallocs) / (rps * phase.Seconds())
			res[k] = append(res[k], result{rps, p99, cpu})
			// CPU per request (client and server, the whole process) is
			// what a loaded machine inflates least.
			// Allocations per request, client and server (the whole
			// process), which a loaded machine does not change at all.
			fmt.Printf("round %d  %-8s %9.0f req/s  p99 %6.2f ms  cpu %4.0f us/req  %4.0f allocs/req", r+1, k, rps, p99, cpu, allocs)
			if k != "floor" {
				// Requests per transaction: a regression of group commit
				// shows here (fsyncs per transaction: server.sh SYNCS=1).
				reqs := rps * phase.Seconds()
				tx := mainStore.Batches() - b0
				fmt.Printf("  %5.2f req/commit", reqs/float64(max(tx, 1)))
				// Answers per Ed25519 signature: batching at work (1.00
				// without it; the floor signs every answer).
				a1, s1 := mainSrv.SignStats()
				fmt.Printf("  %5.2f answers/sig", float64(a1-a0)/float64(max(s1-s0, 1)))
			}
			fmt.Println()
		}
	}
	med := func(k string) (float64, float64) {
		var a, b []float64
		for _, x := range res[k] {
			a, b = append(a, x.rps), append(b, x.p99)
		}
		return loadgen.Median(a), loadgen.Median(b)
	}
	medCPU := func(k string) float64 {
		var a []float64
		for _, x := range res[k] {
			a = append(a, x.cpu)
		}
		return loadgen.Median(a)
	}
	f, fp := med("floor")
	c, cp := med("checkout")
	n, np := med("renew")
	fmt.Printf("\nmedians: floor %.0f req/s (p99 %.2f ms), checkout %.0f/s (p99 %.2f ms), renew %.0f/s (p99 %.2f ms)\n", f, fp, c, cp, n, np)
	if f > 0 {
		fmt.Printf("ratio checkout/floor %.2f (target >= 0.5), renew/floor %.2f (target >= 0.7)\n", c/f, n/f)
		fmt.Printf("CPU per request (client and server): floor %.0f us, checkout %.0f us, renew %.0f us\n", medCPU("floor"), medCPU("checkout"), medCPU("renew"))
		for _, k := range []string{"checkout-alone", "renew-alone"} {
			if len(res[k]) > 0 {
				r, p := med(k)
				fmt.Printf("%s (every answer signed alone): %.0f/s (p99 %.2f ms), ratio %.2f, CPU %.0f us/req\n", k, r, p, r/f, medCPU(k))
			}
		}
	}
	fmt.Printf("store transactions: %d\n", mainStore.Batches())
	if memoryStore {
		fmt.Println("store memory: not durable: for profiling the request path only (the targets are measured with -store sqlite)")
	}
	if *scale > 0 {
		scaleBench(hc, scaleArgs{dir: *dir, key: key, token: token, n: *scale, conns: *conns, rounds: *rounds, phase: *phase,
			store: *storeKind, memprofile: *memprofile, cpuprofile: *scaleCPU})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeProfile(name, file string) {
	f, err := os.Create(file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}

func runtimePROCS() int { return runtime.GOMAXPROCS(0) }

// memoryStore: -store memory (seatstore.Memory instead of SQLite).
var memoryStore bool

// benchStore is the server's store as the bench sees it: a
// seatstore.Store that counts its transactions.
type benchStore interface {
	seatstore.Store
	Batches() int64
}

// countingMemory is seatstore.Memory counting its commits (the SQLite
// store counts its own).
type countingMemory struct {
	*seatstore.Memory
	n atomic.Int64
}

func (m *countingMemory) Commit(ctx context.Context, c seatstore.Change) error {
	m.n.Add(1)
	return m.Memory.Commit(ctx, c)
}

func (m *countingMemory) Batches() int64 { return m.n.Load() }

// startServer runs the seat server on a SQLite store in dir (or, with
// -store memory, on seatstore.Memory) with one license of a million seats
// (bound to no machine) and a client token.
func startServer(dir string, key ed25519.PrivateKey, name, token string) (string, *seatserver.Server, benchStore, func()) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Fatal(err)
	}
	var st benchStore
	if memoryStore {
		st = &countingMemory{Memory: seatstore.NewMemory()}
	} else {
		sq, err := seatstore.OpenSQLite(filepath.Join(dir, "state.db"))
		if err != nil {
			log.Fatal(err)
		}
		st = sq
	}
	ctx := context.Background()
	loadgen.PutToken(st, name, token)
	vk, err := keys.Generate(nil)
	if err != nil {
		log.Fatal(err)
	}
	cfg := seatserver.Config{Store: st, Key: key, Keyring: keys.NewKeyring(vk.Public()), Lease: seatserver.MaxLease, Machine: loadgen.AnyMachine}
	srv, err := seatserver.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Install(ctx, loadgen.License(vk, "BNCH-0000-0000-0001", key.Public().(ed25519.PublicKey)), "", ""); err != nil {
		log.Fatal(err)
	}
	url, stop := loadgen.Serve(srv, st.Close)
	return url, srv, st, stop
}

// floorCall is checkout's client work against the floor.
func floorCall(hc *http.Client, base, name, token, session string) (string, error) {
	return loadgen.SessionID(loadgen.Do(hc, "POST", base+seat.PathSessions, name, token, loadgen.CheckoutBody(session), 201))
}

func checkout(hc *http.Client, base, name, token, session string) (string, error) {
	return checkoutBatch(hc, true, base, name, token, session)
}

// checkoutBatch is a checkout; batch: the client accepts a batched
// signature (as pkg/seat does).
func checkoutBatch(hc *http.Client, batch bool, base, name, token, session string) (string, error) {
	return loadgen.SessionID(loadgen.DoBatch(hc, batch, "POST", base+seat.PathSessions, name, token, loadgen.CheckoutBody(session), 201))
}

func renew(hc *http.Client, base, name, token, id string) error {
	return renewBatch(hc, true, base, name, token, id)
}

// renewBatch is a renewal; batch as for checkoutBatch.
func renewBatch(hc *http.Client, batch bool, base, name, token, id string) error {
	_, err := loadgen.SessionID(loadgen.DoBatch(hc, batch, "POST", base+seat.RenewPath(id), name, token, nil, 200))
	return err
}
