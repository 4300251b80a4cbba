package seatserver

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/usagereport"
)

// The report verifier recomputes the store's chain hash: they must agree.
func TestChainHashMatchesStore(t *testing.T) {
	prev := [32]byte{1, 2, 3}
	e := seatstore.LoggedEvent{Seq: 42, Event: seats.Event{Time: time.Unix(1700000000, 123456789), Kind: seats.EventGrant,
		Product: "acme", LeaseID: "L1", Session: "s", User: "ivanov", Detail: "детали"}}
	r := usagereport.Record{Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), Product: e.Product, LeaseID: e.LeaseID,
		Session: e.Session, User: e.User, Detail: e.Detail}
	if seatstore.ChainHash(prev, e) != usagereport.ChainHash(prev, &r) {
		t.Fatal("usagereport.ChainHash differs from seatstore.ChainHash")
	}
}

// A served day: checkouts, checkpoints while serving and at shutdown, a
// report the vendor verifies, and a database edit the report refuses.
func TestReportFromServer(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 2})
	e.install(arm, 201)
	day := e.clock.Now().Truncate(24 * time.Hour)
	ctx := context.Background()
	for i := range 3 {
		e.checkout(client, "acme-erp", sid(i), "pc1")
	}
	e.clock.Add(time.Hour)
	if _, made, err := e.srv.Checkpoint(ctx); err != nil || !made {
		t.Fatalf("checkpoint: made %v, err %v", made, err)
	}
	if _, made, err := e.srv.Checkpoint(ctx); err != nil || made {
		t.Fatalf("a second checkpoint with nothing new: made %v, err %v", made, err)
	}
	e.clock.Add(time.Hour)
	e.checkout(client, "acme-erp", sid(9), "pc2")
	e.stop() // signs the head at shutdown
	n := 0
	e.store.Events(ctx, time.Time{}, time.Time{}, func(le seatstore.LoggedEvent) error {
		if string(le.Kind) == usagereport.KindCheckpoint {
			n++
		}
		return nil
	})
	if n != 2 {
		t.Fatalf("%d checkpoints stored, want 2 (one made, one at shutdown)", n)
	}
	e.clock.Add(24 * time.Hour)
	var out bytes.Buffer
	res, err := WriteReport(ctx, e.store, &out, ReportOptions{From: day, To: day.Add(24 * time.Hour), Now: e.clock.Now(), Key: e.key, Licenses: []string{arm}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := usagereport.Verify(bytes.NewReader(out.Bytes()), "usage.report", usagereport.VerifyOptions{Keyring: e.v.ring(), Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Days) != 1 || got.Days[0].Peak != 2 || got.Days[0].Refusals != 2 || got.Checkpoints != 2 || got.End.Seq != res.LastSeq {
		t.Fatalf("verified %+v", got)
	}
	// The next report, of the next day, continues the log: it starts at
	// or before the first report's closing head (from the last head signed
	// before its period) and the vendor checks it against that head.
	e.clock.Add(time.Hour)
	var next bytes.Buffer
	res2, err := WriteReport(ctx, e.store, &next, ReportOptions{From: day.Add(24 * time.Hour), To: e.clock.Now(), Now: e.clock.Now(), Key: e.key, Licenses: []string{arm}})
	if err != nil {
		t.Fatal(err)
	}
	prev := got.EndHead()
	if res2.FirstSeq > res.LastSeq+1 || res2.LastSeq <= res.LastSeq {
		t.Fatalf("next report holds seq %d to %d, the first ended at %d", res2.FirstSeq, res2.LastSeq, res.LastSeq)
	}
	if _, err := usagereport.Verify(bytes.NewReader(next.Bytes()), "next.report", usagereport.VerifyOptions{Keyring: e.v.ring(), Previous: &prev}); err != nil {
		t.Fatal(err)
	}
}

// A store whose log was edited after the fact: WriteReport refuses to
// write a report from it.
func TestReportRefusesEditedLog(t *testing.T) {
	st := editedStore{Store: seatstore.NewMemory()}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := st.Commit(ctx, seatstore.Change{Events: []seats.Event{{Time: t0.Add(time.Duration(i) * time.Minute), Kind: seats.EventGrant, Product: "acme", LeaseID: "L"}}}); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{})
	_, err := WriteReport(ctx, st, &bytes.Buffer{}, ReportOptions{From: t0, To: t0.Add(time.Hour), Now: t0.Add(2 * time.Hour), Key: e.key, Licenses: []string{arm}})
	if !errors.Is(err, usagereport.ErrChain) {
		t.Fatalf("err = %v, want ErrChain", err)
	}
}

// editedStore changes record 2's user as it is read, as an edit of the
// database would.
type editedStore struct{ seatstore.Store }

func (s editedStore) Events(ctx context.Context, from, to time.Time, fn func(seatstore.LoggedEvent) error) error {
	return s.Store.Events(ctx, from, to, func(e seatstore.LoggedEvent) error {
		if e.Seq == 2 {
			e.User = "edited"
		}
		return fn(e)
	})
}
