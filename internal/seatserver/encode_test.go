package seatserver

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/seat"
)

// checkAppendSession fails when appendSession's bytes differ from
// encoding/json's for s (or it declines what encoding/json encodes).
func checkAppendSession(t *testing.T, s seat.Session) {
	t.Helper()
	want, werr := json.Marshal(s)
	got, ok := appendSession(nil, &s)
	switch {
	case werr != nil && ok:
		t.Fatalf("encoding/json refuses %+v (%v), appendSession encoded %s", s, werr, got)
	case werr == nil && !ok:
		// Declining is allowed (the caller falls back) only for times
		// outside what jsonTimeOK takes.
		for _, tm := range []time.Time{s.Granted, s.Expires, s.ExpireTime} {
			if !jsonTimeOK(tm) {
				return
			}
		}
		if s.SessionStarted != nil && !jsonTimeOK(*s.SessionStarted) {
			return
		}
		t.Fatalf("appendSession declined %+v", s)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("appendSession:\n%s\nencoding/json:\n%s", got, want)
	}
}

// TestAppendSession compares the hand-written session encoder with
// encoding/json on sessions as the server makes them and on hostile ones.
func TestAppendSession(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	started := now.Add(-time.Hour)
	base := seat.Session{ID: "L-0123456789ABCDEFGHIJKLMN", ClientSessionID: "session-0000000001", Product: "acme-erp", KeyID: "acme-erp",
		Mode: "licensed", UsedLicence: "T000000000000001", AppName: "erp", UserName: "ivanov", ComputerName: "ws-01",
		SessionStarted: &started, Granted: now, Expires: now.Add(5 * time.Minute), ExpireTime: now.Add(5 * time.Minute),
		RenewEvery: 60, Features: map[string]int64{"lines_per_document": 3, "api": 1, "b": -7}}
	checkAppendSession(t, base)
	s := base
	s.SessionStarted, s.Features, s.UsedLicence, s.Expired = nil, nil, "", true
	checkAppendSession(t, s)
	s.Features = map[string]int64{}
	checkAppendSession(t, s)
	for _, v := range []string{"", `"quoted"`, `back\slash`, "<script>&amp;", "Иванов", "tab\there", "nl\n\r\b\f\x00\x1f\x7f",
		"\u2028\u2029", "bad \xff utf-8", "emoji 😀"} {
		s := base
		s.UserName, s.ComputerName, s.AppName = v, v, v
		s.Features = map[string]int64{v: 1, "z": 2}
		checkAppendSession(t, s)
	}
	for _, tm := range []time.Time{
		now.Add(123456789 * time.Nanosecond), now.In(time.FixedZone("MSK", 3*3600)), now.In(time.FixedZone("odd", 3*3600+30)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), {},
		now.In(time.FixedZone("far", 25*3600)),
	} {
		s := base
		s.Granted = tm
		checkAppendSession(t, s)
		s = base
		s.SessionStarted = &tm
		checkAppendSession(t, s)
	}
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		s := base
		s.UserName = randomText(rnd)
		s.ComputerName = randomText(rnd)
		s.Features = map[string]int64{}
		for j := rnd.Intn(12); j > 0; j-- {
			s.Features[randomText(rnd)] = rnd.Int63() - rnd.Int63()
		}
		s.RenewEvery = rnd.Int() - rnd.Int()
		s.Granted = time.Unix(rnd.Int63n(1<<35), rnd.Int63n(1e9)).UTC()
		checkAppendSession(t, s)
	}
}

func randomText(rnd *rand.Rand) string {
	const alphabet = "abcXYZ019 -_.\"\\<>&\t\n\x00\x7fÿИ😀\u2028"
	b := make([]byte, rnd.Intn(12))
	for i := range b {
		b[i] = alphabet[rnd.Intn(len(alphabet))]
	}
	return string(b)
}

// FuzzAppendSession: for any text in the client-given fields the
// hand-written encoder writes what encoding/json writes.
func FuzzAppendSession(f *testing.F) {
	f.Add("ivanov", "ws-01", "lines", int64(3), int64(1764579600))
	f.Add("<&>", "\xff", "\u2028", int64(-1), int64(-62135596800))
	f.Fuzz(func(t *testing.T, user, computer, feature string, value, unix int64) {
		s := seat.Session{ID: "L-1", UserName: user, ComputerName: computer, Features: map[string]int64{feature: value},
			Granted: time.Unix(unix, 0).UTC()}
		checkAppendSession(t, s)
	})
}

func benchSession() seat.Session {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return seat.Session{ID: "L-0123456789ABCDEFGHIJKLMN", ClientSessionID: "session-0000000001", Product: "acme-erp", KeyID: "acme-erp",
		Mode: "licensed", UsedLicence: "T000000000000001", AppName: "erp", UserName: "ivanov", ComputerName: "ws-01",
		Granted: now, Expires: now.Add(5 * time.Minute), ExpireTime: now.Add(5 * time.Minute), RenewEvery: 60, Features: map[string]int64{}}
}

// BenchmarkSessionEncode compares appendSession with json.Marshal:
//
//	go test -run '^$' -bench BenchmarkSessionEncode -benchmem ./internal/seatserver
func BenchmarkSessionEncode(b *testing.B) {
	s := benchSession()
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := appendSession(make([]byte, 0, 640), &s); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestContentLength: every answer has a Content-Length equal to its body
// and is not chunked: the small ones (a checkout, a renewal) get it from
// net/http, the large ones (a list of sessions) from writeBody.
func TestContentLength(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 100})
	e.install(arm, 201)
	check := func(what string, r *resp) {
		t.Helper()
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(r.body)) {
			t.Errorf("%s: Content-Length %q for a body of %d bytes", what, got, len(r.body))
		}
	}
	var last *resp
	for i := range 30 {
		last = e.checkout(client, "acme-erp", sid(i), "ws-01")
		if last.status != 201 {
			t.Fatalf("checkout: %d %s", last.status, last.body)
		}
	}
	check("checkout", last)
	var sess seat.Session
	last.decode(t, &sess)
	check("renew", e.do("POST", seat.RenewPath(sess.ID), client, nil))
	list := e.do("GET", seat.PathSessions, admin, nil)
	if len(list.body) <= smallBody {
		t.Fatalf("the session list is %d bytes; the test wants one over %d", len(list.body), smallBody)
	}
	check("list", list)
}
