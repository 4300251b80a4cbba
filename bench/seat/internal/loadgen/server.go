package loadgen

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// PutToken stores a client API token name/token in st.
func PutToken(st seatstore.Store, name, token string) {
	sum := sha256.Sum256([]byte(token))
	rec := seatstore.TokenRecord{Name: name, Role: seat.RoleClient, SHA256: sum, Created: time.Now().UTC().Truncate(time.Second)}
	if err := st.Commit(context.Background(), seatstore.Change{PutTokens: []seatstore.TokenRecord{rec}}); err != nil {
		log.Fatal(err)
	}
}

// License returns an armored server license of a million seats of
// product "bench", signed by vk, naming each response key of nodes
// (bench1, bench2, ...) and bound to no machine.
func License(vk *keys.PrivateKey, serial string, nodes ...ed25519.PublicKey) []byte {
	nb := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	sl := &license.ServerLicense{
		License: license.License{Serial: serial, Product: "bench", Kind: license.KindMain,
			Customer: license.Customer{Name: "Bench"}, IssuedAt: nb, NotBefore: nb, Seats: 1_000_000},
		SeatUnit: license.PerSession,
	}
	for i, k := range nodes {
		sl.Nodes = append(sl.Nodes, license.Node{Name: fmt.Sprintf("bench%d", i+1), ResponseKey: k})
	}
	if err := sl.Sign(vk); err != nil {
		log.Fatal(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		log.Fatal(err)
	}
	return arm
}

// AnyMachine is a seatserver.MachineFunc for a license bound to no
// machine.
func AnyMachine(string) (*license.Machine, error) {
	return &license.Machine{Virtualization: "none"}, nil
}

// Serve runs srv on a loopback port and returns its base URL and a stop
// function that stops it and then calls closeStore.
func Serve(srv *seatserver.Server, closeStore func() error) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		if err := srv.Run(ctx, ln, seatserver.RunOptions{}); err != nil {
			log.Print(err)
		}
		close(done)
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done; _ = closeStore() }
}
