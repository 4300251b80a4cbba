package usagereport

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vector.report")

// TestVector keeps docs/spec/usage-report-v1.md's vector: the known day's
// report (vendor key seed 0x01×32, response key seed 0x07×32) is written
// byte for byte as in testdata/vector.report, and verifies.
func TestVector(t *testing.T) {
	f, rep := day1(t)
	const path = "testdata/vector.report"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, rep, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rep, want) {
		t.Fatalf("the report differs from %s (run go test -update after a deliberate format change, and update the spec)", path)
	}
	if _, err := Verify(bytes.NewReader(want), path, VerifyOptions{Keyring: f.ring}); err != nil {
		t.Fatal(err)
	}
	// The spec's chain-hash example: record 1 after the zero hash.
	r := Record{Seq: 1, Time: time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC), Kind: "grant", Product: "acme-erp", LeaseID: "L1", Session: "sess-L1", User: "user-L1"}
	h := ChainHash([32]byte{}, &r)
	if got, want := hex.EncodeToString(h[:]), hex.EncodeToString(f.records[0].Hash[:]); got != want || got != vectorRecord1 {
		t.Fatalf("chain hash %s, fixture %s, spec %s", got, want, vectorRecord1)
	}
	t.Logf("record 1 hash %x", h)
}
