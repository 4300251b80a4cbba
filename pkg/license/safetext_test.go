package license

import (
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// Signed text fields are printed on terminals: terminal escapes (C1 CSI)
// and bidirectional overrides are refused when signing.
func TestSignRefusesUnsafeText(t *testing.T) {
	k, _ := keys.NewPrivateKey(make([]byte, 32))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ product, customer, want string }{
		{"Acme\u202EWriter", "Example", "product: contains bidirectional formatting character U+202E"},
		{"Acme", "Exa\u009b2Jmple", "customer.name: contains control character U+009B"},
	} {
		l := &License{Serial: "S-1", Product: tc.product, Kind: KindMain, Customer: Customer{Name: tc.customer},
			IssuedAt: now, NotBefore: now, Seats: 1}
		err := l.Sign(k)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q/%q: got %v, want %q", tc.product, tc.customer, err, tc.want)
		}
	}
}
