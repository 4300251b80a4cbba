#!/bin/sh
# Seat store speed (issue 10 item 8 and Speed), measured in one run:
#  1. commits/s of SQLite with 8 concurrent committers, each commit a
#     checkout as the server makes it (a granted lease and its usage-log
#     entry, plus the release of an old session once 1,000 are live):
#     group commit (the default) against one transaction and one fsync per
#     commit, paired A B A B in COUNT rounds (default 6) of N commits each
#     (default 3000); medians and their ratio.
#  2. Load of 100,000 leases: time per Load, bytes allocated, the heap the
#     loaded state holds (live-MiB) and the database file's size.
# Usage: bench/seat/store.sh [commit|load|all]   (default all)
set -eu
cd "$(dirname "$0")/../.."
what=${1:-all}
COUNT=${COUNT:-6}
N=${N:-3000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" ./bench/seat/

if [ "$what" = commit ] || [ "$what" = all ]; then
	i=0
	while [ $i -lt "$COUNT" ]; do
		for b in CommitGroup CommitSingle; do
			TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime "${N}x" -test.count 1 |
				grep '^Benchmark' | tee -a "$tmp/commit.txt"
		done
		i=$((i+1))
	done
	median() {
		grep "^Benchmark$1-" "$tmp/commit.txt" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "commits/s") print $i}' | sort -n |
			awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
	}
	g=$(median CommitGroup)
	s=$(median CommitSingle)
	awk -v g="$g" -v s="$s" -v n="$COUNT" 'BEGIN {
		printf "medians of %d paired rounds, 8 committers: group commit %.0f commits/s, one transaction per commit %.0f commits/s, ratio %.2f\n", n, g, s, g/s
	}'
fi

if [ "$what" = load ] || [ "$what" = all ]; then
	TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkLoad100k$' -test.benchtime 3x -test.count 1 | grep '^Benchmark'
fi
