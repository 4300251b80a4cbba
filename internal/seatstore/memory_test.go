package seatstore_test

import (
	"fmt"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"testing"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/seatstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.RunWith(t, func(*testing.T) seatstore.Store { return seatstore.NewMemory() }, storetest.Options{
		Second: func(_ *testing.T, s seatstore.Store) seatstore.Store { return sharedMemory{s} },
	})
}

// sharedMemory is a second handle on one Memory (two "nodes" in one
// process); closing it closes nothing.
type sharedMemory struct{ seatstore.Store }

func (sharedMemory) Close() error { return nil }

func storetestEvents(i int) []seats.Event {
	return []seats.Event{{Time: storetest.T0.Add(time.Duration(i)), Kind: seats.EventGrant, LeaseID: fmt.Sprint("L-", i)}}
}
