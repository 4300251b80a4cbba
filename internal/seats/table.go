package seats

import (
	"hash/maphash"
	"time"
)

// The live leases are kept so that the garbage collector has little to
// mark however many there are (issue 10: 100,000 live leases, renewal p99
// no worse than with 100). Every collection marks what the heap points
// to; a lease kept as a Lease, in maps keyed by strings and in a heap of
// (time, ID) entries, cost about twenty pointers, two million for
// 100,000 leases, and each collection marked them all, part of that work
// landing on request goroutines as assists. Here a live lease is a
// record without pointers (table.recs) and one string, its text (the
// strings of the lease one after the other, table.texts). The indexes map
// 64-bit hashes to record numbers: the collector scans neither them nor
// the records. The expiry order is by the second: a bucket of record
// numbers for each second in which leases expire, and a heap of those
// seconds. A renewal moves its record from one bucket to another
// (constant time, however many leases there are; nothing is left behind
// however often a lease is renewed); a sweep visits the buckets of the
// seconds passed, so its work is proportional to what expires.

// rec is a live lease but its text.
type rec struct {
	// ends are where the fields but the last end in the text.
	ends                      [6]uint32
	started, granted, expires stamp
	// stored is the expiry the store was last given for the lease (its
	// grant, a restore, or a put queued since: Core.Stored): a renewal
	// need not rewrite the stored lease every time (Core.StoreLag).
	stored stamp
	// at is the record's place in its second's bucket of table.expiry.
	at int32
	// perComputer: the lease's seat is its computer's (shared with the
	// other leases of that ComputerName), not its own.
	perComputer bool
	live        bool
}

// field returns field k of record i's text (0: ID, ... 6: Mode).
func (t *table) field(i int32, k int) string {
	text, r := t.texts[i], &t.recs[i]
	from := uint32(0)
	if k > 0 {
		from = r.ends[k-1]
	}
	to := uint32(len(text))
	if k < len(r.ends) {
		to = r.ends[k]
	}
	return text[from:to]
}

func (t *table) id(i int32) string       { return t.field(i, 0) }
func (t *table) product(i int32) string  { return t.field(i, 1) }
func (t *table) session(i int32) string  { return t.field(i, 2) }
func (t *table) computer(i int32) string { return t.field(i, 5) }

// stamp is a time.Time without a pointer: seconds and nanoseconds since
// 1970 and the zone (UTC, Local, or a fixed offset). The monotonic clock
// reading, if any, is dropped.
type stamp struct {
	sec  int64
	nsec int32
	// off is the zone's offset in seconds when zone is zoneFixed.
	off  int32
	zone uint8
}

const (
	zoneUTC = iota
	zoneLocal
	zoneFixed
)

func toStamp(t time.Time) stamp {
	s := stamp{sec: t.Unix(), nsec: int32(t.Nanosecond())}
	switch loc := t.Location(); loc {
	case time.UTC:
		s.zone = zoneUTC
	case time.Local:
		s.zone = zoneLocal
	default:
		_, off := t.Zone()
		s.zone, s.off = zoneFixed, int32(off)
	}
	return s
}

func (s stamp) time() time.Time {
	t := time.Unix(s.sec, int64(s.nsec))
	switch s.zone {
	case zoneUTC:
		return t.UTC()
	case zoneLocal:
		return t
	}
	return t.In(time.FixedZone("", int(s.off)))
}

// before orders stamps by the instant.
func (s stamp) before(o stamp) bool {
	return s.sec < o.sec || s.sec == o.sec && s.nsec < o.nsec
}

// sub returns the time from o to s (saturated, as time.Time.Sub).
func (s stamp) sub(o stamp) time.Duration {
	return time.Unix(s.sec, int64(s.nsec)).Sub(time.Unix(o.sec, int64(o.nsec)))
}

