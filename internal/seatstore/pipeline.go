package seatstore

import "context"

// Pipelined is a Store whose commit has two phases, so that a caller
// grouping changes itself (the seat server's committer) can write the
// next group while the previous one is being synced: WriteCommit writes
// the change after every change written before it, and the function it
// returns waits until the change is durable.
//
// The SQLite store implements it: the write is its change journal's
// record (under the journal's lock, in order), the wait its fdatasync,
// which covers every record written before it and runs outside that
// lock. A change that cannot go through the journal (Grants, Renewals,
// one too large for a record, another process owning the journal) is
// committed completely by WriteCommit, which then returns a nil wait.
//
// Durability is that of Commit: a change is durable once its wait has
// returned nil, and only then may it be acknowledged. The caller must
// also not acknowledge it before every change written before it is
// durable (a wait returns in any order), and must fail it when one of
// those failed: the store then takes no more changes (it fails the
// writes and waits after it). A lazy change (Change.Lazy) gets a nil wait:
// it may be acknowledged once written.
type Pipelined interface {
	Store
	// WriteCommit validates c and writes it. A nil error and a nil wait:
	// c is durable (or lazy). An error: c is not stored, or, when the
	// store broke while writing it, may or may not be (the error says so).
	WriteCommit(ctx context.Context, c Change) (wait func() error, err error)
}
