package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type rec struct {
	Serial string `json:"serial"`
	N      int    `json:"n"`
}

func serials(t *testing.T, path string) ([]string, bool) {
	t.Helper()
	res, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Records {
		var x rec
		if err := json.Unmarshal(r, &x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x.Serial)
	}
	return out, res.Torn
}

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	if got, torn := serials(t, path); len(got) != 0 || torn {
		t.Fatalf("missing ledger: got %v torn=%v", got, torn)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := Append(path, rec{Serial: s}); err != nil {
			t.Fatal(err)
		}
	}
	got, torn := serials(t, path)
	if strings.Join(got, ",") != "a,b,c" || torn {
		t.Fatalf("got %v torn=%v", got, torn)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// A crash mid-write leaves a partial last line: it is skipped, reported,
// and cut off by the next append, at every possible cut point.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	Append(full, rec{Serial: "a"})
	Append(full, rec{Serial: "b"})
	data, _ := os.ReadFile(full)
	firstEnd := strings.IndexByte(string(data), '\n') + 1
	for cut := firstEnd + 1; cut < len(data); cut++ {
		path := filepath.Join(dir, "cut")
		os.WriteFile(path, data[:cut], 0o600)
		got, torn := serials(t, path)
		if strings.Join(got, ",") != "a" || !torn {
			t.Fatalf("cut at %d: got %v torn=%v, want [a] torn", cut, got, torn)
		}
		if err := Append(path, rec{Serial: "c"}); err != nil {
			t.Fatal(err)
		}
		got, torn = serials(t, path)
		if strings.Join(got, ",") != "a,c" || torn {
			t.Fatalf("cut at %d then append: got %v torn=%v", cut, got, torn)
		}
	}
}

func TestDamagedMiddleIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	Append(path, rec{Serial: "a"})
	Append(path, rec{Serial: "b"})
	data, _ := os.ReadFile(path)
	data[12] ^= 1 // inside the first record's JSON
	os.WriteFile(path, data, 0o600)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("got %v, want an error naming line 1", err)
	}
	// Append checks the tail only (issue 8 item 11): it does not read line
	// 1, so it succeeds, and the damage is still reported by the next read.
	if err := Append(path, rec{Serial: "c"}); err != nil {
		t.Fatalf("append read beyond the tail: %v", err)
	}
	if _, err := Scan(path, func(Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("got %v, want an error naming line 1", err)
	}
}

// A damaged last line that ends in a newline is torn too: Scan skips it and
// Append replaces it.
func TestDamagedLastLineWithNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	Append(path, rec{Serial: "a"})
	Append(path, rec{Serial: "b"})
	data, _ := os.ReadFile(path)
	data[len(data)-4] ^= 1
	os.WriteFile(path, data, 0o600)
	if got, torn := serials(t, path); strings.Join(got, ",") != "a" || !torn {
		t.Fatalf("got %v torn=%v", got, torn)
	}
	Append(path, rec{Serial: "c"})
	if got, torn := serials(t, path); strings.Join(got, ",") != "a,c" || torn {
		t.Fatalf("got %v torn=%v", got, torn)
	}
}

// Lines above MaxRecord are refused when written and reported when read,
// in bounded memory.
func TestRecordLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	if err := Append(path, rec{Serial: strings.Repeat("x", MaxRecord)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	os.WriteFile(path, []byte(strings.Repeat("y", MaxRecord+10)+"\n0000000a {}\n"), 0o600)
	if _, err := Scan(path, func(Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Scan of a huge line: %v", err)
	}
	if err := Append(path, rec{Serial: "z"}); err != nil {
		t.Fatalf("append after a huge line: %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := Append(path, rec{Serial: "s", N: i}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	got, torn := serials(t, path)
	if len(got) != 20 || torn {
		t.Fatalf("got %d records torn=%v, want 20", len(got), torn)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("0000000a {}\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scan("fuzz", bytes.NewReader(data), func(r Record) error {
			if !json.Valid(r) {
				t.Fatalf("invalid JSON record %q accepted", r)
			}
			return nil
		})
	})
}

// TestReadsEarlierLedgers: ledgers written by earlier versions (the line
// format has not changed: the license ledger, a revocation record holding
// the whole list, and the endpoint's issued.jsonl written by the batched
// writer that lived in pkg/token) read as before, and appending continues
// them.
func TestReadsEarlierLedgers(t *testing.T) {
	// Lines as earlier versions wrote them (CRC-32 computed independently).
	old := "" +
		"9c0314b3 {\"type\":\"license\",\"key_id\":\"3602c5ce218089f6\",\"issued_at\":\"2026-11-30T10:00:00Z\",\"serial\":\"AAAA-0000-0000-0001\"}\n" +
		"f38c674c {\"type\":\"revocation\",\"key_id\":\"3602c5ce218089f6\",\"issued_at\":\"2026-11-30T11:00:00Z\",\"sequence\":1,\"serials\":[\"AAAA-0000-0000-0001\"]}\n" +
		"9488da57 {\"jti\":\"AAECAwQFBgcICQoLDA0ODw\",\"kid\":\"3d3b652d529fd51a\",\"sub\":\"1\",\"aud\":[\"https://portal.local/rest/\"],\"client_id\":\"c\",\"iat\":1,\"exp\":2}\n"
	path := filepath.Join(t.TempDir(), "old.ledger")
	os.WriteFile(path, []byte(old), 0o600)
	var types []string
	torn, err := Scan(path, func(r Record) error {
		var x map[string]any
		if err := json.Unmarshal(r, &x); err != nil {
			return err
		}
		types = append(types, fmt.Sprint(x["type"], x["jti"]))
		return nil
	})
	if err != nil || torn || strings.Join(types, ",") != "license<nil>,revocation<nil>,<nil>AAECAwQFBgcICQoLDA0ODw" {
		t.Fatalf("old ledger: %v torn=%v %v", types, torn, err)
	}
	if err := Append(path, rec{Serial: "new"}); err != nil {
		t.Fatal(err)
	}
	if res, err := Read(path); err != nil || len(res.Records) != 4 {
		t.Fatalf("after append: %v", err)
	}
}

// A long last record (a revocation record adding many serials) is found
// and checked by the tail check too, and a torn long record is cut off.
func TestLongLastRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	big := strings.Repeat("s", 5<<20)
	if err := Append(path, rec{Serial: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, rec{Serial: big}); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, rec{Serial: "c"}); err != nil {
		t.Fatal(err)
	}
	if got, torn := serials(t, path); len(got) != 3 || got[1] != big || torn {
		t.Fatalf("%d records torn=%v", len(got), torn)
	}
	// A crash in the middle of writing another long record.
	line, _ := Line(rec{Serial: big})
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(line[:len(line)/2])
	f.Close()
	if err := Append(path, rec{Serial: "d"}); err != nil {
		t.Fatal(err)
	}
	got, torn := serials(t, path)
	if len(got) != 4 || got[3] != "d" || torn {
		t.Fatalf("after a torn long record: %d records torn=%v", len(got), torn)
	}
}
