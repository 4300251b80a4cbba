package license

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// bigListSerials returns n serials of the form issue generates:
// "R000-0000-0000-0000", "R000-0000-0000-0001", ... in base 32 (the
// vector in docs/spec/license-v1.md, section "Revocation list").
func bigListSerials(n int) []string {
	out := make([]string, n)
	for i := range out {
		var d [15]byte
		v := i
		for j := 14; j >= 0; j-- {
			d[j] = serialAlphabet[v%32]
			v /= 32
		}
		s := "R" + string(d[:])
		out[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	return out
}

// The big-list vector: 100,000 serials, key seed 01×32, sequence 1, issued
// 2026-01-01T00:00:00Z. Its SHA-256 and size are published in the spec.
const (
	bigListCount  = 100_000
	bigListSHA256 = "b075fbb5ce918ec04ba0adc041546848d37fc498625de4cd9cbbda170b22829e"
	bigListBytes  = 2708523
)

// A list holds well past 65,536 serials (issue 8 item 12), fits the file
// limit, reads back, and a lookup is a binary search.
func TestRevocationListScale(t *testing.T) {
	k := testKey(t, 1)
	serials := bigListSerials(bigListCount)
	rl := (*RevocationList)(nil).Next(serials, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := rl.Sign(k); err != nil {
		t.Fatal(err)
	}
	data, err := rl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != bigListSHA256 || len(data) != bigListBytes {
		t.Errorf("big-list vector: sha256 %s, %d bytes; want %s, %d bytes (docs/spec/license-v1.md)", got, len(data), bigListSHA256, bigListBytes)
	}
	if len(data) > MaxRevocationFile {
		t.Fatalf("%d serials take %d bytes, over the %d-byte file limit", bigListCount, len(data), MaxRevocationFile)
	}
	start := time.Now()
	got, err := OpenRevocations(data, keys.NewKeyring(k.Public()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d serials: %d bytes, opened in %v", bigListCount, len(data), time.Since(start))
	if len(got.Serials) != bigListCount || !got.Contains(serials[bigListCount-1]) || !got.Contains(serials[0]) || got.Contains("R000-0000-0000-000Z") == (bigListCount < 32) {
		t.Fatalf("read back %d serials; lookups wrong", len(got.Serials))
	}
	if got.Contains("7K3M-Q9TX-4HZP-2W8R") {
		t.Fatal("an unrevoked serial is reported revoked")
	}
}

// A lookup costs a binary search: 100 times more serials cost a few more
// comparisons, not 100 times the time (a linear scan would).
func TestRevocationLookupIsLogarithmic(t *testing.T) {
	var took [2]time.Duration
	for i, n := range []int{1_000, 100_000} {
		rl := (*RevocationList)(nil).Next(bigListSerials(n), time.Unix(1, 0))
		start := time.Now()
		for j := 0; j < 200_000; j++ {
			rl.Contains("7K3M-Q9TX-4HZP-2W8R")
		}
		took[i] = time.Since(start)
	}
	t.Logf("200,000 lookups: %v in 1,000 serials, %v in 100,000", took[0], took[1])
	if took[1] > 20*took[0] {
		t.Fatalf("lookups in 100,000 serials took %v, %v in 1,000: the cost grows linearly", took[1], took[0])
	}
}

func TestRevocationListLimits(t *testing.T) {
	k := testKey(t, 1)
	rl := &RevocationList{Sequence: 1, IssuedAt: time.Unix(1, 0), Serials: bigListSerials(MaxRevokedSerials + 1)}
	if err := rl.Sign(k); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d serials: %v", len(rl.Serials), err)
	}
	big := make([]byte, MaxRevocationFile+1)
	if _, err := DecodeRevocations(big); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized file: %v", err)
	}
}

func BenchmarkRevocationContains(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		rl := (*RevocationList)(nil).Next(bigListSerials(n), time.Unix(1, 0))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rl.Contains("7K3M-Q9TX-4HZP-2W8R")
			}
		})
	}
}
