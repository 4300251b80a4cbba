package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWriterFsyncErrorSticky: after a failed fsync nothing more is
// recorded, since the kernel may have dropped what was written.
func TestWriterFsyncErrorSticky(t *testing.T) {
	w, err := OpenWriter(filepath.Join(t.TempDir(), "issued.jsonl"), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rec{Serial: "a"}); err != nil {
		t.Fatal(err)
	}
	good := w.f.Load()
	bad, _ := os.Open(os.DevNull) // fsync of /dev/null fails with EINVAL
	w.f.Store(bad)
	w.sync()
	w.f.Store(good)
	bad.Close()
	if err := w.Append(rec{Serial: "b"}); err == nil || !strings.Contains(err.Error(), "fsync failed") {
		t.Fatalf("Append after an fsync error: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close hid the fsync error")
	}
}

func TestWriterConcurrentAndTorn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issued.jsonl")
	// A crash of another writer left a torn line.
	if err := os.WriteFile(path, []byte("0badc0de {\"serial\":\"to"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.Append(rec{Serial: fmt.Sprint("j", i)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Append writes to the same file in between (e.g. another tool).
	if err := Append(path, rec{Serial: "from-append"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rec{Serial: "last"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rec{Serial: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	got, torn := serials(t, path)
	if torn || len(got) != n+2 {
		t.Fatalf("%d records, torn %v; want %d intact", len(got), torn, n+2)
	}
	seen := map[string]bool{}
	for _, s := range got {
		seen[s] = true
	}
	for i := range n {
		if !seen[fmt.Sprint("j", i)] {
			t.Fatalf("record j%d lost", i)
		}
	}
	if got[n] != "from-append" || got[n+1] != "last" {
		t.Errorf("order after the batches: %s, %s", got[n], got[n+1])
	}
}

// TestWriterRotation: the file is rotated at MaxSize, Keep rotated files
// are kept, the oldest is deleted, and every record of the kept files is
// intact and in order.
func TestWriterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issued.jsonl")
	line, _ := Line(rec{Serial: "s0000"})
	w, err := OpenWriter(path, WriterOptions{MaxSize: int64(10 * len(line)), Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 45 {
		if err := w.Append(rec{Serial: fmt.Sprintf("s%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(RotatedName(path, 3)); !os.IsNotExist(err) {
		t.Errorf("%s kept beyond Keep=2 (%v)", RotatedName(path, 3), err)
	}
	var all []string
	for _, p := range []string{RotatedName(path, 2), RotatedName(path, 1), path} {
		got, torn := serials(t, p)
		if torn || len(got) > 10 {
			t.Errorf("%s: %d records, torn %v", p, len(got), torn)
		}
		all = append(all, got...)
	}
	// 45 records, files of 10: the newest 25 are kept (.2, .1 full; 5 in FILE).
	if len(all) != 25 || all[0] != "s0020" || all[24] != "s0044" {
		t.Fatalf("kept %d records %v", len(all), all)
	}
}

// TestWriterRotatedByAnother: two writers on one file (two endpoints
// sharing a directory): when one rotates, the other follows to the new
// file and nothing is written to a rotated file.
func TestWriterRotatedByAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issued.jsonl")
	line, _ := Line(rec{Serial: "a0000"})
	opts := WriterOptions{MaxSize: int64(4 * len(line)), Keep: 50}
	a, _ := OpenWriter(path, opts)
	b, _ := OpenWriter(path, opts)
	for i := range 40 {
		w, name := a, "a"
		if i%3 == 0 {
			w, name = b, "b"
		}
		if err := w.Append(rec{Serial: fmt.Sprintf("%s%04d", name, i)}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	b.Close()
	n := 0
	for i := 50; i >= 0; i-- {
		p := path
		if i > 0 {
			p = RotatedName(path, i)
		}
		got, torn := serials(t, p)
		if torn || len(got) > 4 {
			t.Errorf("%s: %d records torn %v", p, len(got), torn)
		}
		for _, s := range got {
			if want := fmt.Sprintf("%04d", n); !strings.HasSuffix(s, want) {
				t.Fatalf("record %d is %s: out of order or lost", n, s)
			}
			n++
		}
	}
	if n != 40 {
		t.Fatalf("%d records, want 40", n)
	}
}
