#!/bin/sh
# Seat server speed (issue 10, "Speed"), paired with its floor in one run:
# checkouts/s and renewals/s on loopback at CONNS connections (default 8),
# each checkout a new session, signed and durable in SQLite (WAL,
# synchronous=FULL, group commit) before it is answered, against a bare
# net/http floor doing the same Basic-auth token check and one Ed25519
# signature without storage. Phases alternate floor, checkout, renew for
# ROUNDS rounds (default 7) of PHASE each (default 3s); prints per phase
# the requests per store transaction (group commit at work), the medians
# and ratios (targets: checkout >= 0.5x floor, renew >= 0.7x floor). Then
# SCALE live leases (default 100000) against 100, each server in a process
# of its own (as in production: the garbage collector of the 100-lease
# server does not mark the other's leases): renewal p99 paired round by
# round, the order alternating (target: ratio <= 1, no worse), the server
# CPU per renewal and the garbage collector's share, the resident memory
# of the server holding SCALE (target < 256 MiB), a sweep's time.
#
# SYNCS=1 (needs strace) instead counts the fsyncs of one checkout and one
# renew phase against the store's transactions: with synchronous=FULL in
# WAL mode one fsync per transaction, plus a few for checkpoints. More
# means a regression (a second sync per commit).
#
# Usage: bench/seat/server.sh    (env: CONNS, ROUNDS, PHASE, SCALE, SYNCS,
#        BENCH_DIR, BENCH_FLAGS: more flags, e.g. -cpuprofile F -only renew;
#        -store memory runs the phases on seatstore.Memory: not durable,
#        for profiling the request path only)
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/seat-bench" ./bench/seat/server
if [ "${SYNCS:-0}" = 1 ]; then
	strace -f -qq -c -e trace=fsync,fdatasync -o "$tmp/strace.txt" \
		"$tmp/seat-bench" -conns "${CONNS:-8}" -rounds 1 -phase "${PHASE:-3s}" -only checkout,renew -dir "$tmp" | tee "$tmp/out.txt"
	tx=$(awk '/^store transactions:/ {print $3}' "$tmp/out.txt")
	syncs=$(awk '$NF == "fsync" || $NF == "fdatasync" {n += $4} END {print n + 0}' "$tmp/strace.txt")
	awk -v s="$syncs" -v t="$tx" 'BEGIN { printf "fsyncs %d for %d transactions: %.3f per transaction (want 1 plus checkpoints)\n", s, t, s / t }'
	exit 0
fi
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
"$tmp/seat-bench" -conns "${CONNS:-8}" -rounds "${ROUNDS:-7}" -phase "${PHASE:-3s}" -scale "${SCALE:-100000}" -dir "${BENCH_DIR:-$tmp}" ${BENCH_FLAGS:-}
