package seatstore

import (
	"strings"
	"testing"
)

func TestPositional(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`UPDATE t SET a = $2 WHERE id = $1`, `UPDATE t SET a = $2 WHERE id = $1`}, // out of order: kept
		{`SELECT a FROM t WHERE id = $1 AND b = $2`, `SELECT a FROM t WHERE id = ? AND b = ?`},
		{`INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, `INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?)`},
		{`SELECT $1, $1`, `SELECT $1, $1`},    // used twice: kept
		{`SELECT '$1', $1`, `SELECT '$1', ?`}, // in a literal: not a parameter
		{`SELECT 1`, `SELECT 1`},
	} {
		if got := positional(c.in); got != c.want {
			t.Errorf("positional(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Every statement the writer prepares binds positionally but the one
	// whose parameters are out of order (qLeaseRenew).
	kept := 0
	for _, q := range append(writerQueries, eventInsert(1), eventInsert(eventsPerStmt)) {
		if strings.Contains(q, "$") && positional(q) == q {
			kept++
		}
	}
	if kept > 1 {
		t.Errorf("%d writer statements keep $N parameters, want at most 1", kept)
	}
}
