// Command cluster measures checkouts per second of a license-server
// cluster (issue 12, "Speed"): two nodes on one PostgreSQL database,
// against the single node on SQLite and the bare net/http floor of
// bench/seat/server, paired in one run:
//
//   - floor: net/http with the same HTTP Basic token check (SHA-256,
//     constant-time compare) and one Ed25519 response signature per
//     request, no storage (the floor of bench/seat/server);
//   - sqlite: POST /api/sessions on one node, each a new session, signed,
//     durable in SQLite (WAL, synchronous=FULL, group commit);
//   - postgres: the same on two nodes sharing a PostgreSQL database (a
//     temporary server from Debian's binaries, fsync on), every seat
//     decided by the database under its product lock (cluster mode); the
//     connections alternate between the nodes.
//
// Phases alternate floor, sqlite, postgres, ROUNDS times, each for -phase
// at -conns keep-alive connections; it prints each phase's requests/s,
// p99 and CPU per request (this process, which runs clients and nodes,
// plus PostgreSQL's processes; both on the same cores), the medians and
// the ratios to the floor (target: postgres >= 0.25x floor). Last, with
// -refresh N (default 2,500), what a node's periodic refresh pays to read
// the shared state after N leases changed: Load against LoadCached.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/bench/seat/internal/loadgen"
	"github.com/airseal/airseal/internal/pgtest"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/seat"
)

