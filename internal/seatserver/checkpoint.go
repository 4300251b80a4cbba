package seatserver

// This file signs the usage log's head (issue 12 item 4): periodically,
// at shutdown and when a report is made, the server signs "the log ends
// with record N, whose hash is H" with its response key and stores that
// signed head in the log itself, as an event of kind checkpoint. A report
// (pkg/usagereport) runs from one signed head to the next, so a record
// removed or changed in between is evident to the vendor.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/usagereport"
)

// DefaultCheckpoint is how often a serving server signs its log's head.
const DefaultCheckpoint = 10 * time.Minute

// checkpointer remembers the last head seen, so each checkpoint reads
// only the log written since.
type checkpointer struct {
	mu   sync.Mutex
	seq  int64
	at   time.Time // the time of record seq
	init bool
}

// Checkpoint signs the usage log's head with the response key and stores
// the signed head as a checkpoint event. It does nothing (and reports
// false) when no record but checkpoints was added since the last one.
func (s *Server) Checkpoint(ctx context.Context) (usagereport.Head, bool, error) {
	if s.cfg.Key == nil {
		return usagereport.Head{}, false, fmt.Errorf("%w: signing the usage log needs the private response key", ErrConfig)
	}
	if s.cfg.ReadOnly {
		return usagereport.Head{}, false, ErrReadOnly
	}
	cp := &s.cp
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var from time.Time
	if cp.init {
		// Several nodes' clocks differ a little: read a margin back.
		from = cp.at.Add(-5 * time.Minute)
	}
	var last seatstore.LoggedEvent
	fresh := false
	err := s.cfg.Store.Events(ctx, from, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Seq > last.Seq {
			last = e
		}
		if e.Seq > cp.seq && string(e.Kind) != usagereport.KindCheckpoint {
			fresh = true
		}
		return nil
	})
	if err != nil {
		return usagereport.Head{}, false, fmt.Errorf("reading the usage log's head: %w", err)
	}
	if last.Seq > cp.seq {
		cp.seq, cp.at = last.Seq, last.Time
	}
	cp.init = true
	if !fresh {
		return usagereport.Head{}, false, nil
	}
	h, err := StoreHead(ctx, s.cfg.Store, s.cfg.Key, last.Seq, last.Hash, s.now())
	return h, err == nil, err
}

// StoreHead signs the head (seq, hash) at now and commits it to st as a
// checkpoint event.
func StoreHead(ctx context.Context, st seatstore.Store, key ed25519.PrivateKey, seq int64, hash [32]byte, now time.Time) (usagereport.Head, error) {
	h := usagereport.SignHead(key, seq, hash, now)
	ev := seats.Event{Time: h.Time, Kind: seats.EventKind(usagereport.KindCheckpoint), Detail: h.Detail()}
	if err := st.Commit(ctx, seatstore.Change{Events: []seats.Event{ev}}); err != nil {
		return h, fmt.Errorf("storing the signed head of the usage log: %w", err)
	}
	return h, nil
}

// checkpointLog is Run's call: errors are logged, never fatal.
func (s *Server) checkpointLog(ctx context.Context) {
	h, made, err := s.Checkpoint(ctx)
	switch {
	case err != nil:
		s.log.Error("checkpoint", "err", err)
	case made:
		s.log.Info("usage log head signed", "seq", h.Seq, "key", h.Key)
	}
}
