package seatstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/pgtest"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/seatstore/storetest"
)

// The PostgreSQL tests share one server started by internal/pgtest
// (Debian's binaries, initdb into a temporary directory, a unix socket
// only), once, at the first test that asks for it, and stopped when the
// tests end. They run with AIRSEAL_INTEGRATION=1.
var pg struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.srv != nil {
		pg.srv.Close()
	}
	os.Exit(code)
}

// newPGDatabase starts the server once and returns the URL of a new,
// empty database: a schema of its own (CREATE DATABASE takes a second).
func newPGDatabase(t *testing.T) string {
	t.Helper()
	if !pgtest.Enabled() {
		t.Skip("PostgreSQL store tests: set AIRSEAL_INTEGRATION=1 (and install Debian's postgresql package) to run them")
	}
	pg.once.Do(func() { pg.srv, pg.err = pgtest.Start() })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	name, err := pg.srv.NewSchema()
	if err != nil {
		t.Fatal(err)
	}
	return pg.srv.URL(name)
}

func openPG(t *testing.T, url string) *seatstore.Postgres {
	t.Helper()
	s, err := seatstore.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgres(t *testing.T) {
	var mu sync.Mutex
	urls := map[seatstore.Store]string{}
	open := func(t *testing.T) seatstore.Store {
		url := newPGDatabase(t)
		s := openPG(t, url)
		mu.Lock()
		urls[s] = url
		mu.Unlock()
		return s
	}
	again := func(t *testing.T, s seatstore.Store) seatstore.Store {
		mu.Lock()
		url := urls[s]
		mu.Unlock()
		return openPG(t, url)
	}
	storetest.RunWith(t, open, storetest.Options{Reopen: again, Second: again})
}

func TestPostgresSchemaTooNew(t *testing.T) {
	url := newPGDatabase(t)
	openPG(t, url).Close()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	_, err = seatstore.OpenPostgres(context.Background(), url)
	if !errors.Is(err, seatstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), "postgres://postgres@") || !strings.Contains(err.Error(), fmt.Sprintf("version %d", seatstore.SchemaVersion()+1)) {
		t.Fatalf("OpenPostgres of a newer database: %v", err)
	}
}

// TestPostgresMigrateTogether: nodes starting at once migrate one after
// the other (advisory lock), and all end up on the same schema.
func TestPostgresMigrateTogether(t *testing.T) {
	url := newPGDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := seatstore.OpenPostgres(context.Background(), url)
			if err == nil {
				err = s.Commit(context.Background(), seatstore.Change{Settings: map[string]string{fmt.Sprint("node", i): "up"}})
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
}

func TestPostgresBadURL(t *testing.T) {
	_, err := seatstore.OpenPostgres(context.Background(), "postgres://u:secret@127.0.0.1:1/x?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("OpenPostgres to a closed port: %v (must fail, name the host, never the password)", err)
	}
}

// TestPostgresCrash: PostgreSQL is stopped with -m immediate (a crash:
// no shutdown checkpoint) under concurrent Commits and started again.
// While it is down Commits fail (promptly, they do not hang or guess);
// afterwards the same store commits again, and every Commit that was
// acknowledged is there, nothing in part, the log without gaps.
func TestPostgresCrash(t *testing.T) {
	url := newPGDatabase(t)
	s := openPG(t, url)
	defer s.Close()
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[string]bool{}
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("C-%d-%d", w, i)
				err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: storetest.Lease(id, "acme", "PC", storetest.T0), Seats: 1 << 30}},
					Events: storetestEvents(i)})
				mu.Lock()
				if err == nil {
					acked[id] = true
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wait := func(cond func() bool, what string) {
		for start := time.Now(); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: not within 30 s", what)
			}
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	fails := func() int { mu.Lock(); defer mu.Unlock(); return failed }
	for round := range 3 {
		n := count()
		wait(func() bool { return count() > n+20 }, "commits before the crash")
		if err := pg.srv.Crash(); err != nil {
			t.Fatal(err)
		}
		f := fails()
		wait(func() bool { return fails() > f }, fmt.Sprintf("round %d: a Commit failing while PostgreSQL is down", round))
		if err := pg.srv.Restart(); err != nil {
			t.Fatal(err)
		}
		n = count()
		wait(func() bool { return count() > n+20 }, fmt.Sprintf("round %d: commits after PostgreSQL restarted", round))
	}
	close(stop)
	wg.Wait()
	st, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, l := range st.Leases {
		stored[l.ID] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged lease %s lost in a PostgreSQL crash", id)
		}
	}
	if evs := storetest.AllEvents(t, s); len(evs) != len(st.Leases) {
		t.Fatalf("%d leases but %d events: a change stored in part", len(st.Leases), len(evs))
	}
	t.Logf("%d acknowledged, %d stored, %d failed while PostgreSQL was down", len(acked), len(st.Leases), failed)
}

// TestPostgresMatchesMemory: random changes give the same answers and
// states on PostgreSQL as on the reference Memory store.
func TestPostgresMatchesMemory(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := openPG(t, newPGDatabase(t))
			defer s.Close()
			storetest.Differential(t, seatstore.NewMemory(), s, seed, 300)
		})
	}
}
