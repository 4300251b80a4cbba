// Package pgtest starts a throwaway PostgreSQL server for tests and
// benchmarks (issue 12): Debian's binaries (package postgresql:
// /usr/lib/postgresql/N/bin, or $AIRSEAL_PG_BIN), initdb into a temporary
// directory, listening only on a unix socket in it; and a TCP proxy a test
// can cut to play a node cut off from its database. As root the server
// runs as the user nobody (setpriv), as PostgreSQL refuses root.
//
// It is for tests only: trust authentication, fsync as the caller asks.
package pgtest

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
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

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// Server is a running test PostgreSQL.
type Server struct {
	// Dir holds the data directory (Dir/data), the socket and the log.
	Dir    string
	bin    string
	asUser []string
	n      atomic.Int64
	mu     sync.Mutex
	up     bool
}

// Enabled reports whether the integration tests are asked for
// (AIRSEAL_INTEGRATION=1); Require skips the test otherwise.
func Enabled() bool { return os.Getenv("AIRSEAL_INTEGRATION") == "1" }

// Require starts a server for t and stops it when t ends; it skips t
// unless AIRSEAL_INTEGRATION=1.
func Require(t testing.TB) *Server {
	t.Helper()
	if !Enabled() {
		t.Skip("needs PostgreSQL: set AIRSEAL_INTEGRATION=1 (and install Debian's postgresql package)")
	}
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// FindBin returns the directory of PostgreSQL's binaries.
func FindBin() (string, error) {
	if b := os.Getenv("AIRSEAL_PG_BIN"); b != "" {
		return b, nil
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	major := func(p string) int {
		n, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(p, "/usr/lib/postgresql/"), "/")[0])
		return n
	}
	sort.Slice(ms, func(i, j int) bool { return major(ms[i]) > major(ms[j]) })
	if len(ms) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql package (apt-get install postgresql) or set AIRSEAL_PG_BIN")
	}
	return filepath.Dir(ms[0]), nil
}

// Start runs initdb in a new temporary directory and starts the server.
func Start() (*Server, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	// As root the server runs as nobody, who must reach the directory:
	// /tmp is world-searchable where $TMPDIR may not be. A short path
	// also keeps the socket's name within the 107 bytes a socket allows.
	base := ""
	if os.Geteuid() == 0 {
		base = "/tmp"
	}
	if s.Dir, err = os.MkdirTemp(base, "airseal-pg-"); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("running as root and there is no user nobody to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			s.Close()
			return nil, err
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			s.Close()
			return nil, errors.New("running as root and setpriv (util-linux) is missing: run as another user, or install util-linux")
		}
		s.asUser = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--"}
	}
	out, err := s.cmd(s.bin+"/initdb", "-D", s.Dir+"/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.Restart(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) cmd(name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, s.asUser...), name), args...)
	return exec.Command(all[0], all[1:]...)
}

// Restart starts the server (again): after a Crash it recovers from its
// write-ahead log, as after a power loss.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=on -c max_connections=200", s.Dir)
	out, err := s.cmd(s.bin+"/pg_ctl", "-D", s.Dir+"/data", "-o", opts, "-l", s.Dir+"/log", "-w", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(s.Dir + "/log")
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	s.up = true
	return nil
}

// Crash stops the server with pg_ctl -m immediate: every backend is
// killed without a shutdown checkpoint, as in a crash.
func (s *Server) Crash() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.cmd(s.bin+"/pg_ctl", "-D", s.Dir+"/data", "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	s.up = false
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	if up {
		_ = s.Crash()
	}
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// Socket is the path of the server's unix socket.
func (s *Server) Socket() string { return filepath.Join(s.Dir, ".s.PGSQL.5432") }

// URL returns the URL of database postgres with search_path schema ("":
// public), over the unix socket.
func (s *Server) URL(schema string) string {
	u := fmt.Sprintf("postgres://postgres@/postgres?host=%s&sslmode=disable", s.Dir)
	if schema != "" {
		u += "&search_path=" + schema
	}
	return u
}

// NewSchema creates an empty schema and returns its name: a database of
// its own for one test (CREATE DATABASE takes a second).
func (s *Server) NewSchema() (string, error) {
	name := fmt.Sprintf("seats_%d", s.n.Add(1))
	db, err := sql.Open("pgx", s.URL(""))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		return "", err
	}
	return name, nil
}

// Proxy forwards TCP connections on a loopback port to the server's
// socket until it is cut.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	cut    bool
	// hole: bytes are swallowed and new connections never answered, as a
	// network partition looks (no reset, no answer).
	hole bool
}

// NewProxy listens on 127.0.0.1 and forwards to s.
func (s *Server) NewProxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: s.Socket(), conns: map[net.Conn]bool{}}
	go p.accept()
	return p, nil
}

// URL is the URL of database postgres through the proxy.
func (p *Proxy) URL(schema string) string {
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	u := fmt.Sprintf("postgres://postgres@%s:%s/postgres?sslmode=disable&connect_timeout=2", host, port)
	if schema != "" {
		u += "&search_path=" + schema
	}
	return u
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		if p.hole {
			p.conns[c] = true // held open, never answered, until Mend
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	u, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			p.mu.Lock()
			hole := p.hole
			p.mu.Unlock()
			if n > 0 && !hole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// Cut closes every connection through the proxy and refuses new ones
// (each is closed as soon as it is accepted): the node behind it is cut
// off from the database.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Blackhole swallows every byte in both directions and holds new
// connections unanswered: the database stops answering without closing
// anything, as behind a network partition.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.hole = true
	p.mu.Unlock()
}

// Mend lets connections through again. The connections open during a
// Blackhole lost bytes and are closed.
func (p *Proxy) Mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hole {
		for c := range p.conns {
			c.Close()
		}
	}
	p.cut, p.hole = false, false
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.Cut()
	p.ln.Close()
}
