// Command logins shows that password logins do not slow down seat
// checkouts (issue 11, "Speed"): an argon2id check is slow on purpose
// (64 MiB, three passes), checkouts authenticate with API tokens, and the
// server bounds the password checks it runs (internal/users.Gate).
//
// One server on loopback (SQLite store, WAL, group commit) takes
// checkouts at -conns keep-alive connections, each a new session, signed
// and durable before it is answered. Phases alternate, -rounds times:
//
//   - A: checkouts only;
//   - B: checkouts while -logins goroutines send GET /api/serverinfo with
//     HTTP Basic user passwords (every other one wrong), each at most once
//     every -login-every (default 100 ms: 80 logins/s from 8, each of
//     which would be an argon2id check of 200 ms on two cores), from an
//     address the failed-login limit exempts (the IP whitelist), so every
//     attempt reaches the password check. (The pacing keeps the test
//     about argon2id: requests sent back to back would compete for the
//     CPU whatever they carried.)
//
// It prints each phase's checkouts/s and p99, the logins answered in B by
// status (200, 401, 503 busy), the medians and the ratio B/A (target:
// unchanged, >= 0.9).
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/bench/seat/internal/loadgen"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/seat"
)

const (
	tokenName = "bench"
	userName  = "erp-integration"
	password  = "correct horse battery staple"
)

func main() {
	conns := flag.Int("conns", 8, "checkout connections")
	logins := flag.Int("logins", 8, "goroutines sending password logins in the B phases")
	every := flag.Duration("login-every", 100*time.Millisecond, "each login goroutine starts a login at most once every `D` (0: back to back)")
	phase := flag.Duration("phase", 3*time.Second, "length of one measured phase")
	rounds := flag.Int("rounds", 5, "rounds of A (checkouts only) and B (checkouts with logins)")
	dir := flag.String("dir", "", "directory for the SQLite store (default a temporary one)")
	unbounded := flag.Bool("unbounded", false, "give password checks no budget (two at a time, as before users.Gate): the comparison")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "seat-logins-")
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

	us := users.NewMemory()
	if err := users.Add(us, userName, users.Integration, password); err != nil {
		log.Fatal(err)
	}
	gate := users.NewGate(users.GateOptions{}) // the server's default
	if *unbounded {
		gate = users.NewGate(users.GateOptions{Share: 1, Burst: time.Hour, Concurrency: 2, Remember: -1})
	}
	base, stop := startServer(*dir, key, token, us, gate)
	defer stop()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	lc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *logins, MaxConnsPerHost: *logins}}
	// One right login first: the user works (and a success is what an
	// integration's later requests would reuse).
	if st, err := login(lc, base, password); err != nil || st != 200 {
		log.Fatalf("login with the right password: %d %v", st, err)
	}
	var seq atomic.Int64
	checkoutOp := func(c, i int) error {
		return checkout(hc, base, token, fmt.Sprintf("co-%02d-%012d", c, seq.Add(1)))
	}
	fmt.Printf("login bench: %d checkout conns, %d login goroutines (one login each every %s at most), %d rounds of %s per phase, GOMAXPROCS=%d, NumCPU=%d\n",
		*conns, *logins, *every, *rounds, *phase, runtime.GOMAXPROCS(0), runtime.NumCPU())
	var a, b, ratios []float64
	var totals [600]int64
	for r := 0; r < *rounds; r++ {
		rps, p99 := loadgen.Load(*conns, *phase, checkoutOp)
		a = append(a, rps)
		fmt.Printf("round %d  A checkouts only     %8.0f/s  p99 %6.2f ms\n", r+1, rps, p99)

		var status [600]atomic.Int64
		stopLogins := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < *logins; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stopLogins:
						return
					default:
					}
					pw := password
					if (g+i)%2 == 1 {
						pw = fmt.Sprintf("wrong password %d-%d", g, i)
					}
					t0 := time.Now()
					st, err := login(lc, base, pw)
					if err != nil {
						log.Fatal(err)
					}
					status[st].Add(1)
					if d := *every - time.Since(t0); d > 0 {
						time.Sleep(d)
					}
				}
			}(g)
		}
		t0 := time.Now()
		rps, p99 = loadgen.Load(*conns, *phase, checkoutOp)
		close(stopLogins)
		wg.Wait()
		el := time.Since(t0)
		b = append(b, rps)
		ratios = append(ratios, rps/a[len(a)-1])
		n := int64(0)
		for i := range status {
			v := status[i].Load()
			n += v
			totals[i] += v
		}
		fmt.Printf("round %d  B checkouts + logins %8.0f/s  p99 %6.2f ms   logins %5.1f/s (200: %d, 401: %d, 503 busy: %d, 429: %d)\n",
			r+1, rps, p99, float64(n)/el.Seconds(), status[200].Load(), status[401].Load(), status[503].Load(), status[429].Load())
	}
	ma, mb := loadgen.Median(a), loadgen.Median(b)
	mode := "password checks within users.Gate's budget (the server's default)"
	if *unbounded {
		mode = "password checks unbounded (-unbounded: two at a time, nothing remembered)"
	}
	fmt.Printf("\n%s\nmedians: A %.0f checkouts/s, B %.0f checkouts/s; ratio of medians B/A %.2f, median of the round ratios %.2f (target >= 0.9)\n", mode, ma, mb, mb/ma, loadgen.Median(ratios))
	fmt.Printf("logins answered in all B phases: 200: %d, 401: %d, 503 busy: %d, 429: %d\n", totals[200], totals[401], totals[503], totals[429])
}

