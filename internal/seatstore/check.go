package seatstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/airseal/airseal/internal/seats"
)

// ErrInvalid is returned (wrapped, naming the record and the field) by
// Commit for a change no store can keep exactly: text that is not UTF-8
// or holds a NUL byte (PostgreSQL refuses both), a time outside the years
// 1678 to 2262 (times are kept as nanoseconds since 1970 in an int64), an
// event without a time, a grant without a lease ID or with negative seats.
// Only that Commit fails; nothing of it is stored.
var ErrInvalid = errors.New("seat store cannot keep this change")

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// validate checks every value of c before it is queued, so that one bad
// change never fails the other Commits of its group.
func validate(c *Change) error {
	var v validator
	for i, l := range c.PutLicenses {
		v.at("license %d (%.40q)", i, l.Serial)
		v.key("Serial", l.Serial)
		v.text("ITN", l.ITN)
		v.text("IEC", l.IEC)
		v.time("Installed", l.Installed)
	}
	v.keys("DeleteLicenses", c.DeleteLicenses)
	for i, l := range c.PutLeases {
		v.at("lease %d (%.40q)", i, l.ID)
		v.lease(l)
	}
	v.keys("DeleteLeases", c.DeleteLeases)
	for i, g := range c.Grants {
		v.at("grant %d (%.40q)", i, g.Lease.ID)
		v.lease(g.Lease)
		v.text("SeatKey", g.SeatKey)
		if strings.HasPrefix(g.SeatKey, "s:") && g.SeatKey != "s:"+g.Lease.ID {
			// Per-session keys are counted from the lease row itself (SQL
			// stores keep no seat_holds row for them).
			v.fail("SeatKey", "names another lease's per-session seat; give \"s:\"+Lease.ID, a \"c:\" key or none")
		}
		if g.Seats < 0 {
			v.fail("Seats", fmt.Sprintf("%d is negative", g.Seats))
		}
	}
	for i, r := range c.Renewals {
		v.at("renewal %d (%.40q)", i, r.ID)
		v.key("ID", r.ID)
		v.time("Expires", r.Expires)
	}
	for i, t := range c.PutTokens {
		v.at("token %d (%.40q)", i, t.Name)
		v.key("Name", t.Name)
		v.text("Role", t.Role)
		v.time("Created", t.Created)
	}
	v.keys("DeleteTokens", c.DeleteTokens)
	for i, d := range c.PutDevices {
		v.at("device %d (%.40q)", i, d.Code)
		v.key("Code", d.Code)
		v.text("Name", d.Name)
		v.text("App", d.App)
		v.text("IP", d.IP)
		v.text("State", string(d.State))
		v.text("DecidedBy", d.DecidedBy)
		v.text("KeyNo", d.KeyNo)
		v.time("Registered", d.Registered)
		v.time("Decided", d.Decided)
		for _, f := range d.DemoLimits {
			v.text("DemoLimits", f.Name)
		}
	}
	v.keys("DeleteDevices", c.DeleteDevices)
	for k, val := range c.Settings {
		v.at("setting %.40q", k)
		v.key("name", k)
		v.text("value", val)
	}
	for i, e := range c.Events {
		v.at("event %d (%s)", i, e.Kind)
		if e.Time.IsZero() {
			v.fail("Time", "is zero; every usage-log entry needs its time")
		}
		v.time("Time", e.Time)
		for _, f := range []struct{ n, s string }{{"Kind", string(e.Kind)}, {"Product", e.Product}, {"LeaseID", e.LeaseID},
			{"Session", e.Session}, {"User", e.User}, {"Detail", e.Detail}} {
			v.text(f.n, f.s)
		}
	}
	return v.err
}

type validator struct {
	recf string // the record being checked, formatted only for an error
	reca []any
	err  error
}

func (v *validator) at(format string, args ...any) { v.recf, v.reca = format, args }

func (v *validator) fail(field, why string) {
	if v.err == nil {
		v.err = fmt.Errorf("%w: %s, %s: %s", ErrInvalid, fmt.Sprintf(v.recf, v.reca...), field, why)
	}
}

