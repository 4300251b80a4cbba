package seatstore

// The change journal's record payload: a compact binary encoding of the
// Changes a record holds (journal.go writes them, replay reads them). The
// file is the customer's, so the decoder trusts nothing: every count and
// length is checked against the bytes left before anything is allocated
// for it, and a decoded Change is validated again (validate) before it is
// applied.
//
// payload  = uvarint(number of changes) change*
// change   = licenses delLicenses leases delLeases tokens delTokens
//            devices delDevices settings events
// each part = uvarint(count) item*
// string   = uvarint(len) bytes
// time     = 0x00 (zero time) | 0x01 int64le(Unix nanoseconds)
// Grants and Renewals are never journaled (the store decides them: they
// are committed to the database directly).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/pkg/license"
)

// errJournalDecode is a record whose CRC holds but whose payload does not
// decode: written by no license-server.
var errJournalDecode = errors.New("record does not decode")

type jenc struct{ b []byte }

func (e *jenc) uint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *jenc) int(n int64)   { e.b = binary.AppendVarint(e.b, n) }
func (e *jenc) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *jenc) bytes(s []byte) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *jenc) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.b = binary.LittleEndian.AppendUint64(e.b, uint64(t.UnixNano()))
}
func (e *jenc) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// encodeChanges appends the payload of cs (validated, without Grants or
// Renewals) to b.
func encodeChanges(b []byte, cs []*Change) []byte {
	e := jenc{b: b}
	e.uint(uint64(len(cs)))
	for _, c := range cs {
		e.uint(uint64(len(c.PutLicenses)))
		for _, l := range c.PutLicenses {
			e.str(l.Serial)
			e.bytes(l.Raw)
			e.str(l.ITN)
			e.str(l.IEC)
			e.time(l.Installed)
		}
		e.strs(c.DeleteLicenses)
		e.uint(uint64(len(c.PutLeases)))
		for i := range c.PutLeases {
			l := &c.PutLeases[i]
			e.str(l.ID)
			e.str(l.Product)
			e.str(l.ClientSessionID)
			e.str(l.AppName)
			e.str(l.UserName)
			e.str(l.ComputerName)
			e.time(l.SessionStarted)
			e.str(string(l.Mode))
			e.time(l.Granted)
			e.time(l.Expires)
			e.str(l.Lost)
		}
		e.strs(c.DeleteLeases)
		e.uint(uint64(len(c.PutTokens)))
		for _, t := range c.PutTokens {
			e.str(t.Name)
			e.str(t.Role)
			e.b = append(e.b, t.SHA256[:]...)
			e.time(t.Created)
		}
		e.strs(c.DeleteTokens)
		e.uint(uint64(len(c.PutDevices)))
		for _, d := range c.PutDevices {
			e.str(d.Code)
			e.str(d.Name)
			e.str(d.App)
			e.str(d.IP)
			e.time(d.Registered)
			e.str(string(d.State))
			e.time(d.Decided)
			e.str(d.DecidedBy)
			e.str(d.KeyNo)
			e.uint(uint64(len(d.DemoLimits)))
			for _, f := range d.DemoLimits {
				e.str(f.Name)
				e.int(f.Value)
				if f.IsBool {
					e.b = append(e.b, 1)
				} else {
					e.b = append(e.b, 0)
				}
			}
		}
		e.strs(c.DeleteDevices)
		e.uint(uint64(len(c.Settings)))
		if len(c.Settings) > 0 {
			for _, k := range slices.Sorted(maps.Keys(c.Settings)) {
				e.str(k)
				e.str(c.Settings[k])
			}
		}
		e.uint(uint64(len(c.Events)))
		for i := range c.Events {
			ev := &c.Events[i]
			e.time(ev.Time)
			e.str(string(ev.Kind))
			e.str(ev.Product)
			e.str(ev.LeaseID)
			e.str(ev.Session)
			e.str(ev.User)
			e.str(ev.Detail)
		}
	}
	return e.b
}

type jdec struct {
	b   []byte
	err error
}

func (d *jdec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errJournalDecode, what)
	}
}

func (d *jdec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("bad number")
		return 0
	}
	d.b = d.b[k:]
	return n
}

