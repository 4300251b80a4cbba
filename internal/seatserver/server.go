// Package seatserver is the license server's HTTP API
// (docs/spec/seat-protocol-v1.md, docs/api.md): licenses installed on one
// machine, seats leased to sessions, every answer signed with the server's
// response key over the client's query ID.
//
// A single node (SQLite) keeps one seats.Core in memory behind a mutex.
// Every change (a grant, a renewal, a release, an expiry, a license
// installed) is made in the core under the mutex, queued to the committer
// in the same order, and answered only once the committer has made it
// durable in the seatstore.Store. The committer merges whatever queued
// while the previous commit ran into one Store.Commit (group commit), so
// many clients share one transaction and one fsync; the first request of
// a group commits it in its own goroutine (Store CommitNow) for the
// others (leader and followers, no goroutine in between), and under load
// waits up to one commit's time for the connections that have nothing
// queued yet (commit.go). An answer is encoded and signed before its
// request waits for (or runs) the commit, and sent once durable.
//
// Several nodes on one shared store (PostgreSQL, a ClusterStore) serve in
// cluster mode (cluster.go): there the store decides every seat (Grant,
// Renewal, delete, SweepExpired) and the core is only a cache of the
// shared state, reloaded every DefaultClusterRefresh, for listings, the
// console, metrics and the capacity a Grant is given. A node that cannot
// reach the database grants and renews nothing (503). See
// docs/spec/seat-protocol-v1.md, "Several nodes".
//
// # Security
//
// The customer runs the server and controls its machine, files and clock;
// clients trust only the vendor's keys. Installed licenses must be v2
// server licenses, signed by a vendor key the server trusts, naming this
// server's response key and bound to this machine (MatchNode): a license
// copied to another machine, or a server with another key, is refused at
// installation and at every start. What the server cannot stop (a customer
// editing its binary to count wrong) the client still catches: it accepts
// only answers signed by a response key that a vendor-signed license names.
//
// Callers authenticate with HTTP Basic: API tokens (256 random bits, only
// their SHA-256 stored, compared in constant time) or users of
// internal/users (argon2id within the budget of a users.Gate shared with
// the console, so a flood of logins cannot slow down checkouts). Bodies are limited to MaxBody; client
// text is checked with internal/safetext before it is stored, logged or
// signed.
package seatserver

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// Defaults and limits.
const (
	// DefaultLease is the lease lifetime when Config.Lease is zero.
	DefaultLease = 5 * time.Minute
	// MinLease and MaxLease bound Config.Lease.
	MinLease = time.Minute
	MaxLease = time.Hour
	// DefaultSweep is how often expired leases are reclaimed.
	DefaultSweep = 10 * time.Second
	// MaxBody is the largest request body (413 above), except for:
	MaxBody = 64 << 10
	// MaxLicenceBody: POST /api/licences (a license file JSON-escaped).
	MaxLicenceBody = 2*fileio.LimitLicense + 4<<10
	// MaxRevocationsBody: POST /api/revocations (a list of up to about a
	// million serials, JSON-escaped).
	MaxRevocationsBody = fileio.LimitRevocations + 1<<20
	// CommitTimeout bounds how long a commit may take: the requests
	// waiting for one that takes longer are answered 503 (so a request
	// waits at most about twice this: the commit before its own, then
	// its own).
	CommitTimeout = 10 * time.Second
)

// MachineFunc returns the facts of the machine the server runs on, with
// the component hashes salted for product (hwid.Collect with
// Options.Product). Tests pass fixture trees.
type MachineFunc func(product string) (*license.Machine, error)