func (v *validator) text(field, s string) {
	if !utf8.ValidString(s) {
		v.fail(field, "is not valid UTF-8; clean it (internal/safetext) before storing it")
	} else if strings.IndexByte(s, 0) >= 0 {
		v.fail(field, "holds a NUL byte; clean it (internal/safetext) before storing it")
	}
}

func (v *validator) key(field, s string) {
	if s == "" {
		v.fail(field, "is empty; every record needs its key")
	}
	v.text(field, s)
}

func (v *validator) keys(field string, ks []string) {
	for i, k := range ks {
		v.at("%s[%d]", field, i)
		v.text("key", k)
	}
}

func (v *validator) time(field string, t time.Time) {
	if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
		v.fail(field, fmt.Sprintf("%s is outside the years 1678 to 2262 the store keeps; check the clock that made it", t.UTC().Format(time.RFC3339)))
	}
}

func (v *validator) lease(l seats.Lease) {
	v.key("ID", l.ID)
	for _, f := range []struct{ n, s string }{{"Product", l.Product}, {"ClientSessionID", l.ClientSessionID}, {"AppName", l.AppName},
		{"UserName", l.UserName}, {"ComputerName", l.ComputerName}, {"Mode", string(l.Mode)}, {"Lost", l.Lost}} {
		v.text(f.n, f.s)
	}
	v.time("SessionStarted", l.SessionStarted)
	v.time("Granted", l.Granted)
	v.time("Expires", l.Expires)
}

// chainDomain separates the usage-log hash from every other hash.
const chainDomain = "airseal usage log v1\x00"

// ChainHash returns the hash of the usage-log entry e that follows the
// entry whose hash is prev (the zero hash for the first entry):
//
//	SHA-256("airseal usage log v1" 0x00 || prev || uint64be(Seq) ||
//	        int64be(Time as Unix nanoseconds) || field(Kind) ||
//	        field(Product) || field(LeaseID) || field(Session) ||
//	        field(User) || field(Detail))
//
// where field(s) is uint32be(len(s)) || s. docs/spec/seat-protocol-v1.md
// ("Storage") specifies it; a report verifier recomputes it.
func ChainHash(prev [32]byte, e LoggedEvent) [32]byte {
	h := sha256.New()
	h.Write([]byte(chainDomain))
	h.Write(prev[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.Seq))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(e.Time.UnixNano()))
	h.Write(b[:])
	for _, s := range []string{string(e.Kind), e.Product, e.LeaseID, e.Session, e.User, e.Detail} {
		binary.BigEndian.PutUint32(b[:4], uint32(len(s)))
		h.Write(b[:4])
		h.Write([]byte(s))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// renewRefused is the refusal of a Renewal: lost says why the lease was
// taken away, "" when it is not stored at all.
func renewRefused(id string, stored bool, lost string) error {
	if stored {
		return fmt.Errorf("%w: lease %s: %s", seats.ErrLost, id, lost)
	}
	return fmt.Errorf("%w: lease %s is not stored (released or expired, perhaps on another node)", seats.ErrUnknownLease, id)
}

// refusal reports whether err is a Grant's or Renewal's refusal, which
// fails its own Commit only.
func refusal(err error) bool {
	return errors.Is(err, seats.ErrNoSeat) || errors.Is(err, seats.ErrUnknownLease) || errors.Is(err, seats.ErrLost) ||
		errors.Is(err, ErrLeaseExists)
}

// leaseExists is the refusal of a Grant with New.
func leaseExists(id string) error {
	return fmt.Errorf("%w: lease %s (a checkout retried with the same session, or granted meanwhile by another node)", ErrLeaseExists, id)
}

// noSeat is the refusal of a Grant.
func noSeat(product string, inUse, capacity int) error {
	return &seats.NoSeatError{Product: product, InUse: inUse, Seats: capacity}
}

// utc returns t in UTC without a monotonic reading (zero stays zero), as
// every store returns times.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func utcLease(l seats.Lease) seats.Lease {
	l.SessionStarted = utc(l.SessionStarted)
	l.Granted = utc(l.Granted)
	l.Expires = utc(l.Expires)
	return l
}
