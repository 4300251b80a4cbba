package usagereport

import (
	"bytes"
	"testing"
)

// FuzzVerify: no input makes Verify panic, and what it accepts is the
// signed vector or a report with the same records.
func FuzzVerify(f *testing.F) {
	fx, rep := day1(f)
	f.Add(rep)
	f.Add(rep[:len(rep)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Verify(bytes.NewReader(data), "fuzz", VerifyOptions{Keyring: fx.ring})
		if err == nil && res.End.Seq != 8 {
			t.Fatalf("accepted a report ending at seq %d", res.End.Seq)
		}
	})
}

func FuzzParseDetail(f *testing.F) {
	fx, _ := day1(f)
	f.Add(fx.records[6].Detail)
	f.Add("seq=1 hash=00 time=1 key=k sig=x")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseDetail(s)
		if err != nil {
			return
		}
		if back, err := ParseDetail(h.Detail()); err != nil || back.Seq != h.Seq || back.Hash != h.Hash || !back.Time.Equal(h.Time) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
