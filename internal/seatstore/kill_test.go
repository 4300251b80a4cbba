package seatstore_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/seatstore/storetest"
)

// The kill test: a child process (this test binary, re-executed) commits
// changes from several goroutines to a SQLite store and prints each one
// the store acknowledged; the parent SIGKILLs it at a random moment, then
// reopens the store and checks that every acknowledged change is there,
// that no change is there in part, and that the usage log has no gap. It
// runs 24 rounds on one database (120 with AIRSEAL_INTEGRATION=1).

const killChildEnv = "AIRSEAL_SEATSTORE_KILL_CHILD"

const killWorkers = 8

// killChange is change i of worker w in round r: a lease (granted, for
// odd workers unless journal), two events naming it and the worker's
// progress setting.
func killChange(r, w, i int, journal bool) seatstore.Change {
	id := fmt.Sprintf("K-%d-%d-%d", r, w, i)
	l := storetest.Lease(id, fmt.Sprint("p", w%3), "PC", storetest.T0.Add(time.Duration(i)*time.Second))
	c := seatstore.Change{
		Events: []seats.Event{
			{Time: l.Granted, Kind: seats.EventGrant, Product: l.Product, LeaseID: id},
			{Time: l.Granted, Kind: seats.EventRenew, Product: l.Product, LeaseID: id},
		},
		Settings: map[string]string{fmt.Sprintf("progress-%d-%d", r, w): strconv.Itoa(i)},
	}
	if w%2 == 1 && !journal {
		c.Grants = []seatstore.Grant{{Lease: l, Seats: 1 << 30}}
	} else {
		c.PutLeases = []seats.Lease{l}
	}
	return c
}

func TestKillChild(t *testing.T) {
	spec := os.Getenv(killChildEnv)
	if spec == "" {
		t.Skip("the child of TestKill")
	}
	path, rest, _ := strings.Cut(spec, "|")
	roundText, mode, _ := strings.Cut(rest, "|")
	round, _ := strconv.Atoi(roundText)
	s, err := seatstore.OpenSQLite(path)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	journal := mode == "journal"
	if journal {
		// Nothing is folded but what 2048 waiting records force: the
		// acknowledged changes are in the journal alone when the child
		// dies, and the reopened store replays them.
		s.SetFoldInterval(time.Hour)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range killWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				commit := s.Commit
				if journal && w%2 == 1 {
					commit = s.CommitNow
				}
				if err := commit(context.Background(), killChange(round, w, i, journal)); err != nil {
					fmt.Println("commit failed:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Printf("ack %d %d\n", w, i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	rounds := 24
	if os.Getenv("AIRSEAL_INTEGRATION") == "1" {
		rounds = 120
	}
	killRounds(t, rounds, "")
}

// TestKillJournal is TestKill with the child folding its change journal
// into the database only when 2048 records wait: most acknowledged
// changes are in the journal alone when it dies.
func TestKillJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	rounds := 12
	if os.Getenv("AIRSEAL_INTEGRATION") == "1" {
		rounds = 60
	}
	killRounds(t, rounds, "journal")
}

func killRounds(t *testing.T, rounds int, mode string) {
	path := filepath.Join(t.TempDir(), "seats.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	totalAcked, replayed := 0, 0
	for r := range rounds {
		acked := runAndKill(t, path, r, mode, time.Duration(rng.IntN(120))*time.Millisecond)
		for _, a := range acked {
			totalAcked += a + 1
		}
		// How many of the round's leases the database file holds before
		// the journal is replayed.
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var inDB int
		if err := db.QueryRow(`SELECT count(*) FROM leases WHERE id LIKE $1`, fmt.Sprintf("K-%d-%%", r)).Scan(&inDB); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s := openSQLite(t, path)
		checkAfterKill(t, s, r, acked)
		n := len(leaseIDsWith(t, s, fmt.Sprintf("K-%d-", r)))
		replayed += n - inDB
		s.Close()
	}
	t.Logf("%d rounds, %d acknowledged changes, all present after SIGKILL; %d changes were replayed from the journal", rounds, totalAcked, replayed)
	if mode == "journal" && replayed == 0 {
		t.Fatal("no change was replayed from the journal: the child folded everything")
	}
}

// runAndKill runs the child for round r until it has acknowledged at least
// one change and then for wait more, kills it with SIGKILL and returns the
// last change acknowledged by each worker (-1: none).
func runAndKill(t *testing.T, path string, r int, mode string, wait time.Duration) [killWorkers]int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path+"|"+strconv.Itoa(r)+"|"+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked [killWorkers]int
	for i := range acked {
		acked[i] = -1
	}
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		var bad error
		for sc.Scan() {
			once.Do(func() { close(first) })
			var w, i int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &i); err != nil || w < 0 || w >= killWorkers {
				bad = cmp.Or(bad, fmt.Errorf("child said %q", sc.Text()))
				continue
			}
			if i != acked[w]+1 {
				bad = cmp.Or(bad, fmt.Errorf("worker %d acknowledged %d after %d", w, i, acked[w]))
			}
			acked[w] = i
		}
		once.Do(func() { close(first) })
		done <- cmp.Or(bad, sc.Err())
	}()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child acknowledged nothing in 20 s")
	}
	time.Sleep(wait)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-done // the pipe reaches EOF when the child is gone
	cmd.Wait()
	if err != nil {
		t.Fatalf("round %d: %v", r, err)
	}
	return acked
}