// count reads a number of items each taking at least min bytes: never
// more than the bytes left could hold.
func (d *jdec) count(min int) int {
	n := d.uint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail("count beyond the record")
		return 0
	}
	return int(n)
}

func (d *jdec) raw(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("field beyond the record")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *jdec) str() string   { return string(d.raw(d.count(1))) }
func (d *jdec) bytes() []byte { return slices.Clone(d.raw(d.count(1))) }

func (d *jdec) byte() byte {
	b := d.raw(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *jdec) int() int64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail("bad number")
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *jdec) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		b := d.raw(8)
		if b == nil {
			return time.Time{}
		}
		return time.Unix(0, int64(binary.LittleEndian.Uint64(b))).UTC()
	default:
		d.fail("bad time")
		return time.Time{}
	}
}

func (d *jdec) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

// decodeChanges decodes a record's payload. Each change is validated as
// Commit validates it.
func decodeChanges(p []byte) ([]*Change, error) {
	d := jdec{b: p}
	n := d.count(10) // an empty change takes 10 bytes
	cs := make([]*Change, 0, n)
	for range n {
		c := &Change{}
		if k := d.count(5); k > 0 {
			c.PutLicenses = make([]LicenseRecord, k)
			for i := range c.PutLicenses {
				l := &c.PutLicenses[i]
				l.Serial, l.Raw, l.ITN, l.IEC, l.Installed = d.str(), d.bytes(), d.str(), d.str(), d.time()
			}
		}
		c.DeleteLicenses = d.strs()
		if k := d.count(11); k > 0 {
			c.PutLeases = make([]seats.Lease, k)
			for i := range c.PutLeases {
				l := &c.PutLeases[i]
				l.ID, l.Product, l.ClientSessionID, l.AppName, l.UserName, l.ComputerName = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
				l.SessionStarted, l.Mode, l.Granted, l.Expires, l.Lost = d.time(), seats.Mode(d.str()), d.time(), d.time(), d.str()
			}
		}
		c.DeleteLeases = d.strs()
		if k := d.count(35); k > 0 {
			c.PutTokens = make([]TokenRecord, k)
			for i := range c.PutTokens {
				t := &c.PutTokens[i]
				t.Name, t.Role = d.str(), d.str()
				copy(t.SHA256[:], d.raw(32))
				t.Created = d.time()
			}
		}
		c.DeleteTokens = d.strs()
		if k := d.count(10); k > 0 {
			c.PutDevices = make([]devices.Device, k)
			for i := range c.PutDevices {
				v := &c.PutDevices[i]
				v.Code, v.Name, v.App, v.IP, v.Registered = d.str(), d.str(), d.str(), d.str(), d.time()
				v.State, v.Decided, v.DecidedBy, v.KeyNo = devices.State(d.str()), d.time(), d.str(), d.str()
				if m := d.count(3); m > 0 {
					v.DemoLimits = make([]license.Feature, m)
					for j := range v.DemoLimits {
						f := &v.DemoLimits[j]
						f.Name, f.Value = d.str(), d.int()
						switch d.byte() {
						case 0:
						case 1:
							f.IsBool = true
						default:
							d.fail("bad flag")
						}
					}
				}
			}
		}
		c.DeleteDevices = d.strs()
		if k := d.count(2); k > 0 {
			c.Settings = make(map[string]string, k)
			for range k {
				key := d.str()
				c.Settings[key] = d.str()
			}
			if d.err == nil && len(c.Settings) != k {
				d.fail("a setting twice")
			}
		}
		if k := d.count(7); k > 0 {
			c.Events = make([]seats.Event, k)
			for i := range c.Events {
				e := &c.Events[i]
				e.Time, e.Kind = d.time(), seats.EventKind(d.str())
				e.Product, e.LeaseID, e.Session, e.User, e.Detail = d.str(), d.str(), d.str(), d.str(), d.str()
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		if err := validate(c); err != nil {
			return nil, fmt.Errorf("%w: %v", errJournalDecode, err)
		}
		cs = append(cs, c)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("bytes after the last change")
	}
	if d.err != nil {
		return nil, d.err
	}
	return cs, nil
}
