package seatstore

import (
	"regexp"
	"strings"
	"testing"
)

// TestMigrations checks the embedded migration files: numbered 1..N for
// each dialect without a gap, the same count for both (one schema
// version means one schema), and SchemaVersion agreeing.
func TestMigrations(t *testing.T) {
	lite, err := migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones: want the same number, at least 1", len(lite), len(pg))
	}
	if SchemaVersion() != len(lite) {
		t.Fatalf("SchemaVersion() = %d, want %d", SchemaVersion(), len(lite))
	}
	for _, m := range append(lite, pg...) {
		// The SQL is portable: no dialect's own words in a shared file.
		if strings.Count(m.file, ".") > 1 {
			continue
		}
		var code strings.Builder
		for _, line := range strings.Split(m.sql, "\n") {
			line, _, _ = strings.Cut(line, "--")
			code.WriteString(strings.ToUpper(line) + "\n")
		}
		for _, word := range []string{`\bAUTOINCREMENT\b`, `\w\s+(SMALL|BIG)?SERIAL\b`, `\bPRAGMA\b`, `\bBLOB\b`, `::`, `\bWITHOUT ROWID\b`, `\bJSONB\b`} {
			if regexp.MustCompile(word).MatchString(code.String()) {
				t.Errorf("%s uses %s, which only one database knows: move it to a .sqlite.sql or .postgres.sql file", m.file, word)
			}
		}
	}
}
