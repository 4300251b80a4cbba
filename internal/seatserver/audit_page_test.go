package seatserver

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/console"
	"github.com/airseal/airseal/internal/users"
)

// TestConsoleAuditPages (issue 11 console): the audit page shows the
// newest records first, console.PageSize a page, and its older / newer
// links walk a long log (read a page at a time, internal/audit's
// TestPageMemoryBounded) without a gap; a hand-made offset is refused.
func TestConsoleAuditPages(t *testing.T) {
	const total = 5000
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	head := strings.Repeat("0", 64)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < total; i++ {
		b, _ := json.Marshal(audit.Record{Time: t0.Add(time.Duration(i) * time.Second), Who: "admin", What: "edit whitelist.dat",
			From: "192.0.2.1", Detail: fmt.Sprintf("entry-%05d", i), Prev: head})
		b = append(b, '\n')
		w.Write(b)
		sum := sha256.Sum256(b)
		head = hex.EncodeToString(sum[:])
	}
	w.Flush()
	f.Close()
	aud, err := audit.Open(path) // verifies the chain written above
	if err != nil {
		t.Fatal(err)
	}
	defer aud.Close()
	us := users.NewMemory()
	if err := users.Add(us, "boss", users.Admin, "boss long password"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Users, c.Audit = us, aud
		c.Extras.Console, c.Extras.AuditPath = true, path
	})
	b := &browser{t: t, base: e.base, cookies: map[string]string{}}
	if st, _ := b.login("boss", "boss long password"); st != 303 {
		t.Fatalf("login: %d", st)
	}
	entry := regexp.MustCompile(`entry-(\d{5})`)
	older := regexp.MustCompile(`href="\?before=(\d+)"`)
	newer := regexp.MustCompile(`href="\?after=(\d+)"`)
	rows := func(page string) []int {
		var out []int
		for _, m := range entry.FindAllStringSubmatch(page, -1) {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
		return out
	}
	get := func(q string) string {
		t.Helper()
		st, page, _ := b.do("GET", "/console/audit"+q, nil)
		if st != 200 {
			t.Fatalf("audit%s: %d %s", q, st, page)
		}
		return page
	}
	page := get("")
	if r := rows(page); len(r) != console.PageSize || r[0] != total-1 || r[len(r)-1] != total-console.PageSize {
		t.Fatalf("first page rows %v", r)
	}
	if newer.MatchString(page) {
		t.Fatal("the newest page links to newer records")
	}
	// Older pages, five of them, then back.
	var pages []string
	for i := 0; i < 5; i++ {
		m := older.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("page %d has no older link", i+1)
		}
		prev := rows(page)
		page = get("?before=" + m[1])
		r := rows(page)
		if len(r) != console.PageSize || r[0] != prev[len(prev)-1]-1 {
			t.Fatalf("older page %d starts at %d after %d", i+2, r[0], prev[len(prev)-1])
		}
		pages = append(pages, page)
	}
	for i := len(pages) - 1; i > 0; i-- {
		m := newer.FindStringSubmatch(pages[i])
		if m == nil {
			t.Fatalf("older page has no newer link")
		}
		if got, want := rows(get("?after="+m[1])), rows(pages[i-1]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("newer page %v, want %v", got, want)
		}
	}
	// The oldest page: found by walking from the start of the file.
	if r := rows(get("?after=0")); len(r) != console.PageSize || r[len(r)-1] != 0 {
		t.Fatalf("oldest page %v", r)
	}
	for _, q := range []string{"?before=17", "?before=-5", "?after=99999999999", "?before=x"} {
		if st, _, _ := b.do("GET", "/console/audit"+q, nil); st != 400 {
			t.Errorf("audit%s: %d, want 400", q, st)
		}
	}
}
