#!/bin/sh
# Seat store speed (issue 10 item 8 and Speed), measured in one run:
#  1. commits/s of SQLite with 8 concurrent committers, each commit a
#     checkout as the server makes it (a granted lease and its usage-log
#     entry, plus the release of an old session once 1,000 are live):
#     group commit (the default) against one transaction and one fsync per
#     commit, paired A B A B in COUNT rounds (default 6) of N commits each
#     (default 3000); medians and their ratio. Also the single-node
#     server's own checkout (the lease put without a Grant: its core decides
#     the seat), which SQLite writes to its change journal and folds in the
#     background (CommitServer; the fold at Close is inside the timing):
#     commits/s and CPU microseconds per commit. With Debian's postgresql
#     binaries installed (or AIRSEAL_PG_BIN), each round also runs the same
#     checkouts against a temporary PostgreSQL (unix socket, fsync on) from
#     two stores (nodes) on one database, 4 committers each.
#  2. Load of 100,000 leases: time per Load, bytes allocated, the heap the
#     loaded state holds (live-MiB) and the database file's size.
#  3. One walk over a usage log of 1,000,000 entries, checking the hash
#     chain as a report would: ns per entry and the heap growth during the
#     walk (peak-MiB; issue 12 wants a report over 1M records under 128 MiB).
# Usage: bench/seat/store.sh [commit|load|events|all]   (default all)
set -eu
cd "$(dirname "$0")/../.."
what=${1:-all}
COUNT=${COUNT:-6}
N=${N:-3000}
tmp=$(mktemp -d)
pgrun=""
pgbin=""
cleanup() {
	if [ -n "$pgbin" ]; then
		$pgrun "$pgbin/pg_ctl" -D "$tmp/pg/data" -m fast stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
go test -c -o "$tmp/bench.test" ./bench/seat/

# start_pg starts a temporary PostgreSQL and sets AIRSEAL_BENCH_PG_URL.
start_pg() {
	bin=${AIRSEAL_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
	if [ ! -x "$bin/initdb" ]; then
		echo "no PostgreSQL binaries (apt-get install postgresql, or set AIRSEAL_PG_BIN): PostgreSQL figures skipped"
		return 0
	fi
	mkdir "$tmp/pg"
	if [ "$(id -u)" = 0 ]; then # PostgreSQL refuses root
		chmod 755 "$tmp"
		chown nobody "$tmp/pg"
		pgrun="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) --clear-groups --"
	fi
	$pgrun "$bin/initdb" -D "$tmp/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
	$pgrun "$bin/pg_ctl" -D "$tmp/pg/data" -o "-c listen_addresses='' -k $tmp/pg" -l "$tmp/pg/log" -w start >/dev/null
	pgbin=$bin
	export AIRSEAL_BENCH_PG_URL="postgres://postgres@/postgres?host=$tmp/pg&sslmode=disable"
}

if [ "$what" = commit ] || [ "$what" = all ]; then
	start_pg
	benches="CommitGroup CommitServer CommitSingle"
	[ -z "$pgbin" ] || benches="$benches CommitPostgres2Nodes"
	i=0
	while [ $i -lt "$COUNT" ]; do
		for b in $benches; do
			TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime "${N}x" -test.count 1 |
				grep '^Benchmark' | tee -a "$tmp/commit.txt"
		done
		i=$((i+1))
	done
	median() {
		grep "^Benchmark$1-" "$tmp/commit.txt" | awk -v u="${2:-commits/s}" '{for (i = 1; i < NF; i++) if ($(i+1) == u) print $i}' | sort -n |
			awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
	}
	g=$(median CommitGroup)
	s=$(median CommitSingle)
	j=$(median CommitServer)
	gc=$(median CommitGroup cpu-us/commit)
	jc=$(median CommitServer cpu-us/commit)
	awk -v g="$g" -v s="$s" -v n="$COUNT" 'BEGIN {
		printf "medians of %d paired rounds, 8 committers: group commit %.0f commits/s, one transaction per commit %.0f commits/s, ratio %.2f\n", n, g, s, g/s
	}'
	awk -v g="$g" -v j="$j" -v gc="$gc" -v jc="$jc" 'BEGIN {
		printf "server checkouts through the change journal: %.0f commits/s (%.2f x group commit), CPU %.0f us per commit against %.0f (%.2f x)\n", j, j/g, jc, gc, jc/gc
	}'
	if [ -n "$pgbin" ]; then
		p=$(median CommitPostgres2Nodes)
		awk -v g="$g" -v p="$p" 'BEGIN {
			printf "PostgreSQL, 2 nodes x 4 committers: %.0f commits/s, %.2f x SQLite group commit\n", p, p/g
		}'
	fi
fi

if [ "$what" = load ] || [ "$what" = all ]; then
	TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkLoad100k$' -test.benchtime 3x -test.count 1 | grep '^Benchmark'
fi

if [ "$what" = events ] || [ "$what" = all ]; then
	TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkEvents1M$' -test.benchtime 2x -test.count 1 -test.timeout 30m | grep '^Benchmark'
fi
