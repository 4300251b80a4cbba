// Package seatstore is the license server's durable state: installed
// licenses, live leases, API tokens, devices, settings and the append-only
// usage log. A single server keeps its working state in memory
// (internal/seats, internal/devices) and makes every change durable
// through Store.Commit before it acknowledges it to a client; after a
// restart it rebuilds that state from Store.Load. Several server nodes
// sharing one PostgreSQL database (Postgres.Shared) let the store decide
// every seat instead: Grant, Renewal, DeleteLeases and
// Postgres.SweepExpired, each counted under the product's row lock.
//
// Implementations: Memory (tests, and the reference for the behaviour every
// store must have), SQLite (the embedded default) and PostgreSQL (several
// nodes). One test suite (storetest) runs against each. The SQL stores
// share one implementation: group commit through one writer goroutine per
// store, embedded versioned migrations, portable SQL.
// docs/spec/seat-protocol-v1.md ("Storage") specifies the behaviour.
//
// # Security
//
// What is guaranteed: a Commit that returned nil is durable (SQLite:
// fdatasynced to its change journal, or committed in WAL mode with
// synchronous=FULL, so against kill -9 and power loss; PostgreSQL: as
// durable as the server's own settings); a Commit is all or nothing; the
// usage log is numbered without gaps and hash-chained in commit order
// (ChainHash), so an entry removed, changed or reordered in the database is
// detected by whoever checks the chain against a signed head; Grants never
// over-grant, even from several nodes on one PostgreSQL database; the
// SQLite file is created 0600 and token secrets are stored as SHA-256 only.
//
// What is not: the database is the customer's. Anyone who can write the
// file (or the PostgreSQL database) can change leases, settings and the
// log; the chain makes log edits evident only once its head has been signed
// elsewhere (issue 12's report), and nothing here keeps the customer from
// restoring an older copy of the whole file. Values are stored as given:
// callers clean untrusted text (internal/safetext) first; the store only
// refuses what it could not keep exactly (ErrInvalid).
package seatstore

