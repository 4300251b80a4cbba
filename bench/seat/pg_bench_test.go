package seatbench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// pgEnv names a PostgreSQL URL (a database the benchmark may create
// schemas in); store.sh starts a temporary server and sets it.
const pgEnv = "AIRSEAL_BENCH_PG_URL"

// BenchmarkCommitPostgres2Nodes: the checkouts of BenchmarkCommitGroup
// against PostgreSQL, from two stores (nodes) on one database, 4
// committers each, with group commit in each node.
func BenchmarkCommitPostgres2Nodes(b *testing.B) {
	url := os.Getenv(pgEnv)
	if url == "" {
		b.Skip("set " + pgEnv + " (bench/seat/store.sh does)")
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", url)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatal(err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	surl := url + sep + "search_path=" + schema
	var nodes [2]*seatstore.Postgres
	for i := range nodes {
		if nodes[i], err = seatstore.OpenPostgres(context.Background(), surl); err != nil {
			b.Fatal(err)
		}
		defer nodes[i].Close()
	}
	commitLoadOn(b, func(w int) seatstore.Store { return nodes[w%2] }, func() int64 { return nodes[0].Batches() + nodes[1].Batches() })
}
