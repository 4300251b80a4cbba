package usagereport

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkWriteVerify100k writes and verifies a report of 100,000
// records in memory (the per-record cost of bench/books/report.sh without
// the store).
func BenchmarkWriteVerify100k(b *testing.B) {
	f := newFixture(b, 7)
	for i := range 100_000 {
		f.add(t0.Add(time.Duration(i)*time.Second), "grant", "acme-erp", fmt.Sprintf("L%d", i%300), "")
		if i%1000 == 999 {
			f.checkpoint(t0.Add(time.Duration(i) * time.Second))
		}
	}
	end := t0.Add(200_000 * time.Second)
	b.ResetTimer()
	for range b.N {
		rep := f.report(b, t0, end, end, Head{})
		if _, err := Verify(bytes.NewReader(rep), "r", VerifyOptions{Keyring: f.ring}); err != nil {
			b.Fatal(err)
		}
	}
}
