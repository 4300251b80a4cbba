package tokenbench

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/pkg/token/tokendir"
)

// ledgerWith returns a ledger file holding n token records, written
// directly in the ledger format (setting it up with n appends would take
// as long as the thing measured).
func ledgerWith(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), tokendir.LedgerFile)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rec := tokendir.LedgerRecord{JTI: "AAECAwQFBgcICQoLDA0ODw", KeyID: "3d3b652d529fd51a", Subject: "1",
		Audience: []string{"https://portal.local/rest/"}, ClientID: "local.itgrix.1", Scope: "crm", IssuedAt: 1767323045, ExpiresAt: 2082683045}
	line, err := ledger.Line(&rec)
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLedgerAppend1 and BenchmarkLedgerAppend1M are a pair: one
// append (with its fsync) to a ledger of 1 record and to one of 1,000,000
// records (about 230 MB). Issue 8 item 11: an append checks only the tail,
// so the two must cost the same; run.sh ledger prints the ratio of their
// medians. Before, each append read and checked the whole file.
func BenchmarkLedgerAppend1(b *testing.B) { benchAppend(b, 1) }

// BenchmarkLedgerAppend1M: see BenchmarkLedgerAppend1.
func BenchmarkLedgerAppend1M(b *testing.B) { benchAppend(b, 1_000_000) }

func benchAppend(b *testing.B, n int) {
	path := ledgerWith(b, n)
	rec := tokendir.LedgerRecord{JTI: "bench", Subject: "1", Audience: []string{"a"}, ClientID: "c", IssuedAt: 1, ExpiresAt: 2}
	for b.Loop() {
		if err := ledger.Append(path, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
