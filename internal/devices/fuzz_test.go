package devices

import (
	"fmt"
	"net/netip"
	"testing"
)

// FuzzOps drives the registry with an arbitrary sequence of actions on a
// few devices, two products and a changing seat count, and checks after
// every action: no product has more devices approved (or seats held)
// than seats, the
// seats held are exactly the approved devices (no device holds two, none
// is lost), and every stored device is in a known state.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x00, 0x10, 0x01, 0x11, 0x21, 0x31, 0x02, 0x05, 0x15, 0x25, 0x35})
	f.Add([]byte{0x70, 0x71, 0x40, 0x50, 0x60, 0x41, 0x51, 0x61, 0x03, 0x13, 0x23})
	f.Add([]byte("register approve unlink deny check seats subscription"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 512 {
			ops = ops[:512]
		}
		products := []string{"shop15", "warehouse15"}
		ms := NewMemorySeats(map[string]int{"shop15": 2, "warehouse15": 1})
		r, err := New(ms, Options{MaxPendingPerIP: 3, MaxPending: 5})
		if err != nil {
			t.Fatal(err)
		}
		// Lowering the seat count keeps devices already linked (as a real
		// server keeps them), so the bound is the largest count so far.
		maxSeats := map[string]int{"shop15": 2, "warehouse15": 1}
		for i, op := range ops {
			code := fmt.Sprintf("d%d", op>>4&7)
			app := products[op>>7&1]
			switch op & 15 {
			case 0, 1:
				_, _ = r.Register(Request{Code: code, Name: "n", App: app, IP: netip.AddrFrom4([4]byte{10, 0, 0, op & 3})})
			case 2, 3:
				_, _ = r.Approve(code, "root")
			case 4:
				_, _ = r.Deny(code, "root")
			case 5:
				_, _ = r.Unlink(code)
			case 6, 7:
				_, _ = r.Check(code)
			case 8:
				ms.SetSeats(app, int(op>>4&3))
				maxSeats[app] = max(maxSeats[app], int(op>>4&3))
			case 9:
				ms.EndSubscription(app, op&0x10 != 0)
			}
			approved := map[string]map[string]bool{}
			for _, d := range r.List("") {
				switch d.State {
				case Pending, Denied, NoSeat, SubscriptionEnded:
				case Approved:
					if approved[d.App] == nil {
						approved[d.App] = map[string]bool{}
					}
					if approved[d.App][d.Code] {
						t.Fatalf("op %d: %s approved twice", i, d.Code)
					}
					approved[d.App][d.Code] = true
				default:
					t.Fatalf("op %d: %s in state %q", i, d.Code, d.State)
				}
			}
			for _, p := range products {
				held := ms.Holders(p)
				for c := range approved[p] {
					if !held[c] {
						t.Fatalf("op %d: %s approved for %s without a seat", i, c, p)
					}
				}
				if len(approved[p]) > maxSeats[p] || len(held) > maxSeats[p] {
					t.Fatalf("op %d: %d approved, %d held, %d seats of %s", i, len(approved[p]), len(held), maxSeats[p], p)
				}
				for c := range held {
					d, err := r.Get(c)
					if err != nil {
						t.Fatalf("op %d: seat of %s held by unknown device %s", i, p, c)
					}
					if d.App != p {
						t.Fatalf("op %d: %s holds a seat of %s but runs %s", i, c, p, d.App)
					}
				}
			}
		}
	})
}