// compare is -1, 0 or +1 as s is before, at or after o.
func (s stamp) compare(o stamp) int {
	switch {
	case s.before(o):
		return -1
	case o.before(s):
		return 1
	}
	return 0
}

// table holds the live leases: records, two indexes (by ID, by product
// and ClientSessionID) and the expiry order.
type table struct {
	recs []rec
	// texts are the records' strings, one after the other: ID, Product,
	// ClientSessionID, AppName, UserName, ComputerName, Mode.
	texts  []string
	free   []int32 // record numbers to reuse
	n      int     // live records
	seed   maphash.Seed
	byID   index
	bySess index
	// expiry holds, for each second (Unix time) in which leases expire,
	// their record numbers; rec.at is each one's place in its bucket, so a
	// renewal moves its record (no stale entries pile up, however often a
	// lease is renewed). A bucket emptied stays until its second is swept.
	expiry map[int64][]int32
	// seconds is a min-heap of the seconds expiry has buckets for.
	seconds []int64
	// hashMask, when not zero, keeps only these bits of every hash: tests
	// set it to make keys collide.
	hashMask uint64
}

func newTable() table {
	return table{seed: maphash.MakeSeed(), byID: newIndex(), bySess: newIndex(), expiry: map[int64][]int32{}}
}

// index maps the hash of a key to a record number; the rare key whose
// hash another key already holds goes to over, by the key itself. Keys
// are checked against the record, so a collision costs time, never a
// wrong answer. The seed is random: a client cannot choose IDs that
// collide.
type index struct {
	m    map[uint64]int32
	over map[string]int32
}

func newIndex() index { return index{m: map[uint64]int32{}} }

func (t *table) idHash(id string) uint64 { return t.mask(maphash.String(t.seed, id)) }

func (t *table) mask(h uint64) uint64 {
	if t.hashMask != 0 {
		return h & t.hashMask
	}
	return h
}

func (t *table) sessHash(product, session string) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	_, _ = h.WriteString(product)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(session)
	return t.mask(h.Sum64())
}

// sessKey is the key of over for a session: a session ID holds no NUL.
func sessKey(product, session string) string { return product + "\x00" + session }

// byIDGet returns the record of the live lease id.
func (t *table) byIDGet(id string) (int32, bool) {
	if i, ok := t.byID.m[t.idHash(id)]; ok && t.id(i) == id {
		return i, true
	}
	i, ok := t.byID.over[id]
	return i, ok
}

func (t *table) bySessGet(product, session string) (int32, bool) {
	if i, ok := t.bySess.m[t.sessHash(product, session)]; ok {
		if t.product(i) == product && t.session(i) == session {
			return i, true
		}
	}
	if t.bySess.over == nil {
		return 0, false
	}
	i, ok := t.bySess.over[sessKey(product, session)]
	return i, ok
}

// set points key (hash h) at record i; same tells whether record j,
// already in the index under h, has the same key.
func (x *index) set(h uint64, key func() string, i int32, same func(j int32) bool) {
	if j, ok := x.m[h]; !ok || same(j) {
		x.m[h] = i
		return
	}
	if x.over == nil {
		x.over = map[string]int32{}
	}
	x.over[key()] = i
}

// del removes key (hash h) when it points at record i.
func (x *index) del(h uint64, key func() string, i int32) {
	if j, ok := x.m[h]; ok && j == i {
		delete(x.m, h)
		return
	}
	if x.over != nil {
		k := key()
		if j, ok := x.over[k]; ok && j == i {
			delete(x.over, k)
		}
	}
}

