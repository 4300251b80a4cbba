package license

import (
	"encoding/json"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
)

// licenseJSON is the stable JSON form of a License. Field names are
// documented in docs/spec/license-v1.md and must not change.
type licenseJSON struct {
	Serial       string         `json:"serial"`
	KeyID        string         `json:"key_id"`
	Product      string         `json:"product"`
	Edition      string         `json:"edition"`
	Kind         string         `json:"kind"`
	MainSerial   string         `json:"main_serial"`
	Customer     Customer       `json:"customer"`
	IssuedAt     time.Time      `json:"issued_at"`
	NotBefore    time.Time      `json:"not_before"`
	Expires      *time.Time     `json:"expires"`
	UpdatesUntil *time.Time     `json:"updates_until"`
	Seats        int            `json:"seats"`
	Features     map[string]any `json:"features"`
	DemoLimits   map[string]any `json:"demo_limits"`
	Machine      *machineJSON   `json:"machine"`
	AllowVirtual bool           `json:"allow_virtual"`
	Comment      string         `json:"unsigned_comment"`
}

type machineJSON struct {
	ID string `json:"id"`
	fingerprint.Fingerprint
}

// FeatureMap returns features as a map from name to true/false (flags) or
// a number (limits), the form used in JSON.
func FeatureMap(fs []Feature) map[string]any {
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		if f.IsBool {
			m[f.Name] = f.Value != 0
		} else {
			m[f.Name] = f.Value
		}
	}
	return m
}

// MarshalJSON returns the license's stable JSON form. Times are RFC 3339 in
// UTC; expires and updates_until are null when absent; machine is null for
// an unbound license. It is for display: the JSON is not signed and is not
// a license encoding.
func (l *License) MarshalJSON() ([]byte, error) {
	j := licenseJSON{
		Serial: l.Serial, KeyID: string(l.KeyID), Product: l.Product, Edition: l.Edition,
		Kind: l.Kind.String(), MainSerial: l.MainSerial, Customer: l.Customer,
		IssuedAt: l.IssuedAt.UTC(), NotBefore: l.NotBefore.UTC(), Expires: utc(l.Expires),
		UpdatesUntil: utc(l.UpdatesUntil), Seats: l.Seats, Features: FeatureMap(l.Features),
		DemoLimits: FeatureMap(l.DemoLimits), AllowVirtual: l.AllowVirtual, Comment: l.Comment,
	}
	if l.Machine != nil {
		j.Machine = &machineJSON{ID: l.Machine.ID(), Fingerprint: *l.Machine}
	}
	return json.Marshal(j)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
