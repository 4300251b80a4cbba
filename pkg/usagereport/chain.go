// Package usagereport is the signed true-up report of a seat server
// (docs/spec/usage-report-v1.md): the server's usage log, hash-chained
// record by record, anchored and closed by heads the server signed with
// its response key, and the server licenses that certify that key with
// the vendor's signature. The customer carries the report to the vendor,
// who checks it offline (Verify) and reads, per product and per day, the
// peak of concurrent seats, the seat-hours, the refusals and the users and
// sessions seen.
//
// Writer produces a report as the usage log streams past (memory does not
// grow with the log); Verify reads one back, streaming too.
//
// # Security
//
// What is guaranteed: a report that Verify accepts holds every usage-log
// record between two heads signed by a response key that a vendor-signed
// server license names; a record changed, deleted, reordered or inserted
// breaks the chain, a head swapped for another fails its signature or the
// chain, a license swapped for another server's names another key, and a
// report whose heads do not reach over its whole period (trimmed at either
// end) is refused. The summary is recomputed from the records, never read
// from the file.
//
// What is not: the server's response key lives on the customer's machine.
// A customer who extracts it (and its passphrase) can sign any chain he
// likes, and a customer who restores an older copy of the whole database
// can fork the log: the vendor sees the fork only by comparing successive
// reports (each report names its first and last sequence numbers; the
// next report must continue from a head no older than the last one's
// anchor). Times are the server's clock; the server refuses to start with
// its clock set back, but a clock set forward before the period is not
// detected here.
package usagereport

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// chainDomain separates the usage-log hash from every other hash; it is
// the one internal/seatstore uses (a test keeps them equal).
const chainDomain = "airseal usage log v1\x00"

// Record is one usage-log entry as the store keeps it.
type Record struct {
	Seq     int64
	Time    time.Time
	Kind    string
	Product string
	LeaseID string
	Session string
	User    string
	Detail  string
	// Hash is ChainHash(hash of Seq-1, this record).
	Hash [32]byte
}

// ChainHash returns the hash of record r following the record whose hash
// is prev (the zero hash before the first record):
//
//	SHA-256("airseal usage log v1" 0x00 || prev || uint64be(Seq) ||
//	        int64be(Time as Unix nanoseconds) || field(Kind) ||
//	        field(Product) || field(LeaseID) || field(Session) ||
//	        field(User) || field(Detail))
//
// where field(s) is uint32be(len(s)) || s. r.Hash is ignored.
func ChainHash(prev [32]byte, r *Record) [32]byte {
	h := sha256.New()
	h.Write([]byte(chainDomain))
	h.Write(prev[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r.Seq))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(r.Time.UnixNano()))
	h.Write(b[:])
	for _, s := range []string{r.Kind, r.Product, r.LeaseID, r.Session, r.User, r.Detail} {
		binary.BigEndian.PutUint32(b[:4], uint32(len(s)))
		h.Write(b[:4])
		h.Write([]byte(s))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
