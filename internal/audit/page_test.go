package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// writeLog writes n chained records to a new file quickly (no fsync per
// record, as Writer.Append does) and returns its path.
func writeBigLog(tb testing.TB, n int) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "audit.log")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	head := genesis
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		b, _ := json.Marshal(Record{Time: t0.Add(time.Duration(i) * time.Second), Who: "admin", What: "force-release seat",
			From: "192.0.2.7", Detail: fmt.Sprintf("record %d", i), Prev: head})
		b = append(b, '\n')
		w.Write(b)
		head = hashLine(b)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return p
}

func openLog(tb testing.TB, p string) (*os.File, int64) {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	return f, fi.Size()
}

func detailNo(rec Record) int {
	var i int
	fmt.Sscanf(rec.Detail, "record %d", &i)
	return i
}

// TestPages: newest first, N a page, older and newer pages meet without
// a gap or an overlap, and a hand-made offset inside a record is refused.
func TestPages(t *testing.T) {
	const total, per = 1234, 50
	f, size := openLog(t, writeBigLog(t, total))
	p, err := ReadBefore(f, size, size, per)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != per || detailNo(p.Records[0]) != total-1 || p.Newer != -1 || p.Older <= 0 {
		t.Fatalf("first page: %d records, first %d, newer %d, older %d", len(p.Records), detailNo(p.Records[0]), p.Newer, p.Older)
	}
	// Walk to the oldest page, then back to the newest.
	seen := 0
	var offsets []int64
	next := total - 1
	for cur := size; ; {
		p, err := ReadBefore(f, size, cur, per)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if detailNo(r) != next {
				t.Fatalf("record %d where %d was due", detailNo(r), next)
			}
			next--
			seen++
		}
		offsets = append(offsets, cur)
		if p.Older < 0 {
			break
		}
		cur = p.Older
	}
	if seen != total || next != -1 {
		t.Fatalf("walked %d records, next %d", seen, next)
	}
	// Newer pages from the oldest: the same records in the same pages.
	p, err = ReadBefore(f, size, offsets[len(offsets)-1], per)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(offsets) - 2; i >= 0; i-- {
		q, err := ReadAfter(f, size, p.Newer, per)
		if err != nil {
			t.Fatal(err)
		}
		if detailNo(q.Records[len(q.Records)-1]) != detailNo(p.Records[0])+1 {
			t.Fatalf("newer page starts at %d after %d", detailNo(q.Records[len(q.Records)-1]), detailNo(p.Records[0]))
		}
		p = q
	}
	if p.Newer != -1 || detailNo(p.Records[0]) != total-1 {
		t.Fatalf("back at the newest: newer %d, first %d", p.Newer, detailNo(p.Records[0]))
	}
	for _, off := range []int64{1, offsets[1] - 3, size + 1, -1} {
		if _, err := ReadBefore(f, size, off, per); !errors.Is(err, ErrOffset) {
			t.Errorf("ReadBefore(%d): %v", off, err)
		}
		if _, err := ReadAfter(f, size, off, per); !errors.Is(err, ErrOffset) {
			t.Errorf("ReadAfter(%d): %v", off, err)
		}
	}
	// An empty log and a record being written (no newline yet).
	e, esize := openLog(t, writeBigLog(t, 0))
	if p, err := ReadBefore(e, esize, esize, per); err != nil || len(p.Records) != 0 || p.Older != -1 || p.Newer != -1 {
		t.Fatalf("empty log: %+v %v", p, err)
	}
	path := writeBigLog(t, 3)
	g, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	g.WriteString(`{"time":"2026-`)
	g.Close()
	h, hsize := openLog(t, path)
	if p, err := ReadBefore(h, hsize, hsize, per); err != nil || len(p.Records) != 3 || detailNo(p.Records[0]) != 2 {
		t.Fatalf("log with a partial record: %+v %v", p, err)
	}
}

// pageBytes returns the bytes allocated to read the newest page and a
// page in the middle of the log at path.
func pageBytes(t testing.TB, path string, per int) (uint64, uint64) {
	f, size := openLog(t, path)
	mid := size / 2
	// A page ending at a record boundary near the middle.
	start, err := lineStart(f, boundaryOr(f, mid), make([]byte, chunk))
	if err != nil {
		t.Fatal(err)
	}
	measure := func(off int64) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		if _, err := ReadBefore(f, size, off, per); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	return measure(size), measure(start)
}

// boundaryOr returns the first record boundary after off.
func boundaryOr(f *os.File, off int64) int64 {
	end, _ := lineEnd(f, off, off+LimitLine, make([]byte, chunk))
	return end
}

// TestPageMemoryBounded (issue 11 console): reading a page of a 200,000
// record log allocates about what a page of a 1,000 record log does, and
// far less than the log (about 36 MB).
func TestPageMemoryBounded(t *testing.T) {
	small := writeBigLog(t, 1000)
	big := writeBigLog(t, 200_000)
	fi, _ := os.Stat(big)
	s1, s2 := pageBytes(t, small, 50)
	b1, b2 := pageBytes(t, big, 50)
	t.Logf("log of 200,000 records: %d MB; bytes allocated per page of 50: newest %d, middle %d (1,000 records: %d, %d)", fi.Size()>>20, b1, b2, s1, s2)
	const limit = 128 << 10
	for _, b := range []uint64{b1, b2} {
		if b > limit || b > 2*max(s1, s2) {
			t.Fatalf("a page of the big log allocated %d bytes (small log: %d, %d; limit %d)", b, s1, s2, limit)
		}
	}
}

// BenchmarkPage reports the bytes allocated and the time to read one
// page of 50 from a log of 200,000 records.
func BenchmarkPage(b *testing.B) {
	f, size := openLog(b, writeBigLog(b, 200_000))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		if _, err := ReadBefore(f, size, size, 50); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N), "bytes/page")
	b.ReportMetric(float64(size), "log-bytes")
}