import (
	"context"
	"errors"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/pkg/license"
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("seat store is closed")

// LicenseRecord is a license installed on the server, as it was given.
type LicenseRecord struct {
	// Serial is the license's serial (the 1C KeyNo).
	Serial string
	// Raw is the license exactly as installed (armored text or typed code);
	// the server verifies it again at every start.
	Raw []byte
	// ITN and IEC are the tax IDs given at installation (may be empty).
	ITN, IEC string
	// Installed is when it was installed.
	Installed time.Time
}

// TokenRecord is a machine client's API token. The token itself is never
// stored: only its SHA-256.
type TokenRecord struct {
	Name    string
	Role    string
	SHA256  [32]byte
	Created time.Time
}

// Change is one atomic batch of changes. Commit applies all of it or none.
// Puts replace a record with the same key (serial, lease ID, token name,
// device code, setting name); deletes of a missing key are not errors.
//
// The parts are applied in this order: licenses, leases (puts, then
// deletes), grants, renewals, tokens, devices, settings, events. A Grant
// therefore sees the leases the same Change puts or deletes.
type Change struct {
	PutLicenses    []LicenseRecord
	DeleteLicenses []string // serials
	PutLeases      []seats.Lease
	DeleteLeases   []string // lease IDs
	// Grants insert leases only while the seats in use stay within a
	// capacity, checked by the store itself (see Grant): the guard that
	// keeps several server nodes sharing one database from over-granting.
	Grants []Grant
	// Renewals extend stored leases, and only those: a lease released or
	// lost meanwhile (on another node) is not brought back (see Renewal).
	Renewals      []Renewal
	Events        []seats.Event
	PutTokens     []TokenRecord
	DeleteTokens  []string // names
	PutDevices    []devices.Device
	DeleteDevices []string // device codes
	Settings      map[string]string
	// Lazy marks a change whose loss in a crash the caller makes good
	// otherwise: the SQLite store may acknowledge it once it is written to
	// its change journal, before that is synced; it becomes durable with
	// the next synced change (or the next fold), and a crash before that
	// may lose it. The license server marks renewals only (a checkout
	// retried by the session holding the lease renews it too): after a
	// restart no lease is reclaimed for one lease lifetime
	// (seats.Core.Restore), which covers every renewal acknowledged
	// before the crash. A group of changes is lazy only if all of them
	// are; other stores always make a change durable before Commit
	// returns.
	Lazy bool
}

// Empty reports whether c changes nothing.
func (c *Change) Empty() bool {
	return len(c.PutLicenses) == 0 && len(c.DeleteLicenses) == 0 &&
		len(c.PutLeases) == 0 && len(c.DeleteLeases) == 0 && len(c.Grants) == 0 && len(c.Renewals) == 0 && len(c.Events) == 0 &&
		len(c.PutTokens) == 0 && len(c.DeleteTokens) == 0 &&
		len(c.PutDevices) == 0 && len(c.DeleteDevices) == 0 && len(c.Settings) == 0
}

// State is everything Load returns: the state to rebuild after a restart.
// The usage log is read separately (Events), as it can be large.
type State struct {
	Licenses []LicenseRecord  // by serial
	Leases   []seats.Lease    // by ID
	Tokens   []TokenRecord    // by name
	Devices  []devices.Device // by code
	Settings map[string]string
}

// Grant is a lease to insert (or replace) only if the seats in use of its
// product stay within Seats. The store counts, inside the committing
// transaction and under a lock every other Grant of the product must also
// take, the distinct seat keys of the product's stored leases that are not
// lost (Lease.Lost == ""), other than Lease.ID itself. The lease is stored
// when SeatKey is already among them (per-computer counting: the computer
// holds its seat already) or when they are fewer than Seats; otherwise
// Commit stores nothing of the whole Change and returns a *seats.NoSeatError
// (errors.Is(err, seats.ErrNoSeat)), and the other Commits of the same
// group go on.
//
// Every stored lease counts until it is deleted or marked lost, expired or
// not: a lease may be renewed in the reclaim window after a restart, so
// only the server's sweep (a DeleteLeases) frees its seat.
type Grant struct {
	Lease seats.Lease
	// SeatKey is what the seat is counted by: "s:"+Lease.ID per session
	// (the default when empty), "c:"+ComputerName per computer (SeatKey).
	SeatKey string
	// Seats is the product's capacity, from its valid licenses now.
	Seats int
	// New inserts the lease only: when a lease with its ID is stored
	// (lost or not), Commit stores nothing of the whole Change and
	// returns an error wrapping ErrLeaseExists, whatever the seat count,
	// and the other Commits of the group go on. A cluster node grants a
	// new session's lease in one Commit this way and reads the stored
	// lease only when the checkout turns out to be a retry.
	New bool
}

// ErrLeaseExists is returned (wrapped, naming the lease) by Commit for a
// Grant with New whose lease ID is stored already. Only that Commit
// fails; nothing of it is stored.
var ErrLeaseExists = errors.New("lease is stored already")

// Renewal sets the expiry of a stored lease that is not lost. When the
// lease is not stored (released, expired and swept, or never granted)
// Commit stores nothing of the Change and returns an error wrapping
// seats.ErrUnknownLease; when it is stored as lost, one wrapping
// seats.ErrLost with the reason. As with a refused Grant, the other
// Commits of the group go on. A node renews through Renewals, not
// PutLeases, when another node may have released the lease.
type Renewal struct {
	ID      string
	Expires time.Time
}

// SeatKey returns the seat key of l under unit, as internal/seats counts
// it: per computer, every lease of one ComputerName shares a seat.
func SeatKey(l seats.Lease, unit license.SeatUnit) string {
	if unit == license.PerComputer {
		return "c:" + l.ComputerName
	}
	return "s:" + l.ID
}

func (g *Grant) seatKey() string {
	if g.SeatKey == "" {
		return "s:" + g.Lease.ID
	}
	return g.SeatKey
}

// LoggedEvent is a usage-log entry with its position in the log.
type LoggedEvent struct {
	// Seq numbers the log from 1, without gaps, in commit order.
	Seq int64
	// Hash chains the log: ChainHash(hash of entry Seq-1, this entry), the
	// entry before the first having the zero hash. The store computes it in
	// the transaction that assigns Seq, so the chain follows commit order
	// even when several nodes share one database.
	Hash [32]byte
	seats.Event
}

// Store is the durable state. Implementations are safe for concurrent use.
type Store interface {
	// Commit applies c atomically and durably: when it returns nil, the
	// change survives kill -9 of the process (and, for SQLite, a power
	// loss). Concurrent Commits may share one transaction and one fsync
	// (group commit); each still returns only once its own change is
	// durable, and a failure is reported to every Commit of the group.
	Commit(ctx context.Context, c Change) error
	// Load returns the current state, each list sorted by its key.
	Load(ctx context.Context) (*State, error)
	// Lease returns one stored lease (lost ones too) and whether it is
	// stored: a node asked to renew or release a lease another node
	// granted reads it here.
	Lease(ctx context.Context, id string) (seats.Lease, bool, error)
	// Events calls fn for each usage-log entry with from <= Time < to, in
	// log order, streaming (memory does not grow with the log). A zero
	// from or to is unbounded. fn's error stops the walk and is returned.
	Events(ctx context.Context, from, to time.Time, fn func(LoggedEvent) error) error
	// Close releases the store; it waits for Commits in flight. Every
	// method returns ErrClosed after it.
	Close() error
}
