package seatstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/seatstore/storetest"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// The PostgreSQL tests start their own server from Debian's binaries
// (package postgresql: /usr/lib/postgresql/N/bin, or AIRSEAL_PG_BIN):
// initdb into a temporary directory, listening only on a unix socket in
// it, stopped when the tests end. They run with AIRSEAL_INTEGRATION=1.
// PostgreSQL refuses to run as root: as root the server runs as the user
// nobody (setpriv).

var pg struct {
	once    sync.Once
	dir     string // data and socket
	bin     string
	asUser  []string // command prefix to drop root
	err     error
	skip    string
	started bool
	dbs     atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.started {
		pgCmd(pg.bin+"/pg_ctl", "-D", pg.dir+"/data", "-m", "immediate", "stop").Run()
	}
	if pg.dir != "" {
		os.RemoveAll(pg.dir)
	}
	os.Exit(code)
}

func pgCmd(name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, pg.asUser...), name), args...)
	return exec.Command(all[0], all[1:]...)
}

func findPGBin() (string, error) {
	if b := os.Getenv("AIRSEAL_PG_BIN"); b != "" {
		return b, nil
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(ms, func(i, j int) bool { return pgMajor(ms[i]) > pgMajor(ms[j]) })
	if len(ms) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql package (apt-get install postgresql) or set AIRSEAL_PG_BIN")
	}
	return filepath.Dir(ms[0]), nil
}

func pgMajor(p string) int {
	n, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(p, "/usr/lib/postgresql/"), "/")[0])
	return n
}

func startPG() {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		pg.skip = "PostgreSQL store tests: set AIRSEAL_INTEGRATION=1 (and install Debian's postgresql package) to run them"
		return
	}
	if pg.bin, pg.err = findPGBin(); pg.err != nil {
		return
	}
	// As root the server runs as nobody, who must reach the directory:
	// /tmp is world-searchable where $TMPDIR may not be. A short path
	// also keeps the socket's name within the 107 bytes a socket allows.
	base := ""
	if os.Geteuid() == 0 {
		base = "/tmp"
	}
	if pg.dir, pg.err = os.MkdirTemp(base, "airseal-pg-"); pg.err != nil {
		return
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			pg.err = fmt.Errorf("running as root and there is no user nobody to run PostgreSQL as: %v", err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(pg.dir, uid, gid); err != nil {
			pg.err = err
			return
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			pg.err = errors.New("running as root and setpriv (util-linux) is missing: run the tests as another user, or install util-linux")
			return
		}
		pg.asUser = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--"}
	}
	out, err := pgCmd(pg.bin+"/initdb", "-D", pg.dir+"/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput()
	if err != nil {
		pg.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	pg.err = pgStart()
}

func pgStart() error {
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=on -c max_connections=100", pg.dir)
	out, err := pgCmd(pg.bin+"/pg_ctl", "-D", pg.dir+"/data", "-o", opts, "-l", pg.dir+"/log", "-w", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(pg.dir + "/log")
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	pg.started = true
	return nil
}

func pgURL(schema string) string {
	u := fmt.Sprintf("postgres://postgres@/postgres?host=%s&sslmode=disable", pg.dir)
	if schema != "" {
		u += "&search_path=" + schema
	}
	return u
}

// newPGDatabase starts the server once and returns the URL of a new,
// empty database: a schema of its own (CREATE DATABASE takes a second).
func newPGDatabase(t *testing.T) string {
	t.Helper()
	pg.once.Do(startPG)
	if pg.skip != "" {
		t.Skip(pg.skip)
	}
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	name := fmt.Sprintf("seats_%d", pg.dbs.Add(1))
	db, err := sql.Open("pgx", pgURL(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		t.Fatal(err)
	}
	return pgURL(name)
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
		if out, err := pgCmd(pg.bin+"/pg_ctl", "-D", pg.dir+"/data", "-m", "immediate", "stop").CombinedOutput(); err != nil {
			t.Fatalf("pg_ctl stop: %v\n%s", err, out)
		}
		f := fails()
		wait(func() bool { return fails() > f }, fmt.Sprintf("round %d: a Commit failing while PostgreSQL is down", round))
		if err := pgStart(); err != nil {
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
