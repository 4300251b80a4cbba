package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeLog(t *testing.T) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, what := range []string{"login", "approve device", "remove license"} {
		if err := w.Append(now.Add(time.Duration(i)*time.Minute), "admin", what, "10.0.0.1", "x\n{\"forged\":1}\u202e"); err != nil {
			t.Fatal(err)
		}
	}
	head := w.Head()
	w.Close()
	return p, head
}

func TestChainAndTamper(t *testing.T) {
	p, head := writeLog(t)
	b, _ := os.ReadFile(p)
	if err := VerifyHead(bytes.NewReader(b), head); err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), "\n") != 3 || strings.Contains(string(b), "\u202e") {
		t.Fatal("detail not cleaned")
	}
	lines := strings.SplitAfter(string(b), "\n")
	edited := strings.Replace(string(b), "approve device", "deny device!!", 1)
	deleted := lines[0] + lines[2]
	reordered := lines[1] + lines[0] + lines[2]
	trimmed := lines[0] + lines[1]
	for name, s := range map[string]string{"edited": edited, "deleted": deleted, "reordered": reordered} {
		if _, _, err := Verify(strings.NewReader(s)); err == nil {
			t.Errorf("%s log verified", name)
		}
	}
	if _, _, err := Verify(strings.NewReader(trimmed)); err != nil {
		t.Fatal("prefix should verify alone")
	}
	if err := VerifyHead(strings.NewReader(trimmed), head); err == nil {
		t.Fatal("trimmed tail not detected against head")
	}
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil {
		t.Fatal("Open accepted a tampered log")
	}
}

func TestReopenContinuesChain(t *testing.T) {
	p, _ := writeLog(t)
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(time.Now(), "root", "user add", "::1", ""); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f, _ := os.Open(p)
	defer f.Close()
	var whos []string
	if _, err := Read(f, func(_ int, r Record) error { whos = append(whos, r.Who); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(whos) != 4 || whos[3] != "root" {
		t.Fatalf("%v", whos)
	}
}
