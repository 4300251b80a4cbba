package seatserver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/seat"
	"github.com/airseal/airseal/pkg/usagereport"
)

// ReportOptions are what WriteReport needs.
type ReportOptions struct {
	// From and To bound the period (To excluded, not after Now).
	From, To time.Time
	// Now is when the report is made (the closing head's time).
	Now time.Time
	// Key is the server's response key.
	Key ed25519.PrivateKey
	// Licenses are the installed server licenses (Server.ServerLicences).
	Licenses []string
}

// ReportResult says what WriteReport wrote.
type ReportResult struct {
	From     time.Time         `json:"from"`
	To       time.Time         `json:"to"`
	FirstSeq int64             `json:"first_seq"`
	LastSeq  int64             `json:"last_seq"`
	Records  int64             `json:"records"`
	Key      string            `json:"response_key"`
	Days     []usagereport.Day `json:"days"`
	Head     usagereport.Head  `json:"-"`
}

// WriteReport writes the true-up report of [From, To) to out
// (pkg/usagereport), streaming the usage log from st twice: once to find
// the anchor (the last head this key signed at or before From, or the
// start of the log), once to write every record after it up to the
// current head. The closing head is then stored as a checkpoint, so the
// next report can start from it. The records are checked against their
// hash chain as they are written: a log edited in the database is refused
// here, naming the record.
func WriteReport(ctx context.Context, st seatstore.Store, out io.Writer, o ReportOptions) (*ReportResult, error) {
	pub := o.Key.Public().(ed25519.PublicKey)
	keyID := seat.ResponseKeyID(pub)
	var anchor usagereport.Head
	err := st.Events(ctx, time.Time{}, o.From.Add(time.Nanosecond), func(e seatstore.LoggedEvent) error {
		if string(e.Kind) != usagereport.KindCheckpoint {
			return nil
		}
		h, err := usagereport.ParseDetail(e.Detail)
		if err != nil || h.Key != keyID || h.Time.After(o.From) || h.Seq <= anchor.Seq || h.Verify(pub) != nil {
			return nil
		}
		anchor = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the usage log: %w", err)
	}
	lics := make([][]byte, len(o.Licenses))
	for i, l := range o.Licenses {
		lics[i] = []byte(l)
	}
	w, err := usagereport.NewWriter(out, o.Key, usagereport.Header{From: o.From, To: o.To, Created: o.Now, Licenses: lics, Anchor: anchor})
	if err != nil {
		return nil, err
	}
	res := &ReportResult{From: o.From.UTC(), To: o.To.UTC(), FirstSeq: anchor.Seq + 1, Key: keyID}
	err = st.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Seq <= anchor.Seq {
			return nil
		}
		r := usagereport.Record{Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), Product: e.Product, LeaseID: e.LeaseID,
			Session: e.Session, User: e.User, Detail: e.Detail, Hash: e.Hash}
		res.Records++
		return w.Add(&r)
	})
	if err != nil {
		return nil, fmt.Errorf("writing the report: %w", err)
	}
	days, head, err := w.Close(o.Now)
	if err != nil {
		return nil, err
	}
	res.LastSeq, res.Days, res.Head = head.Seq, days, head
	if res.Days == nil {
		res.Days = []usagereport.Day{}
	}
	if _, err := StoreHead(ctx, st, o.Key, head.Seq, head.Hash, o.Now); err != nil {
		return nil, err
	}
	return res, nil
}
