package license

import (
	"errors"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

// Error messages name what failed in words that fit it: a revocation list
// is not called a license, and text that is no license says so.
func TestErrorMessages(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	lic := mustArmor(t, signed(t, sampleLicense(2, false), k))
	listBy := func(signer *keys.PrivateKey) []byte {
		rl := (*RevocationList)(nil).Next([]string{"AAAA-BBBB-CCCC-DDDD"}, tIssued)
		if err := rl.Sign(signer); err != nil {
			t.Fatal(err)
		}
		b, err := rl.Armor()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	damaged := listBy(k)
	i := strings.Index(string(damaged), "\n-----END") - 10
	damaged[i] ^= 0x01 // in the signature; still base64, different bytes
	tests := []struct {
		name string
		in   []byte
		opts func(*VerifyOptions)
		want error
		msg  string
	}{
		{"text is not a license", []byte("Seats: 1000\n"), nil, ErrMalformed,
			`malformed license: not a license: a license file has a "-----BEGIN AIRSEAL LICENSE-----" line and a typed code starts with "ASL1-"`},
		{"no trusted keys", lic, func(o *VerifyOptions) { o.Keyring = keys.NewKeyring() }, ErrUnknownKey,
			"license signed by an unknown key " + string(k.ID()) + " (this program trusts no keys)"},
		{"list by unknown key", lic, func(o *VerifyOptions) { o.Revocations = listBy(other) }, ErrUnknownKey,
			"revocation list signed by an unknown key " + string(other.ID()) + " (trusted: " + string(k.ID()) + ")"},
		{"list damaged", lic, func(o *VerifyOptions) { o.Revocations = damaged }, ErrBadSignature,
			"bad revocation list signature"},
		{"list garbage", lic, func(o *VerifyOptions) { o.Revocations = []byte("junk") }, ErrMalformed,
			"malformed revocation list: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOpts(k)
			o.Machine = nil
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err := Verify(tt.in, o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("message %q\n  does not start with %q", err, tt.msg)
			}
		})
	}
}
