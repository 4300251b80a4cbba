package usagereport

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	vendor  *keys.PrivateKey
	ring    *keys.Keyring
	resp    ed25519.PrivateKey
	lic     []byte
	records []Record
}

func newFixture(t testing.TB, seed byte) *fixture {
	t.Helper()
	vendor, err := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{vendor: vendor, ring: keys.NewKeyring(vendor.Public()), resp: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))}
	f.lic = serverLicense(t, vendor, f.resp.Public().(ed25519.PublicKey), fmt.Sprintf("SRV%d", seed))
	return f
}

func serverLicense(t testing.TB, vendor *keys.PrivateKey, pub ed25519.PublicKey, serial string) []byte {
	t.Helper()
	s := &license.ServerLicense{License: license.License{Serial: serial, Product: "acme-erp", Kind: license.KindMain,
		Customer: license.Customer{Name: "Acme"}, IssuedAt: t0.AddDate(0, -1, 0), NotBefore: t0.AddDate(0, -1, 0), Seats: 10},
		SeatUnit: license.PerSession, Nodes: []license.Node{{Name: "node1", ResponseKey: pub}}}
	if err := s.Sign(vendor); err != nil {
		t.Fatal(err)
	}
	b, err := s.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// add appends a record to the fixture's log, chained.
func (f *fixture) add(at time.Time, kind, product, lease, detail string) *Record {
	var prev [32]byte
	if n := len(f.records); n > 0 {
		prev = f.records[n-1].Hash
	}
	r := Record{Seq: int64(len(f.records) + 1), Time: at, Kind: kind, Product: product, LeaseID: lease,
		Session: "sess-" + lease, User: "user-" + lease, Detail: detail}
	r.Hash = ChainHash(prev, &r)
	f.records = append(f.records, r)
	return &f.records[len(f.records)-1]
}

// checkpoint stores a signed head of the last record, as the server does.
func (f *fixture) checkpoint(at time.Time) Head {
	last := f.records[len(f.records)-1]
	h := SignHead(f.resp, last.Seq, last.Hash, at)
	f.add(at, KindCheckpoint, "", "", h.Detail())
	return h
}

// report writes a report of [from, to) made at now, anchored at anchor.
func (f *fixture) report(t testing.TB, from, to, now time.Time, anchor Head) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, f.resp, Header{From: from, To: to, Created: now, Licenses: [][]byte{f.lic}, Anchor: anchor})
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.records {
		if f.records[i].Seq <= anchor.Seq {
			continue
		}
		if err := w.Add(&f.records[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := w.Close(now); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// day1 is a small known day: two leases overlapping, one refusal.
func day1(t testing.TB) (*fixture, []byte) {
	f := newFixture(t, 7)
	f.add(t0.Add(1*time.Hour), "grant", "acme-erp", "L1", "")
	f.add(t0.Add(2*time.Hour), "grant", "acme-erp", "L2", "")
	f.add(t0.Add(2*time.Hour+time.Minute), "refuse", "acme-erp", "L3", "2 of 2 seats in use")
	f.add(t0.Add(2*time.Hour+2*time.Minute), "refuse", "acme-erp", "L4", "no valid license: demo mode")
	f.add(t0.Add(3*time.Hour), "renew", "acme-erp", "L1", "")
	f.add(t0.Add(4*time.Hour), "release", "acme-erp", "L1", "")
	f.checkpoint(t0.Add(5 * time.Hour))
	f.add(t0.Add(6*time.Hour), "expire", "acme-erp", "L2", "not renewed")
	return f, f.report(t, t0, t0.Add(24*time.Hour), t0.Add(25*time.Hour), Head{})
}

func TestKnownDay(t *testing.T) {
	f, rep := day1(t)
	res, err := Verify(bytes.NewReader(rep), "usage.report", VerifyOptions{Keyring: f.ring})
	if err != nil {
		t.Fatal(err)
	}
	want := []Day{{Day: "2026-11-01", Product: "acme-erp", Peak: 2, SeatSeconds: 3*3600 + 4*3600, Refusals: 1, Demo: 1, Users: 4, Sessions: 4}}
	if fmt.Sprint(res.Days) != fmt.Sprint(want) {
		t.Fatalf("days = %+v\nwant %+v", res.Days, want)
	}
	if res.Records != 8 || res.Checkpoints != 1 || res.End.Seq != 8 || res.Licenses[0].Serial != "SRV7" {
		t.Fatalf("result = %+v", res)
	}
}

func lines(rep []byte) [][]byte {
	return bytes.SplitAfter(bytes.TrimSuffix(rep, []byte("\n")), []byte("\n"))
}

func join(ls [][]byte) []byte {
	var b []byte
	for _, l := range ls {
		b = append(b, l...)
		if !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
	}
	return b
}

// editLine decodes line i, lets fn change it and encodes it again.
func editLine(t *testing.T, rep []byte, i int, fn func(*line)) []byte {
	ls := lines(rep)
	l, err := parseLine(bytes.TrimSpace(ls[i]), int64(i+1))
	if err != nil {
		t.Fatal(err)
	}
	fn(l)
	b, err := marshalLine(l)
	if err != nil {
		t.Fatal(err)
	}
	ls[i] = b
	return join(ls)
}

// resign recomputes the report signature, as a customer who has the
// response key could: only the chain and the heads can catch him then.
func resign(t *testing.T, f *fixture, rep []byte) []byte {
	ls := lines(rep)
	var body []byte
	for _, l := range ls[:len(ls)-1] {
		body = append(body, l...)
	}
	return editLine(t, join(ls), len(ls)-1, func(l *line) {
		d := sha256Sum(body)
		l.Signature = b64(ed25519.Sign(f.resp, append([]byte(reportDomain), d[:]...)))
	})
}

func TestTamper(t *testing.T) {
	f, rep := day1(t)
	other := newFixture(t, 9)
	// records are lines 1..8 (line 0 is the header).
	cases := []struct {
		name string
		edit func(t *testing.T) []byte
		want error
	}{
		{"record changed", func(t *testing.T) []byte {
			return editLine(t, rep, 2, func(l *line) { l.Product = "other" })
		}, ErrChain},
		{"record changed, hashes recomputed, re-signed", func(t *testing.T) []byte {
			g := *f
			g.records = append([]Record(nil), f.records...)
			g.records[1].User = "nobody"
			for i := 1; i < len(g.records); i++ {
				g.records[i].Hash = ChainHash(g.records[i-1].Hash, &g.records[i])
			}
			return g.report(t, t0, t0.Add(24*time.Hour), t0.Add(25*time.Hour), Head{})
		}, ErrChain}, // the checkpoint stored at seq 7 signed the original chain
		{"record deleted", func(t *testing.T) []byte {
			ls := lines(rep)
			return join(append(ls[:3:3], ls[4:]...))
		}, ErrChain},
		{"records reordered", func(t *testing.T) []byte {
			ls := lines(rep)
			ls[3], ls[4] = ls[4], ls[3]
			return join(ls)
		}, ErrChain},
		{"record inserted", func(t *testing.T) []byte {
			ls := lines(rep)
			return join(append(ls[:3:3], append([][]byte{ls[2]}, ls[3:]...)...))
		}, ErrChain},
		{"last records removed, head kept", func(t *testing.T) []byte {
			ls := lines(rep)
			return resign(t, f, join(append(ls[:8:8], ls[9:]...)))
		}, ErrChain},
		{"closing head swapped for the stored checkpoint", func(t *testing.T) []byte {
			cp, err := ParseDetail(f.records[6].Detail)
			if err != nil {
				t.Fatal(err)
			}
			ls := lines(rep)
			trimmed := join(append(ls[:7:7], ls[9:]...)) // records 1..6, summary, end
			trimmed = editLine(t, trimmed, 7, func(l *line) { l.Days = nil })
			return resign(t, f, editLine(t, trimmed, 8, func(l *line) { l.Head = toJSON(cp) }))
		}, ErrRangeCut},
		{"closing head signed by another key", func(t *testing.T) []byte {
			last := f.records[len(f.records)-1]
			h := SignHead(other.resp, last.Seq, last.Hash, t0.Add(25*time.Hour))
			return editLine(t, rep, len(lines(rep))-1, func(l *line) { l.Head = toJSON(h) })
		}, ErrOtherServer},
		{"closing head forged", func(t *testing.T) []byte {
			return editLine(t, rep, len(lines(rep))-1, func(l *line) { l.Head.TimeNS += int64(time.Hour) })
		}, ErrChain},
		{"summary edited", func(t *testing.T) []byte {
			return editLine(t, rep, len(lines(rep))-2, func(l *line) { l.Days[0].Peak = 1 })
		}, ErrEdited},
		{"summary edited and re-signed", func(t *testing.T) []byte {
			return resign(t, f, editLine(t, rep, len(lines(rep))-2, func(l *line) { l.Days[0].SeatSeconds -= 3600 }))
		}, ErrEdited},
		{"header period edited", func(t *testing.T) []byte {
			return editLine(t, rep, 0, func(l *line) { l.To = t0.Add(12 * time.Hour).Format(time.RFC3339Nano) })
		}, ErrEdited},
		{"license of another server", func(t *testing.T) []byte {
			return editLine(t, rep, 0, func(l *line) { l.Licenses = []string{string(other.lic)} })
		}, ErrOtherServer},
		{"license not from the vendor", func(t *testing.T) []byte {
			k, _ := keys.NewPrivateKey(bytes.Repeat([]byte{2}, 32))
			lic := serverLicense(t, k, f.resp.Public().(ed25519.PublicKey), "FAKE")
			return editLine(t, rep, 0, func(l *line) { l.Licenses = []string{string(lic)} })
		}, ErrLicense},
		{"report of another server", func(t *testing.T) []byte {
			o := newFixture(t, 9)
			o.add(t0.Add(time.Hour), "grant", "acme-erp", "X", "")
			return o.report(t, t0, t0.Add(24*time.Hour), t0.Add(25*time.Hour), Head{})
		}, ErrOtherServer}, // with --serial SRV7
		{"untouched (control)", func(t *testing.T) []byte {
			return rep
		}, nil},
		{"cut short", func(t *testing.T) []byte {
			return rep[:len(rep)-10]
		}, ErrMalformed},
		{"line appended", func(t *testing.T) []byte {
			ls := lines(rep)
			return join(append(ls, ls[1]))
		}, ErrEdited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.edit(t)
			opts := VerifyOptions{Keyring: f.ring}
			if c.name == "report of another server" {
				opts.Serial = "SRV7"
			}
			_, err := Verify(bytes.NewReader(data), "usage.report", opts)
			if c.want == nil {
				if err != nil {
					t.Fatalf("untouched report refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestRangeCut(t *testing.T) {
	f := newFixture(t, 7)
	f.add(t0.Add(time.Hour), "grant", "acme-erp", "L1", "")
	f.checkpoint(t0.Add(2 * time.Hour))
	f.add(t0.Add(3*time.Hour), "grant", "acme-erp", "L2", "")
	cp4 := f.checkpoint(t0.Add(4 * time.Hour))
	f.add(t0.Add(5*time.Hour), "release", "acme-erp", "L1", "")
	// Records start after a head signed after --from: the start is cut.
	var out bytes.Buffer
	w, err := NewWriter(&out, f.resp, Header{From: t0.Add(5 * time.Hour), To: t0.Add(6 * time.Hour), Created: t0.Add(7 * time.Hour), Licenses: [][]byte{f.lic}, Anchor: cp4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.records[cp4.Seq:] {
		if err := w.Add(&f.records[int(cp4.Seq)+i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := w.Close(t0.Add(7 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(out.Bytes()), "r", VerifyOptions{Keyring: f.ring}); err != nil {
		t.Fatalf("honest anchored report: %v", err)
	}
	cut := editLine(t, out.Bytes(), 0, func(l *line) { l.From = t0.Add(3 * time.Hour).Format(time.RFC3339Nano) })
	if _, err := Verify(bytes.NewReader(resign(t, f, cut)), "r", VerifyOptions{Keyring: f.ring}); !errors.Is(err, ErrRangeCut) {
		t.Fatalf("start cut: err = %v", err)
	}
	// A closing head signed before --to: the end is cut.
	late := editLine(t, out.Bytes(), 0, func(l *line) { l.To = t0.Add(8 * time.Hour).Format(time.RFC3339Nano) })
	if _, err := Verify(bytes.NewReader(resign(t, f, late)), "r", VerifyOptions{Keyring: f.ring}); !errors.Is(err, ErrRangeCut) {
		t.Fatalf("end cut: err = %v", err)
	}
	// The writer refuses a period that has not ended.
	w, _ = NewWriter(&bytes.Buffer{}, f.resp, Header{From: t0, To: t0.Add(10 * time.Hour), Licenses: [][]byte{f.lic}})
	if _, _, err := w.Close(t0.Add(9 * time.Hour)); err == nil {
		t.Fatal("a report of a period not yet over was written")
	}
}

func TestPrevious(t *testing.T) {
	f := newFixture(t, 7)
	f.add(t0.Add(time.Hour), "grant", "acme-erp", "L1", "")
	r1 := f.report(t, t0, t0.Add(2*time.Hour), t0.Add(2*time.Hour), Head{})
	res1, err := Verify(bytes.NewReader(r1), "r1", VerifyOptions{Keyring: f.ring})
	if err != nil {
		t.Fatal(err)
	}
	prev := res1.EndHead()
	cp := f.checkpoint(t0.Add(2 * time.Hour))
	f.add(t0.Add(3*time.Hour), "release", "acme-erp", "L1", "")
	r2 := f.report(t, t0.Add(2*time.Hour), t0.Add(4*time.Hour), t0.Add(4*time.Hour), cp)
	if _, err := Verify(bytes.NewReader(r2), "r2", VerifyOptions{Keyring: f.ring, Previous: &prev}); err != nil {
		t.Fatalf("continuing report: %v", err)
	}
	// A rewritten log, re-signed with the (customer-held) response key,
	// does not continue the reported chain.
	g := newFixture(t, 7)
	g.add(t0.Add(time.Hour), "grant", "acme-erp", "L9", "")
	cpg := g.checkpoint(t0.Add(2 * time.Hour))
	g.add(t0.Add(3*time.Hour), "release", "acme-erp", "L9", "")
	r3 := g.report(t, t0.Add(2*time.Hour), t0.Add(4*time.Hour), t0.Add(4*time.Hour), cpg)
	if _, err := Verify(bytes.NewReader(r3), "r3", VerifyOptions{Keyring: f.ring, Previous: &prev}); !errors.Is(err, ErrChain) {
		t.Fatalf("rewritten log: err = %v", err)
	}
}

// TestMonth simulates a month of usage: sessions come and go, refusals
// when all seats are taken, checkpoints every ten minutes; the report
// verifies and its seat-seconds equal the leases' durations summed
// independently.
func TestMonth(t *testing.T) {
	f := newFixture(t, 7)
	rng := rand.New(rand.NewPCG(1, 2))
	type lease struct{ start, end time.Time }
	live := map[string]time.Time{}
	var done []lease
	now := t0
	next := 0
	lastCP := now
	for now.Before(t0.AddDate(0, 1, 0)) {
		now = now.Add(time.Duration(rng.IntN(300)+1) * time.Second)
		switch {
		case rng.IntN(3) == 0 && len(live) < 10:
			id := fmt.Sprintf("L%06d", next)
			next++
			live[id] = now
			f.add(now, "grant", "acme-erp", id, "")
		case rng.IntN(3) == 0 && len(live) >= 10:
			f.add(now, "refuse", "acme-erp", "R", "10 of 10 seats in use")
		case len(live) > 0:
			for id, s := range live {
				if rng.IntN(2) == 0 {
					f.add(now, "renew", "acme-erp", id, "")
				} else {
					f.add(now, "release", "acme-erp", id, "")
					done = append(done, lease{s, now})
					delete(live, id)
				}
				break
			}
		}
		if now.Sub(lastCP) >= 10*time.Minute {
			f.checkpoint(now)
			lastCP = now
		}
	}
	end := t0.AddDate(0, 1, 0)
	for _, s := range live {
		done = append(done, lease{s, end})
	}
	var want int64
	for _, l := range done {
		e := l.end
		if e.After(end) {
			e = end
		}
		want += int64(e.Sub(l.start) / time.Second)
	}
	rep := f.report(t, t0, end, end.Add(time.Hour), Head{})
	res, err := Verify(bytes.NewReader(rep), "month.report", VerifyOptions{Keyring: f.ring, Serial: "SRV7"})
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	peak := 0
	for _, d := range res.Days {
		got += d.SeatSeconds
		peak = max(peak, d.Peak)
	}
	if len(res.Days) != 30 || got != want || peak != 10 || res.Records != int64(len(f.records)) {
		t.Fatalf("days %d, seat-seconds %d (want %d), peak %d, records %d of %d", len(res.Days), got, want, peak, res.Records, len(f.records))
	}
	// The month's report verifies as a JSON-lines file a tool can read.
	for i, l := range lines(rep) {
		if !json.Valid(l) {
			t.Fatalf("line %d is not JSON", i+1)
		}
	}
	if !strings.Contains(string(lines(rep)[0]), Format) {
		t.Fatal("no format in the header")
	}
}
