package seatserver

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/tlsfiles"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/seat"
)

// RunOptions tune Run.
type RunOptions struct {
	// Certificate serves TLS (1.2 or later) when set: the CLI reads the
	// PEM files bounded (internal/fileio) and parses them once, so a FIFO
	// or a huge file given as --tls-cert cannot hang or exhaust the server.
	Certificate *tls.Certificate
	// CertFile and KeyFile serve TLS when both are set and Certificate is
	// nil (read by net/http; for tests and embedders with trusted paths).
	CertFile, KeyFile string
	// Sweep is how often expired leases are reclaimed (0: DefaultSweep).
	Sweep time.Duration
	// ShutdownGrace is how long requests in flight may take to finish
	// after ctx ends (0: 10 s).
	ShutdownGrace time.Duration
	// Checkpoint is how often the usage log's head is signed
	// (0: DefaultCheckpoint); it is signed at shutdown too.
	Checkpoint time.Duration
	// Metrics, when set, measure each request's latency (metrics.go).
	Metrics *Metrics
	// Refresh is how often a cluster node reloads the shared state
	// (0: DefaultClusterRefresh); unused on a single node.
	Refresh time.Duration
}

// HTTPServer returns the http.Server Run uses: the handler, and timeouts
// and header limits so a slow or hostile client cannot hold connections or
// memory.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ConnState:         s.commits.connState,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Run serves on ln until ctx ends, reclaiming expired leases on schedule,
// and tunes the garbage collector (gcTuner: GOGC raised while the heap is
// small, unless the GOGC or GOMEMLIMIT environment variable is set), then
// shuts down gracefully: it stops accepting, lets requests in flight
// finish (their changes are durable before they are answered) and closes
// the server. Leases are kept in the store; the next start restores them
// and opens the reclaim window.
func (s *Server) Run(ctx context.Context, ln net.Listener, opts RunOptions) (err error) {
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if s.cfg.Key == nil {
		return fmt.Errorf("%w: serving needs the private response key", ErrConfig)
	}
	if opts.Sweep == 0 {
		opts.Sweep = DefaultSweep
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	srv := s.HTTPServer()
	if opts.Metrics != nil {
		srv.Handler = opts.Metrics.wrap(srv.Handler)
	}
	serveErr := make(chan error, 1)
	go func() {
		if opts.Certificate != nil {
			srv.TLSConfig.Certificates = []tls.Certificate{*opts.Certificate}
			serveErr <- srv.ServeTLS(ln, "", "")
		} else if opts.CertFile != "" {
			serveErr <- srv.ServeTLS(ln, opts.CertFile, opts.KeyFile)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	tick := time.NewTicker(opts.Sweep)
	defer tick.Stop()
	poll := time.NewTicker(TokenPoll)
	defer poll.Stop()
	gc := newGCTuner()
	gc.tune()
	s.reloadTokensIfStamped(ctx) // a token added since New is known from now on
	cpTick := time.NewTicker(cmp.Or(opts.Checkpoint, DefaultCheckpoint))
	defer cpTick.Stop()
	var refresh <-chan time.Time
	every := cmp.Or(opts.Refresh, DefaultClusterRefresh)
	if s.cl != nil {
		rt := time.NewTimer(every)
		defer rt.Stop()
		refresh = rt.C
	}
	for {
		select {
		case <-refresh:
			t0 := time.Now()
			if err := s.refreshCluster(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("cluster refresh", "err", err)
			}
			refresh = time.After(refreshWait(every, time.Since(t0)))
		case err := <-serveErr:
			return err
		case <-poll.C:
			gc.tune()
			if s.reloadTokensIfStamped(ctx) {
				s.log.Info("tokens reloaded", "stamp", s.cfg.TokenStamp)
			}
		case <-cpTick.C:
			s.checkpointLog(ctx)
		case <-tick.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sweep", "err", err)
			}
			s.keepDeviceSeats(ctx)
		case <-ctx.Done():
			s.log.Info("shutting down: finishing requests in flight; leases are kept")
			sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			s.checkpointLog(sctx)
			return nil
		}
	}
}

// refreshWait is the pause before a cluster node's next refresh: every,
// or longer when a refresh takes long (very many leases), so that
// refreshing takes at most a twentieth of the node's time.
func refreshWait(every, took time.Duration) time.Duration {
	return max(every, 20*took)
}

// TokenPoll is how often Run looks at Config.TokenStamp.
const TokenPoll = time.Second

// tokenStamp describes the stamp file ("" when there is none).
func (s *Server) tokenStamp() string {
	if s.cfg.TokenStamp == "" {
		return ""
	}
	fi, err := os.Stat(s.cfg.TokenStamp)
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
}

// Token roles a machine client may have.
var tokenRoles = []string{seat.RoleClient, seat.RoleIntegration, seat.RoleAdmin}

// ErrTokenExists: a token of that name exists already.
var ErrTokenExists = errors.New("token exists")

// NewToken creates an API token for name with role and stores only its
// SHA-256. It returns the token (256 random bits, base64url), which is
// shown once and cannot be recovered.
func NewToken(ctx context.Context, st seatstore.Store, name, role string, now time.Time) (string, error) {
	if err := users.CheckName(name); err != nil {
		return "", fmt.Errorf("token name: %w", err)
	}
	ok := false
	for _, r := range tokenRoles {
		ok = ok || r == role
	}
	if !ok {
		return "", fmt.Errorf("token role %q: want client, integration or admin", role)
	}
	state, err := st.Load(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range state.Tokens {
		if t.Name == name {
			return "", fmt.Errorf("%w: a token named %s exists (created %s); choose another name", ErrTokenExists, name, t.Created.UTC().Format(seat.TimeFormat))
		}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	rec := seatstore.TokenRecord{Name: name, Role: role, SHA256: sha256.Sum256([]byte(tok)), Created: now.UTC().Truncate(time.Second)}
	if err := st.Commit(ctx, seatstore.Change{PutTokens: []seatstore.TokenRecord{rec}}); err != nil {
		return "", err
	}
	return tok, nil
}

// ErrNoToken: no token of that name.
var ErrNoToken = errors.New("no such token")

// RemoveToken deletes the token name: it stops working at once on a
// server that reloads its tokens (Config.TokenStamp).
func RemoveToken(ctx context.Context, st seatstore.Store, name string) error {
	state, err := st.Load(ctx)
	if err != nil {
		return err
	}
	for _, t := range state.Tokens {
		if t.Name == name {
			return st.Commit(ctx, seatstore.Change{DeleteTokens: []string{name}})
		}
	}
	return fmt.Errorf("%w named %s (license-server token list shows them)", ErrNoToken, name)
}

// ProductStatus is one product in Status.
type ProductStatus struct {
	Product  string `json:"product"`
	Seats    int    `json:"seats"`
	InUse    int    `json:"in_use"`
	Peak     int    `json:"peak"`
	SeatUnit string `json:"seat_unit"`
}

// Status is what `license-server status` shows.
type Status struct {
	Time        time.Time       `json:"time"`
	Mode        string          `json:"mode"`
	ResponseKey string          `json:"response_key"`
	Leases      int             `json:"leases"`
	Products    []ProductStatus `json:"products"`
	Licences    []seat.Licence  `json:"licences"`
}

// Status returns the licenses, and per product the seats licensed, in use
// and the peak.
func (s *Server) Status() Status {
	lics := s.Licences()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st := Status{Time: wireTime(now), Mode: s.modeLocked(now), ResponseKey: s.keyID, Leases: s.core.Count(), Licences: lics, Products: []ProductStatus{}}
	seen := map[string]bool{}
	for _, l := range s.core.Licenses() {
		if seen[l.Product] {
			continue
		}
		seen[l.Product] = true
		cp := s.core.Capacity(l.Product, now)
		st.Products = append(st.Products, ProductStatus{Product: l.Product, Seats: cp.Seats, InUse: s.core.InUse(l.Product), Peak: s.peak[l.Product], SeatUnit: seatUnitName(cp.Unit)})
	}
	return st
}

// ErrBadAddress: a listen address that is not HOST:PORT.
var ErrBadAddress = tlsfiles.ErrBadAddress

// CheckListen refuses plain HTTP on anything but a loopback address unless
// insecure is set: tokens and passwords would cross the network in clear
// text. The address must be HOST:PORT (ErrBadAddress).
func CheckListen(addr string, useTLS, insecure bool) error {
	return tlsfiles.CheckListen(addr, useTLS, insecure, "127.0.0.1:9099", "tokens and passwords")
}