// startServer runs the seat server on a SQLite store in dir with one
// license of a million seats, a client token and the users in us; every
// address is exempt from the failed-login limit (as a whitelisted one).
func startServer(dir string, key ed25519.PrivateKey, token string, us users.Store, gate *users.Gate) (string, func()) {
	st, err := seatstore.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	loadgen.PutToken(st, tokenName, token)
	vk, err := keys.Generate(nil)
	if err != nil {
		log.Fatal(err)
	}
	stamp := filepath.Join(dir, "tokens.stamp")
	if err := os.WriteFile(stamp, []byte("0\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	cfg := seatserver.Config{Store: st, Key: key, Keyring: keys.NewKeyring(vk.Public()), Lease: seatserver.MaxLease,
		Users: us, LoginGate: gate, TokenStamp: stamp, Exempt: func(netip.Addr) bool { return true },
		Machine: loadgen.AnyMachine}
	srv, err := seatserver.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Install(ctx, loadgen.License(vk, "BNCH-0000-0000-0002", key.Public().(ed25519.PublicKey)), "", ""); err != nil {
		log.Fatal(err)
	}
	return loadgen.Serve(srv, st.Close)
}

var qn atomic.Int64

func request(hc *http.Client, method, url, name, secret string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(name, secret)
	req.Header.Set(seat.HeaderQueryID, fmt.Sprintf("bench-query-%012d", qn.Add(1)))
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// login sends one password login (GET /api/serverinfo as the user).
func login(hc *http.Client, base, pw string) (int, error) {
	st, b, err := request(hc, "GET", base+seat.PathServerInfo, userName, pw, nil)
	if err != nil {
		return 0, err
	}
	switch st {
	case 200, 401, 429, 503:
		return st, nil
	}
	return st, fmt.Errorf("login: %d %s", st, b)
}

func checkout(hc *http.Client, base, token, session string) error {
	body, _ := json.Marshal(seat.CheckoutRequest{Product: "bench", ClientSessionID: session, AppName: "bench", UserName: "u", ComputerName: "c"})
	st, b, err := request(hc, "POST", base+seat.PathSessions, tokenName, token, body)
	if err != nil {
		return err
	}
	if st != 201 {
		return fmt.Errorf("checkout: %d %s", st, b)
	}
	return nil
}
