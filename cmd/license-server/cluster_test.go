package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/pgtest"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// clusterNode is one license-server process of the failover test.
type clusterNode struct {
	t         *testing.T
	bin, dir  string
	root, db  string
	addr      string
	env, args []string
	cmd       *exec.Cmd
	log       *bytes.Buffer
}

func (n *clusterNode) start() {
	n.t.Helper()
	n.cmd = exec.Command(n.bin, append([]string{"serve", "--addr", n.addr, "--dir", n.dir, "--root", n.root, "--db", n.db,
		"--lease", "1m", "--sweep", "1s", "--log-level", "warn"}, n.args...)...)
	n.cmd.Env = n.env
	n.log = &bytes.Buffer{}
	n.cmd.Stderr = n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	waitUp(n.t, &http.Client{Timeout: 2 * time.Second}, "http://"+n.addr)
}

func (n *clusterNode) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
}

func (n *clusterNode) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	_ = n.cmd.Wait()
}

// loadClient is one client of the failover test, with both nodes listed.
type loadClient struct {
	id      int
	c       *seat.Client
	held    map[string]*seat.Lease // ClientSessionID → lease, acknowledged
	pending []string               // checkouts with an unknown outcome, retried with the same ID
	lastErr error
	unfreed []*seat.Lease // releases not yet acknowledged
	next    int
}

// ledger is what the clients believe they hold: never more than the
// seats licensed, and never one lease held by two clients.
type ledger struct {
	mu    sync.Mutex
	seats int
	held  map[string]int // lease ID → client
	peak  int
	errs  []string
}

func (l *ledger) take(t *testing.T, client int, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.held[id]; ok && c != client {
		l.errs = append(l.errs, fmt.Sprintf("lease %s granted to client %d and client %d", id, c, client))
	}
	l.held[id] = client
	l.peak = max(l.peak, len(l.held))
	if len(l.held) > l.seats {
		l.errs = append(l.errs, fmt.Sprintf("clients hold %d acknowledged seats of %d", len(l.held), l.seats))
	}
}

func (l *ledger) drop(id string) {
	l.mu.Lock()
	delete(l.held, id)
	l.mu.Unlock()
}

func (l *ledger) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (lc *loadClient) step(ctx context.Context, t *testing.T, rng *rand.Rand, lg *ledger, phase func() string) {
	if len(lc.unfreed) > 0 {
		l := lc.unfreed[0]
		if err := lc.c.Release(ctx, l); err == nil {
			lc.unfreed = lc.unfreed[1:]
		}
		return
	}
	x := rng.IntN(10)
	switch {
	case len(lc.pending) > 0 || len(lc.held) < 2 && x < 4:
		sid := ""
		if len(lc.pending) > 0 {
			sid = lc.pending[0]
		} else {
			lc.next++
			sid = fmt.Sprintf("load-c%02d-s%08d", lc.id, lc.next)
		}
		l, err := lc.c.Checkout(ctx, seat.Request{ClientSessionID: sid, ComputerName: fmt.Sprintf("pc-%d-%d", lc.id, lc.next),
			UserName: "load", AppName: "failover-test"})
		switch {
		case err == nil && l.Mode() == seat.ModeLicensed:
			lc.held[sid] = l
			lg.take(t, lc.id, l.Info().ID)
			lc.pending = removeString(lc.pending, sid)
		case errors.Is(err, seat.ErrNoSeat):
			lc.pending = removeString(lc.pending, sid)
		case errors.Is(err, seat.ErrBadRequest):
			lg.fail("client %d: checkout %s: %v", lc.id, sid, err)
			lc.pending = removeString(lc.pending, sid)
		case err == nil:
			lg.fail("client %d: checkout %s answered %s mode", lc.id, sid, l.Mode())
		default:
			lc.lastErr = err
			if !contains(lc.pending, sid) {
				lc.pending = append(lc.pending, sid)
			}
		}
	case len(lc.held) > 0 && x < 8:
		for sid, l := range lc.held {
			id := l.Info().ID
			err := lc.c.Renew(ctx, l)
			if l.Err() != nil {
				lg.fail("client %d (%s): acknowledged lease %s of %s lost: %v (renew: %v)", lc.id, phase(), id, sid, l.Err(), err)
			}
			if err == nil && l.Info().ID != id {
				lg.fail("client %d: lease %s came back as %s after a renewal", lc.id, id, l.Info().ID)
			}
			break
		}
	case len(lc.held) > 0:
		for sid, l := range lc.held {
			delete(lc.held, sid)
			lg.drop(l.Info().ID) // freed in the clients' eyes before the server frees it
			if err := lc.c.Release(ctx, l); err != nil {
				lc.unfreed = append(lc.unfreed, l)
			}
			break
		}
	}
}

