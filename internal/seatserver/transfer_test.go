package seatserver

import (
	"context"
	"errors"
	"testing"

	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/transfer"
)

// TestTransfer: the receipt verifies against the license it removed; the
// serial is refused afterwards, also after a restart.
func TestTransfer(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 2})
	e.install(arm, 201)
	e.checkout(client, "acme-erp", sid(1), "pc")
	data, r, err := e.srv.Transfer(context.Background(), serial)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := license.DecodeServer([]byte(arm))
	if err != nil {
		t.Fatal(err)
	}
	back, err := transfer.Parse(data)
	if err != nil || back.Verify(sl) != nil || r.Serial != serial || r.Node != "srv1" {
		t.Fatalf("receipt %+v: %v", back, err)
	}
	if _, _, err := e.srv.Transfer(context.Background(), serial); !errors.Is(err, ErrNoLicense) {
		t.Fatalf("second transfer: %v", err)
	}
	e.install(arm, 400)
	e.restart()
	e.install(arm, 400)
	if len(e.srv.Licences()) != 0 {
		t.Fatal("the transferred license is installed")
	}
}
