package seat_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/seat"
)

// exampleServer starts an in-test seat server with a license the vendor
// issued for it, and returns it with the vendor's keyring (in a product,
// the keyring is compiled in) and a fake clock, so the output is stable.
func exampleServer(seats int) (*seat.FakeServer, *keys.Keyring, *seat.FakeClock) {
	vendor := seat.FakeVendor(1)
	key := seat.FakeResponseKey(0x40)
	lic, err := seat.IssueFakeServerLicense(vendor, "srv1", key.Public().(ed25519.PublicKey), nil)
	if err != nil {
		panic(err)
	}
	clock := seat.NewFakeClock(seat.FakeEpoch)
	return seat.NewFakeServer(clock, key, lic, seats), keys.NewKeyring(vendor.Public()), clock
}

// A product takes a seat when it starts and gives it back when it stops;
// in between the lease renews itself. OnLost says when the seat is gone
// (the product then saves its work and degrades to demo mode).
func Example_checkout() {
	srv, vendorKeys, clock := exampleServer(5)
	defer srv.Close()

	c, err := seat.New(seat.Config{
		Servers: []string{srv.URL}, // in production: "https://lic1.corp:9099"
		Keyring: vendorKeys,
		Product: "acme-db",
		User:    "erp", Token: "token from 'license-server token add erp'",
		Clock:  clock,
		OnLost: func(l *seat.Lease, err error) { fmt.Println("seat lost:", err) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	l, err := c.Checkout(ctx, seat.Request{UserName: "ivanov", ComputerName: "ws-17"})
	if err != nil {
		fmt.Println(err)
		return
	}
	info := l.Info()
	fmt.Println(info.Mode, info.Product, "lines:", info.Features["lines"], "renew every", info.RenewEvery)
	fmt.Println("close:", l.Close(ctx), "- seats in use:", srv.InUse())
	// Output:
	// licensed acme-db lines: 1000 renew every 1m0s
	// close: <nil> - seats in use: 0
}

// Servers are tried in order (1C's ReservedServers): when the first is
// down, the second grants the seat.
func Example_failover() {
	first, vendorKeys, clock := exampleServer(5)
	defer first.Close()
	second := seat.NewFakeServer(clock, first.Key, first.Licence, 5)
	defer second.Close()
	first.SetDown(true)

	c, _ := seat.New(seat.Config{Servers: []string{first.URL, second.URL}, Keyring: vendorKeys, Product: "acme-db", Clock: clock, ManualRenew: true})
	l, err := c.Checkout(context.Background(), seat.Request{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("held by the second server:", l.Info().Server == second.URL)
	// Output:
	// held by the second server: true
}

// A server that cannot show a license signed by the vendor is refused,
// whatever it answers.
func Example_fakeServer() {
	genuine, vendorKeys, clock := exampleServer(5)
	genuine.Close()
	selfMade := seat.FakeResponseKey(0x77)
	lic, _ := seat.IssueFakeServerLicense(seat.FakeVendor(9), "fake", selfMade.Public().(ed25519.PublicKey), nil)
	fake := seat.NewFakeServer(clock, selfMade, lic, 1000)
	defer fake.Close()

	c, _ := seat.New(seat.Config{Servers: []string{fake.URL}, Keyring: vendorKeys, Product: "acme-db", Clock: clock, ManualRenew: true,
		Attempts: 1}) // (no retry: the fake clock would never end the backoff)
	_, err := c.Checkout(context.Background(), seat.Request{})
	fmt.Println("untrusted:", errors.Is(err, seat.ErrUntrustedServer))
	// Output:
	// untrusted: true
}

// When every seat is taken, the error says how many are in use.
func Example_noSeat() {
	srv, vendorKeys, clock := exampleServer(1)
	defer srv.Close()
	c, _ := seat.New(seat.Config{Servers: []string{srv.URL}, Keyring: vendorKeys, Product: "acme-db", Clock: clock, ManualRenew: true})
	if _, err := c.Checkout(context.Background(), seat.Request{}); err != nil {
		fmt.Println(err)
		return
	}
	_, err := c.Checkout(context.Background(), seat.Request{})
	var ns *seat.NoSeatError
	if errors.As(err, &ns) {
		fmt.Printf("no seat: %d of %d in use\n", ns.InUse, ns.Seats)
	}
	// Output:
	// no seat: 1 of 1 in use
}

// Diagnose checks each step of a connection and says what failed, why,
// and how to fix it.
func ExampleDiagnose() {
	srv, vendorKeys, clock := exampleServer(5)
	defer srv.Close()
	for _, d := range seat.Diagnose(context.Background(), seat.Config{Servers: []string{srv.URL}, Keyring: vendorKeys, Product: "acme-db", Clock: clock}) {
		for _, s := range d.Steps {
			fmt.Printf("%-18s %s\n", s.Name, s.Result)
		}
	}
	// Output:
	// address            ok
	// name resolution    ok
	// tcp connect        ok
	// tls certificate    ok
	// seat api           ok
	// authentication     ok
	// server license     ok
	// response signature ok
	// clock skew         ok
	// product installed  ok
	// seats free         ok
}