func main() {
	conns := flag.Int("conns", 8, "concurrent keep-alive connections")
	phase := flag.Duration("phase", 3*time.Second, "length of one measured phase")
	rounds := flag.Int("rounds", 5, "rounds of floor, sqlite, postgres")
	only := flag.String("only", "floor,sqlite,postgres", "comma-separated phases to run (profiling one phase)")
	refresh := flag.Int("refresh", 2500, "after the phases, measure a node's refresh read with `N` leases changed (0: skip)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	flag.Parse()
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
	dir, err := os.MkdirTemp("", "seat-cluster-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pg, err := pgtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer pg.Close()
	schema, err := pg.NewSchema()
	if err != nil {
		log.Fatal(err)
	}

	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	token := base64.RawURLEncoding.EncodeToString(tok)
	vk, err := keys.Generate(nil)
	if err != nil {
		log.Fatal(err)
	}
	nodeKeys := make([]ed25519.PrivateKey, 3) // 0: the SQLite node; 1, 2: the cluster
	for i := range nodeKeys {
		_, nodeKeys[i], _ = ed25519.GenerateKey(rand.Reader)
	}
	sq, err := seatstore.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	sqlURL, stopSQL := startNode(sq, vk, nodeKeys[0], []ed25519.PrivateKey{nodeKeys[0]}, "bench", token, true)
	defer stopSQL()
	var pgURLs []string
	var pgStores []*seatstore.Postgres
	for i := 1; i <= 2; i++ {
		st, err := seatstore.OpenPostgres(context.Background(), pg.URL(schema))
		if err != nil {
			log.Fatal(err)
		}
		pgStores = append(pgStores, st)
		u, stop := startNode(st, vk, nodeKeys[i], nodeKeys[1:], "bench", token, i == 1)
		defer stop()
		pgURLs = append(pgURLs, u)
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	// The floor answers with a real checkout answer of the server (same
	// shape and size, signed the same way) and its client encodes and
	// decodes the same JSON as the checkout clients, as bench/seat/server's
	// floor does: the client work on the same cores is the same in every
	// phase.
	sample, err := loadgen.Do(hc, "POST", sqlURL+seat.PathSessions, "bench", token, loadgen.CheckoutBody("sample-0000000000"), 201)
	if err != nil {
		log.Fatal(err)
	}
	floorURL, stopFloor := loadgen.StartFloor(nodeKeys[0], "bench", token, sample)
	defer stopFloor()
	var seq atomic.Int64
	type result struct{ rps, p99 float64 }
	res := map[string][]result{}
	kinds := strings.Split(*only, ",")
	fmt.Printf("seat cluster bench: %d conns, %d rounds of %s per phase, GOMAXPROCS=%d; postgres: 2 nodes, one database (%s)\n",
		*conns, *rounds, *phase, runtime.GOMAXPROCS(0), pg.Dir)
	for r := 0; r < *rounds; r++ {
		for _, k := range kinds {
			var op func(c, i int) error
			switch k {
			case "floor":
				op = func(c, i int) error {
					return checkout(hc, floorURL, "bench", token, fmt.Sprintf("fl-%02d-%012d", c, seq.Add(1)))
				}
			case "sqlite":
				op = func(c, i int) error {
					return checkout(hc, sqlURL, "bench", token, fmt.Sprintf("sq-%02d-%012d", c, seq.Add(1)))
				}
			case "postgres":
				op = func(c, i int) error {
					return checkout(hc, pgURLs[c%2], "bench", token, fmt.Sprintf("pg-%02d-%012d", c, seq.Add(1)))
				}
			}
			b0 := pgStores[0].Batches() + pgStores[1].Batches()
			var c0 [4]int64
			for _, st := range pgStores {
				t, s, f, g := st.Counters()
				c0[0], c0[1], c0[2], c0[3] = c0[0]+t, c0[1]+s, c0[2]+f, c0[3]+g
			}
			cpu0, pg0 := cpuTime(), pgCPU(pg.Dir)
			rps, p99 := loadgen.Load(*conns, *phase, op)
			n := rps * phase.Seconds()
			cpu, pgc := float64((cpuTime()-cpu0).Microseconds())/n, float64((pgCPU(pg.Dir)-pg0).Microseconds())/n
			res[k] = append(res[k], result{rps, p99})
			extra := fmt.Sprintf("  CPU %4.0f us/req (bench process %4.0f, PostgreSQL %4.0f)", cpu+pgc, cpu, pgc)
			if k == "postgres" {
				b := pgStores[0].Batches() + pgStores[1].Batches() - b0
				var c [4]int64
				for _, st := range pgStores {
					t, s, f, g := st.Counters()
					c[0], c[1], c[2], c[3] = c[0]+t-c0[0], c[1]+s-c0[1], c[2]+f-c0[2], c[3]+g-c0[3]
					c0 = [4]int64{}
				}
				extra += fmt.Sprintf("  %.1f checkouts per transaction; per checkout %.2f round trips, %.2f statements (fast path; %d fast, %d general transactions)",
					n/float64(max(b, 1)), float64(c[0])/n, float64(c[1])/n, c[2], c[3])
			}
			fmt.Printf("round %d  %-8s %9.0f req/s  p99 %6.2f ms%s\n", r+1, k, rps, p99, extra)
		}
	}
	med := func(k string) (float64, float64) {
		var a, b []float64
		for _, x := range res[k] {
			a, b = append(a, x.rps), append(b, x.p99)
		}
		return loadgen.Median(a), loadgen.Median(b)
	}
	f, fp := med("floor")
	s, sp := med("sqlite")
	p, pp := med("postgres")
	fmt.Printf("\nmedians: floor %.0f req/s (p99 %.2f ms), sqlite checkout %.0f/s (p99 %.2f ms), postgres 2-node checkout %.0f/s (p99 %.2f ms)\n", f, fp, s, sp, p, pp)
	fmt.Printf("ratio postgres/floor %.2f (target >= 0.25), sqlite/floor %.2f, postgres/sqlite %.2f\n", p/f, s/f, p/s)
	if *refresh > 0 {
		refreshCost(pgStores[0], pg.Dir, *refresh)
	}
}

// refreshCost measures what a cluster node's refresh pays to read the
// shared state, paired: Load (every lease in full) against LoadCached
// (only the leases changed since the last call), each after changed more
// leases were granted, over the leases the phases left; medians of 6.
func refreshCost(st *seatstore.Postgres, pgDir string, changed int) {
	ctx := context.Background()
	var c seatstore.LeaseCache
	if _, err := st.LoadCached(ctx, &c); err != nil {
		log.Fatal(err)
	}
	n := 0
	grant := func() {
		now := time.Now()
		var ch seatstore.Change
		for range changed {
			n++
			id := fmt.Sprintf("R-%010d", n)
			l := seats.Lease{ID: id, Request: seats.Request{Product: "bench", ClientSessionID: id, UserName: "u", ComputerName: "pc"},
				Mode: seats.ModeLicensed, Granted: now, Expires: now.Add(time.Hour)}
			ch.Grants = append(ch.Grants, seatstore.Grant{Lease: l, Seats: 1 << 30})
		}
		if err := st.Commit(ctx, ch); err != nil {
			log.Fatal(err)
		}
	}
	var cpu, wall [2][]float64
	leases := 0
	for range 6 {
		for k := range 2 {
			grant()
			w0, c0, p0 := time.Now(), cpuTime(), pgCPU(pgDir)
			var s *seatstore.State
			var err error
			if k == 0 {
				s, err = st.Load(ctx)
			} else {
				s, err = st.LoadCached(ctx, &c)
			}
			if err != nil {
				log.Fatal(err)
			}
			leases = len(s.Leases)
			wall[k] = append(wall[k], float64(time.Since(w0).Microseconds())/1000)
			cpu[k] = append(cpu[k], float64((cpuTime()-c0+pgCPU(pgDir)-p0).Microseconds())/1000)
		}
	}
	fmt.Printf("refresh read of %d leases, %d changed: Load %.1f ms (CPU %.1f ms), LoadCached %.1f ms (CPU %.1f ms, bench process + PostgreSQL)\n",
		leases, changed, loadgen.Median(wall[0]), loadgen.Median(cpu[0]), loadgen.Median(wall[1]), loadgen.Median(cpu[1]))
}

// startNode runs a seat server node on st with key; with setup it stores
// the client token and installs a license of a million seats naming every
// key of nodes (bound to no machine). A later node of a cluster loads
// them from the store at its start.
func startNode(st seatstore.Store, vk *keys.PrivateKey, key ed25519.PrivateKey, nodes []ed25519.PrivateKey, name, token string, setup bool) (string, func()) {
	ctx := context.Background()
	if setup {
		loadgen.PutToken(st, name, token)
	}
	cfg := seatserver.Config{Store: st, Key: key, Keyring: keys.NewKeyring(vk.Public()), Lease: seatserver.MaxLease, Machine: loadgen.AnyMachine}
	srv, err := seatserver.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if setup {
		var pubs []ed25519.PublicKey
		for _, k := range nodes {
			pubs = append(pubs, k.Public().(ed25519.PublicKey))
		}
		if _, err := srv.Install(ctx, loadgen.License(vk, "BNCH-0000-0000-0001", pubs...), "", ""); err != nil {
			log.Fatal(err)
		}
	}
	return loadgen.Serve(srv, st.Close)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgCPU is the user and system CPU time so far of the PostgreSQL server
// in dir: the postmaster, its live processes (backends, WAL writer,
// checkpointer) and the ones that exited, from /proc (0 where it cannot
// be read). The background phases (the cluster nodes' refresh) count in
// every phase, as the bench process's own CPU does.
func pgCPU(dir string) time.Duration {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm, _, _ := strings.Cut(string(b), "\n")
	// /proc/PID/stat: pid (comm) state ppid ... utime(14) stime(15)
	// cutime(16) cstime(17), in clock ticks (100 per second on Linux).
	stat := func(pid string) (ppid string, own, children int64) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return "", 0, 0
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 15 {
			return "", 0, 0
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
		return f[1], n(11) + n(12), n(13) + n(14)
	}
	_, own, exited := stat(pm)
	ticks := own + exited
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if ppid, own, _ := stat(e.Name()); ppid == pm {
			ticks += own
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// checkout takes a seat (or the floor's imitation of one) and decodes the
// answer as a client does. Like pkg/seat's client it accepts batched
// response signatures (Licence-Signature-Batch); the floor ignores that.
func checkout(hc *http.Client, base, name, token, session string) error {
	b, err := loadgen.DoBatch(hc, true, "POST", base+seat.PathSessions, name, token, loadgen.CheckoutBody(session), 201)
	if err != nil {
		return err
	}
	var s seat.Session
	return json.Unmarshal(b, &s)
}