func removeString(xs []string, s string) []string {
	out := xs[:0]
	for _, x := range xs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestClusterFailover is issue 12 item 3's test: PostgreSQL, two
// license-server nodes (the real binary, each on its own fixture machine,
// one license naming both nodes' keys) and several clients of pkg/seat
// listing both nodes, under load. Node 1 is killed with SIGKILL and
// restarted, then PostgreSQL is killed (pg_ctl -m immediate) and
// restarted. Throughout, the seats the clients hold never exceed the
// license and no lease is held by two clients; the seats in use in the
// database never exceed it either; and every acknowledged lease is kept
// (its renewals go on, through the other node or after the database is
// back, with the same lease ID). It takes about 40 s and needs
// AIRSEAL_INTEGRATION=1.
func TestClusterFailover(t *testing.T) {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		t.Skip("cluster failover test starts PostgreSQL and two servers: set AIRSEAL_INTEGRATION=1")
	}
	const seats, clients = 6, 8
	pg := pgtest.Require(t)
	schema, err := pg.NewSchema()
	if err != nil {
		t.Fatal(err)
	}
	db := pg.URL(schema)
	work := t.TempDir()
	bin := filepath.Join(work, "license-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "AIRSEAL_PASSPHRASE=cluster test")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = env, work
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("license-server %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	if err := vendorIn(work, []string{"keygen", "acme"}); err != nil {
		t.Fatal(err)
	}
	var nodes []*clusterNode
	var reqs []*license.ServerRequest
	for i, fixture := range []string{"bm-dell-poweredge-r440", "bm-hpe-proliant-dl380"} {
		n := &clusterNode{t: t, bin: bin, dir: filepath.Join(work, fmt.Sprintf("node%d", i+1)), root: unpackFixture(t, work, fixture),
			db: db, env: env}
		run("init", "--dir", n.dir, "--node", fmt.Sprintf("node%d", i+1), "--product", "acme-erp", "--customer", "Romashka LLC",
			"--pub", filepath.Join(work, "acme.pub"), "--root", n.root)
		data, err := os.ReadFile(filepath.Join(n.dir, "server-request.json"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := license.ParseServerRequest(data)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n.addr = ln.Addr().String()
		ln.Close()
		nodes = append(nodes, n)
	}
	// One license for the cluster, naming both nodes (issue license
	// --request node1.json --request node2.json).
	vk, err := vendorKey(filepath.Join(work, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := issuer.PrepareCluster(issuer.Order{Seats: seats}, reqs, []string{"node1", "node2"}, license.PerSession, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer.Issuer{Key: vk, Ledger: &issuer.Ledger{Path: filepath.Join(work, "acme.ledger")}}
	out, err := is.IssueServer(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "cluster.lic"), out.Armored, 0o644); err != nil {
		t.Fatal(err)
	}
	// Installed once, into the shared database, from node 1; node 2 checks
	// it against its own machine and key when it starts.
	run("license", "add", "cluster.lic", "--dir", nodes[0].dir, "--root", nodes[0].root, "--db", db)
	pub, err := keys.LoadPublic(filepath.Join(work, "acme.pub"))
	if err != nil {
		t.Fatal(err)
	}
	lcs := make([]*loadClient, clients)
	for i := range lcs {
		name := fmt.Sprintf("c%d", i)
		tok := run("token", "add", name, "--dir", nodes[i%2].dir, "--db", db)
		servers := []string{"http://" + nodes[0].addr, "http://" + nodes[1].addr}
		if i%2 == 1 {
			servers[0], servers[1] = servers[1], servers[0]
		}
		c, err := seat.New(seat.Config{Servers: servers, Keyring: keys.NewKeyring(pub), Product: "acme-erp", User: name, Token: tok,
			ManualRenew: true, ConnectTimeout: time.Second, RequestTimeout: 8 * time.Second, Backoff: 100 * time.Millisecond, Attempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		lcs[i] = &loadClient{id: i, c: c, held: map[string]*seat.Lease{}}
	}
	for _, n := range nodes {
		n.start()
	}
	defer func() {
		for _, n := range nodes {
			if n.cmd.ProcessState == nil {
				n.stop()
			}
		}
	}()

	store, err := seatstore.OpenPostgres(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	lg := &ledger{seats: seats, held: map[string]int{}}
	var phaseMu sync.Mutex
	phaseName := "both nodes up"
	phase := func() string { phaseMu.Lock(); defer phaseMu.Unlock(); return phaseName }
	setPhase := func(p string) { phaseMu.Lock(); phaseName = p; phaseMu.Unlock(); t.Logf("phase: %s", p) }

	// The load, and a watcher of the seats in use in the database.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, lc := range lcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(lc.id), 12))
			for ctx.Err() == nil {
				lc.step(ctx, t, rng, lg, phase)
				time.Sleep(time.Duration(10+rng.IntN(30)) * time.Millisecond)
			}
		}()
	}
	maxInUse := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if st, err := store.Load(ctx); err == nil {
				n := 0
				for _, l := range st.Leases {
					if l.Lost == "" {
						n++
					}
				}
				maxInUse = max(maxInUse, n)
				if n > seats {
					lg.fail("%s: %d leases in the database, %d seats licensed", phase(), n, seats)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(4 * time.Second)
	setPhase("node 1 killed")
	nodes[0].kill()
	time.Sleep(5 * time.Second)
	setPhase("node 1 restarted")
	nodes[0].start()
	time.Sleep(4 * time.Second)
	setPhase("PostgreSQL killed")
	if err := pg.Crash(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	setPhase("PostgreSQL restarted")
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	cancel()
	wg.Wait()

	// Settle: every checkout in doubt is retried and every release
	// finished, through a node, then the database must hold exactly the
	// leases the clients hold.
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	for _, lc := range lcs {
		for len(lc.pending) > 0 || len(lc.unfreed) > 0 {
			if sctx.Err() != nil {
				t.Fatalf("client %d could not settle: pending %v (%v), unfreed %d", lc.id, lc.pending, lc.lastErr, len(lc.unfreed))
			}
			lc.step(sctx, t, rand.New(rand.NewPCG(1, 1)), lg, phase)
		}
		for sid, l := range lc.held {
			id := l.Info().ID
			if err := lc.c.Renew(sctx, l); err != nil || l.Info().ID != id {
				t.Errorf("client %d: acknowledged lease %s of %s after the run: %v (now %s)", lc.id, id, sid, err, l.Info().ID)
			}
		}
	}
	st, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, l := range st.Leases {
		if l.Lost != "" {
			t.Errorf("lease %s lost: %s", l.ID, l.Lost)
		}
		stored[l.ID] = true
	}
	lg.mu.Lock()
	for id, c := range lg.held {
		if !stored[id] {
			t.Errorf("client %d holds lease %s, which the database does not", c, id)
		}
		delete(stored, id)
	}
	lg.mu.Unlock()
	for id := range stored {
		t.Errorf("lease %s in the database, held by no client", id)
	}
	for _, e := range lg.errs {
		t.Error(e)
	}
	granted := 0
	if err := store.Events(context.Background(), time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Kind == "grant" {
			granted++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d grants, peak %d seats held by clients, %d in the database, %d of %d at the end", granted, lg.peak, maxInUse, len(st.Leases), seats)
	if granted < 20 || lg.peak < seats-1 {
		t.Errorf("too little load to show anything: %d grants, peak %d", granted, lg.peak)
	}
	if t.Failed() {
		for i, n := range nodes {
			t.Logf("node %d log:\n%s", i+1, n.log.String())
		}
	}
}