// checkAfterKill checks the store after round r's child was killed.
func checkAfterKill(t *testing.T, s seatstore.Store, r int, acked [killWorkers]int) {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leases := map[string]bool{}
	maxOf := [killWorkers]int{}
	for w := range maxOf {
		maxOf[w] = -1
	}
	prefix := fmt.Sprintf("K-%d-", r)
	for _, l := range st.Leases {
		leases[l.ID] = true
		if rest, ok := strings.CutPrefix(l.ID, prefix); ok {
			var w, i int
			fmt.Sscanf(rest, "%d-%d", &w, &i)
			maxOf[w] = max(maxOf[w], i)
		}
	}
	evs := storetest.AllEvents(t, s) // Seq without gaps, chain unbroken
	perLease := map[string]int{}
	for _, e := range evs {
		perLease[e.LeaseID]++
	}
	for w := range killWorkers {
		// Every acknowledged change is there; an unacknowledged one may be
		// (committed, killed before it printed) but only whole.
		for i := 0; i <= maxOf[w]; i++ {
			id := fmt.Sprintf("K-%d-%d-%d", r, w, i)
			if !leases[id] {
				t.Fatalf("round %d: lease %s missing while %d of worker %d is present", r, id, maxOf[w], w)
			}
			if perLease[id] != 2 {
				t.Fatalf("round %d: lease %s has %d events, want 2 (half-applied change)", r, id, perLease[id])
			}
		}
		if maxOf[w] < acked[w] {
			t.Fatalf("round %d: worker %d: change %d was acknowledged but the store has up to %d", r, w, acked[w], maxOf[w])
		}
		if maxOf[w] > acked[w]+1 {
			t.Fatalf("round %d: worker %d: the store has change %d, the child never sent beyond %d", r, w, maxOf[w], acked[w]+1)
		}
		want := ""
		if maxOf[w] >= 0 {
			want = strconv.Itoa(maxOf[w])
		}
		if got := st.Settings[fmt.Sprintf("progress-%d-%d", r, w)]; got != want {
			t.Fatalf("round %d: worker %d: progress setting %q, leases say %q (half-applied change)", r, w, got, want)
		}
	}
	for id, n := range perLease {
		if !leases[id] {
			t.Fatalf("round %d: %d events of lease %s, which is not stored (half-applied change)", r, n, id)
		}
	}
}

func leaseIDsWith(t *testing.T, s seatstore.Store, prefix string) []string {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range st.Leases {
		if strings.HasPrefix(l.ID, prefix) {
			ids = append(ids, l.ID)
		}
	}
	return ids
}