// Config is what New needs.
type Config struct {
	// Store is the durable state. Required.
	Store seatstore.Store
	// Key is the server's response-signing key. Required to serve; the
	// CLI's offline commands (license add, list, status) give PublicKey
	// instead and never answer a request.
	Key ed25519.PrivateKey
	// PublicKey is the response key's public half, used when Key is nil.
	PublicKey ed25519.PublicKey
	// Keyring holds the vendor keys installed licenses must be signed by.
	Keyring *keys.Keyring
	// Machine gives this machine's facts for the node check. Required.
	Machine MachineFunc
	// Users are people who may log in with a password (nil: tokens only).
	// A *users.File follows changes made by `license-server user` while
	// the server runs.
	Users users.Store
	// LoginGate bounds the argon2id work of password logins, for the API
	// and the console together (nil: users.NewGate's defaults).
	LoginGate *users.Gate
	// Node and ComputerID describe this server in /api/serverinfo (from
	// its server request).
	Node, ComputerID string
	// Lease is the lease lifetime (0: DefaultLease).
	Lease time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger gets structured logs (nil: discarded).
	Logger *slog.Logger
	// Version is the server version for /api.
	Version string
	// Debug puts Go error texts in the Exception field of errors.
	Debug bool
	// NewLeaseID makes lease IDs (nil: 80 random bits).
	NewLeaseID func() string
	// Audit records admin actions (license installed or removed, list
	// applied, seat force-released): who, what, when, from where. nil: the
	// structured log only.
	Audit *audit.Writer
	// TokenStamp is a file whose change (size or time) makes the running
	// server reload its tokens within TokenPoll: how a token added or
	// removed by the CLI takes effect without a restart. "": only a
	// token name the server does not know triggers a reload.
	TokenStamp string
	// LoginLimit counts failed logins (a wrong token or password) per
	// client address (IPv6 by /64); an address over the limit gets 429 with
	// Retry-After before its credentials are checked. nil: the defaults of
	// internal/loginlimit (10 a minute).
	LoginLimit *loginlimit.Limiter
	// Exempt, when set, names addresses the login limit does not apply to
	// (the console's IP whitelist).
	Exempt func(netip.Addr) bool
	// Extras configures devices, IP lists and the login limit (issue 11).
	Extras Extras
	// ReadOnly loads the state without writing anything (for
	// `license-server status` beside a running server): every change is
	// refused with ErrReadOnly.
	ReadOnly bool
}

// Server is a running seat server's state. Use New, then Handler or Run.
type Server struct {
	cfg      Config
	pub      ed25519.PublicKey
	keyID    string
	now      func() time.Time
	log      *slog.Logger
	started  time.Time
	passGate *users.Gate

	mu      sync.Mutex // guards core, records, tokens, peak, revSeen
	core    *seats.Core
	records map[string]seatstore.LicenseRecord
	armored map[string]string // serial → armored license
	tokens  map[string]seatstore.TokenRecord
	peak    map[string]int
	revSeen map[keys.ID]uint64
	// revokedExtra is every serial on the revocation lists applied, so a
	// revoked license cannot be installed later.
	revokedExtra map[string]bool
	// lastLoad is when the tokens were last reloaded after a miss.
	lastLoad time.Time
	// stampSeen is the token stamp (tokenStamp) of the last reload.
	stampSeen string
	// floorSaved is when the clock floor was last saved.
	floorSaved time.Time

	commits *committer
	cl      *cluster     // cluster mode (a shared store), nil for one node
	cp      checkpointer // the usage log's last head seen (checkpoint.go)
	ext     *extState    // issue 11: devices, IP lists, login limit

	// licSet is the Licence-Set header (licset.go); nil: to compute.
	licSet atomic.Pointer[string]
	// signer signs the answers, several as one when they are ready
	// together (batchsign.go).
	signer batchSigner
}

// Errors New returns; the CLI maps them to exit codes.
var (
	// ErrConfig: a required Config field is missing or out of range.
	ErrConfig = errors.New("seat server configuration")
	// ErrReadOnly: a change asked of a server opened with Config.ReadOnly.
	ErrReadOnly = errors.New("the server state was opened read-only")
)