// insert stores l as a live record and returns its number.
func (t *table) insert(l *Lease, perComputer bool) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.recs = append(t.recs, rec{})
		t.texts = append(t.texts, "")
		i = int32(len(t.recs) - 1)
	}
	fields := [...]string{l.ID, l.Product, l.ClientSessionID, l.AppName, l.UserName, l.ComputerName, string(l.Mode)}
	size := 0
	for _, f := range fields {
		size += len(f)
	}
	buf := make([]byte, 0, size)
	r := &t.recs[i]
	e := toStamp(l.Expires)
	*r = rec{started: toStamp(l.SessionStarted), granted: toStamp(l.Granted), expires: e, stored: e, perComputer: perComputer, live: true}
	for k, f := range fields {
		buf = append(buf, f...)
		if k < len(r.ends) {
			r.ends[k] = uint32(len(buf))
		}
	}
	t.texts[i] = string(buf)
	t.n++
	id, product, session := t.id(i), t.product(i), t.session(i)
	t.byID.set(t.idHash(id), func() string { return id }, i, func(j int32) bool { return t.id(j) == id })
	t.bySess.set(t.sessHash(product, session), func() string { return sessKey(product, session) }, i,
		func(j int32) bool { return t.product(j) == product && t.session(j) == session })
	t.enqueue(i)
	return i
}

// remove frees record i.
func (t *table) remove(i int32) {
	id, product, session := t.id(i), t.product(i), t.session(i)
	t.byID.del(t.idHash(id), func() string { return id }, i)
	t.bySess.del(t.sessHash(product, session), func() string { return sessKey(product, session) }, i)
	t.dequeue(i)
	t.recs[i], t.texts[i] = rec{}, ""
	t.free = append(t.free, i)
	t.n--
}

// lease returns record i as a Lease (its strings share the record's text).
func (t *table) lease(i int32) Lease {
	r := &t.recs[i]
	return Lease{ID: t.id(i), Mode: Mode(t.field(i, 6)), Granted: r.granted.time(), Expires: r.expires.time(),
		Request: Request{Product: t.product(i), ClientSessionID: t.session(i), AppName: t.field(i, 3), UserName: t.field(i, 4),
			ComputerName: t.computer(i), SessionStarted: r.started.time()}}
}

// setExpires moves record i's expiry to e.
func (t *table) setExpires(i int32, e time.Time) {
	t.dequeue(i)
	t.recs[i].expires = toStamp(e)
	t.enqueue(i)
}

// enqueue puts record i in the bucket of its expiry's second.
func (t *table) enqueue(i int32) {
	r := &t.recs[i]
	s := r.expires.sec
	b, ok := t.expiry[s]
	if !ok {
		t.pushSecond(s)
	}
	r.at = int32(len(b))
	t.expiry[s] = append(b, i)
}

// dequeue takes record i out of its bucket.
func (t *table) dequeue(i int32) {
	r := &t.recs[i]
	s := r.expires.sec
	b := t.expiry[s]
	last := int32(len(b) - 1)
	if r.at != last {
		b[r.at] = b[last]
		t.recs[b[r.at]].at = r.at
	}
	t.expiry[s] = b[:last]
}

// expiring calls drop for every record that expires at or before now
// (drop must remove it), the soonest second first.
func (t *table) expiring(now stamp, drop func(i int32)) {
	for len(t.seconds) > 0 && t.seconds[0] <= now.sec {
		s := t.seconds[0]
		for k := 0; k < len(t.expiry[s]); {
			i := t.expiry[s][k]
			if now.before(t.recs[i].expires) {
				k++
				continue
			}
			drop(i) // moves the bucket's last record to k
		}
		if len(t.expiry[s]) > 0 { // later in the second now is in
			return
		}
		delete(t.expiry, s)
		t.popSecond()
	}
}

func (t *table) pushSecond(s int64) {
	h := append(t.seconds, s)
	for j := len(h) - 1; j > 0; {
		p := (j - 1) / 2
		if h[p] <= h[j] {
			break
		}
		h[p], h[j] = h[j], h[p]
		j = p
	}
	t.seconds = h
}

func (t *table) popSecond() {
	h := t.seconds
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if j+1 < n && h[j+1] < h[j] {
			j++
		}
		if h[i] <= h[j] {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	t.seconds = h
}