// New loads the state from cfg.Store, checks every installed license
// against this machine and key (an error matching license.ErrWrongMachine,
// ErrVirtualMachine, ErrUnknownKey or ErrBadSignature refuses to start),
// restores the leases and opens the reclaim window.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Machine == nil {
		return nil, fmt.Errorf("%w: Store and Machine are required", ErrConfig)
	}
	var pub ed25519.PublicKey
	switch {
	case len(cfg.Key) == ed25519.PrivateKeySize:
		pub = cfg.Key.Public().(ed25519.PublicKey)
	case cfg.Key == nil && len(cfg.PublicKey) == ed25519.PublicKeySize:
		pub = cfg.PublicKey
	default:
		return nil, fmt.Errorf("%w: give the Ed25519 response Key (or, to change state offline, its PublicKey)", ErrConfig)
	}
	if cfg.Keyring == nil {
		cfg.Keyring = keys.NewKeyring()
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Lease < MinLease || cfg.Lease > MaxLease {
		return nil, fmt.Errorf("%w: lease lifetime %s: give 1m to 60m", ErrConfig, cfg.Lease)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoginGate == nil {
		cfg.LoginGate = users.NewGate(users.GateOptions{}) // real time: it budgets CPU time
	}
	if cfg.LoginLimit == nil {
		cfg.LoginLimit = loginlimit.New(loginlimit.DefaultLimit, loginlimit.DefaultWindow)
	}
	s := &Server{
		cfg: cfg, pub: pub, now: cfg.Now, log: cfg.Logger,
		passGate: cfg.LoginGate,
		core:     seats.New(cfg.Lease, cfg.NewLeaseID),
		records:  map[string]seatstore.LicenseRecord{}, armored: map[string]string{},
		tokens: map[string]seatstore.TokenRecord{}, peak: map[string]int{}, revSeen: map[keys.ID]uint64{},
	}
	s.keyID = seat.ResponseKeyID(s.pub)
	st, err := cfg.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the server state: %w", err)
	}
	now := s.now()
	s.started = now
	if f, ok := st.Settings[settingClockFloor]; ok {
		if floor, err := time.Parse(time.RFC3339, f); err == nil && now.Add(license.DefaultSkew).Before(floor) {
			return nil, fmt.Errorf("%w: the clock says %s but this server already ran at %s; set the clock right",
				license.ErrClockRollback, now.UTC().Format(time.RFC3339), floor.UTC().Format(time.RFC3339))
		}
	}
	var revoked []string
	// Main and demo licenses first: an additional license needs its main
	// license installed.
	sort.SliceStable(st.Licenses, func(i, j int) bool {
		return !isAdditional(st.Licenses[i].Raw) && isAdditional(st.Licenses[j].Raw)
	})
	for _, rec := range st.Licenses {
		il, err := s.checkInstalled(rec.Raw, now)
		if err != nil {
			return nil, fmt.Errorf("installed license %s: %w", rec.Serial, err)
		}
		if _, err := s.core.Install(il.core, now); err != nil {
			return nil, fmt.Errorf("installed license %s: %w", rec.Serial, err)
		}
		s.records[rec.Serial] = rec
		s.armored[rec.Serial] = il.armored
	}
	for _, t := range st.Tokens {
		s.tokens[t.Name] = t
	}
	for k, v := range st.Settings {
		switch {
		case len(k) > len(settingPeak) && k[:len(settingPeak)] == settingPeak:
			if n, err := strconv.Atoi(v); err == nil {
				s.peak[k[len(settingPeak):]] = n
			}
		case len(k) > len(settingRevSeq) && k[:len(settingRevSeq)] == settingRevSeq:
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				s.revSeen[keys.ID(k[len(settingRevSeq):])] = n
			}
		case k == settingRevSerials:
			revoked = splitList(v)
		}
	}
	s.revokedExtra = make(map[string]bool, len(revoked))
	for _, sr := range revoked {
		s.revokedExtra[sr] = true
	}
	ev := s.core.Revoke(revoked, now)
	// Lost leases long past their expiry are forgotten (the core drops
	// them silently when they expire).
	var live []seats.Lease
	var gone []string
	for _, l := range st.Leases {
		if l.Lost != "" && now.After(l.Expires.Add(cfg.Lease)) {
			gone = append(gone, l.ID)
			continue
		}
		live = append(live, l)
	}
	// The reclaim window protects leases granted before the restart; with
	// none there is nothing to wait for.
	if len(live) > 0 {
		ev = append(ev, s.core.Restore(live, now)...)
		if prev, err := strconv.ParseInt(st.Settings[settingLeaseLifetime], 10, 64); err == nil && prev > 0 && prev <= int64(MaxLease/time.Second) {
			s.core.HoldReclaim(now.Add(time.Duration(prev) * time.Second))
		}
	}
	s.commits = newCommitter(cfg.Store, s.log)
	if cs := clusterOf(cfg.Store); cs != nil {
		s.cl = &cluster{store: cs, reclaimUntil: s.core.ReclaimUntil(), verified: map[string]*installed{}}
	}
	ch := s.changeFor(ev)
	ch.DeleteLeases = append(ch.DeleteLeases, gone...)
	if life := strconv.FormatInt(int64((cfg.Lease+time.Second-1)/time.Second), 10); st.Settings[settingLeaseLifetime] != life && s.cl == nil {
		if ch.Settings == nil {
			ch.Settings = map[string]string{}
		}
		ch.Settings[settingLeaseLifetime] = life
	}
	if !ch.Empty() && !cfg.ReadOnly {
		if err := s.commits.commit(ctx, ch); err != nil {
			s.commits.close()
			return nil, fmt.Errorf("saving the restored state: %w", err)
		}
	}
	if err := s.initExtras(st); err != nil {
		s.commits.close()
		return nil, fmt.Errorf("devices, IP lists: %w", err)
	}
	s.log.Info("state loaded", "licenses", len(st.Licenses), "leases", len(live), "tokens", len(st.Tokens),
		"reclaiming", len(live) > 0, "response_key", s.keyID, "cluster", s.cl != nil)
	return s, nil
}

// isAdditional reports whether raw is an additional license (for the
// load order; a license that does not decode fails later, named).
func isAdditional(raw []byte) bool {
	sl, err := license.DecodeServer(raw)
	return err == nil && sl.Kind == license.KindAdditional
}

// Settings keys in the store.
const (
	settingPeak       = "peak."            // + product: the most seats ever in use
	settingRevSeq     = "revocations.seq." // + key ID: highest list sequence seen
	settingRevSerials = "revocations.serials"
	settingClockFloor = "clock.floor" // the newest time the server ran at
	// settingLeaseLifetime is the lease lifetime (seconds) the server last
	// ran with: after a restart with a shorter one, no lease is reclaimed
	// before the longer one has passed, so a renewal acknowledged before
	// a crash and lost with it (lazyEvents) keeps its promised expiry.
	settingLeaseLifetime = "lease.lifetime"
)

func splitList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Close stops the committer after the changes queued are durable. The
// leases stay in the store: a restart restores them.
func (s *Server) Close() error {
	return s.commits.close()
}

// KeyID returns the response key's ID (the Licence-Key header).
func (s *Server) KeyID() string { return s.keyID }

// ReclaimUntil returns the end of the reclaim window after the start.
func (s *Server) ReclaimUntil() time.Time {
	if s.cl != nil {
		s.cl.mu.Lock()
		defer s.cl.mu.Unlock()
		return s.cl.reclaimUntil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.ReclaimUntil()
}

// storeLagDivisor: on a single node (Server.cl nil) a renewal stores its
// lease only when the new expiry is at least Config.Lease/storeLagDivisor
// past the expiry stored for it (seats.Core.StoreLag); otherwise its change
// holds the renew event alone. So the stored expiry is never more than half
// a lifetime behind the one promised, a lease renewed every half lifetime
// or more often (clients renew every fifth) never shows expired in the
// store, and with many leases a renewal does not rewrite a random page of
// the lease table each time (issue 10: renewal p99 with 100,000 leases).
// A restart loses nothing by it: no lease is reclaimed for one lifetime
// after a start (seats.Core.Restore, settingLeaseLifetime), which covers
// every expiry promised before, written or not. A cluster stores every
// renewal: the other nodes read expiries from the store.
// docs/spec/seat-protocol-v1.md, "Stored expiry".
const storeLagDivisor = 2

// changeFor turns core events into the store change that makes them
// durable: the events themselves, and for each lease they name its
// current record (live, or lost with its reason) or its deletion, but
// for a renewal whose lease is stored recently enough (storeLagDivisor).
// The caller holds s.mu.
func (s *Server) changeFor(ev []seats.Event) seatstore.Change {
	var ch seatstore.Change
	if len(ev) == 0 {
		return ch
	}
	ch.Events = ev
	seen := map[string]bool{}
	products := map[string]bool{}
	for _, e := range ev {
		products[e.Product] = true
		// A refusal names the lease that was not granted: nothing to store.
		if e.LeaseID == "" || e.Kind == seats.EventRefuse || seen[e.LeaseID] {
			continue
		}
		if e.Kind == seats.EventRenew && s.cl == nil {
			// Stored expiry write-behind: the lease is stored again only
			// once its expiry is half a lifetime past the stored one.
			if lag, ok := s.core.StoreLag(e.LeaseID); ok && lag < s.cfg.Lease/storeLagDivisor {
				continue
			}
		}
		seen[e.LeaseID] = true
		if l, ok := s.core.Stored(e.LeaseID); ok {
			ch.PutLeases = append(ch.PutLeases, l)
		} else if l, ok := s.core.Lost(e.LeaseID); ok {
			ch.PutLeases = append(ch.PutLeases, l)
		} else {
			ch.DeleteLeases = append(ch.DeleteLeases, e.LeaseID)
		}
	}
	for p := range products {
		if n := s.core.InUse(p); n > s.peak[p] {
			s.peak[p] = n
			if ch.Settings == nil {
				ch.Settings = map[string]string{}
			}
			ch.Settings[settingPeak+p] = strconv.Itoa(n)
		}
	}
	return ch
}

// apply runs op on the core under the mutex, queues the change its events
// make, and waits until that change is durable. The change is queued
// before the mutex is released, so changes reach the store in the order
// the core made them.
func (s *Server) apply(ctx context.Context, op func(now time.Time) ([]seats.Event, seatstore.Change)) error {
	return s.applyThen(ctx, op, nil)
}

// applyThen is apply that runs then (when not nil) once the change is
// queued, before it waits for it to be durable: the answer is encoded and
// signed while the store commits, and sent only after.
func (s *Server) applyThen(ctx context.Context, op func(now time.Time) ([]seats.Event, seatstore.Change), then func()) error {
	s.mu.Lock()
	ev, extra := op(s.now())
	ch := s.changeFor(ev)
	mergeInto(&ch, extra)
	ch.Lazy = extra.Empty() && len(ch.Settings) == 0 && lazyEvents(ev)
	if s.cl != nil {
		// The core is a cache in cluster mode: of the leases it names,
		// only the ones it takes away (lost) are written; grants,
		// renewals, releases and expiries are the store's.
		var lost []seats.Lease
		for _, l := range ch.PutLeases {
			if l.Lost != "" {
				lost = append(lost, l)
			}
		}
		ch.PutLeases, ch.DeleteLeases = lost, nil
	}
	if ch.Empty() {
		s.mu.Unlock()
		if then != nil {
			then()
		}
		return nil
	}
	if s.cfg.ReadOnly {
		s.mu.Unlock()
		return ErrReadOnly
	}
	p := s.commits.enqueue(ch)
	s.mu.Unlock()
	if then != nil {
		then()
	}
	// A store that hangs must not hold requests until the write timeout:
	// once a commit takes CommitTimeout the answer is 503 (the change
	// stays queued; committer.wait), to every request but the one running
	// the commit, which waits for the store.
	if err := p.wait(ctx); err != nil {
		// The leases it puts may be missing from the store, or stored
		// later: the next renewal of each stores it again.
		s.mu.Lock()
		for i := range ch.PutLeases {
			s.core.ForgetStored(ch.PutLeases[i].ID)
		}
		s.mu.Unlock()
		if ctx.Err() == nil {
			return fmt.Errorf("%w: %w", errNotDurable, err)
		}
		return err
	}
	return nil
}

// lazyEvents reports whether ev holds renewals only (a renewal, or a
// checkout retried by a session that holds its lease): changes a crash may
// lose after they are acknowledged (seatstore.Change.Lazy), because a
// restart reclaims no lease for one lease lifetime (seats.Core.Restore),
// longer than any renewal acknowledged before the crash promised (the
// longest lifetime of the runs before counts: settingLeaseLifetime).
func lazyEvents(ev []seats.Event) bool {
	for _, e := range ev {
		if e.Kind != seats.EventRenew {
			return false
		}
	}
	return len(ev) > 0
}

// applyErrThen is applyErr with then run as applyThen does, when op
// succeeded.
func (s *Server) applyErrThen(ctx context.Context, op func(now time.Time) ([]seats.Event, seatstore.Change, error), then func()) error {
	var opErr error
	err := s.applyThen(ctx, func(now time.Time) ([]seats.Event, seatstore.Change) {
		ev, ch, err := op(now)
		opErr = err
		return ev, ch
	}, func() {
		if opErr == nil {
			then()
		}
	})
	if opErr != nil {
		return opErr
	}
	return err
}

// Sweep reclaims expired leases now and makes that durable. It also
// records the time as the clock floor (at most once a minute): a start
// with the clock set back before it is refused (license.ErrClockRollback),
// so setting the clock back cannot revive an expired license.
func (s *Server) Sweep(ctx context.Context) error {
	if s.cl != nil {
		return s.clusterSweep(ctx)
	}
	return s.apply(ctx, func(now time.Time) ([]seats.Event, seatstore.Change) {
		var ch seatstore.Change
		if now.Sub(s.floorSaved) >= time.Minute {
			s.floorSaved = now
			ch.Settings = map[string]string{settingClockFloor: now.UTC().Format(time.RFC3339)}
		}
		return s.core.Sweep(now), ch
	})
}

// CheckInvariants runs the core's self-check (seats in use never exceed
// seats licensed) at the current time.
func (s *Server) CheckInvariants() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Check(s.now())
}
