#!/bin/sh
# Seat server speed (issue 10, "Speed"), paired with its floor in one run:
# checkouts/s and renewals/s on loopback at CONNS connections (default 8),
# each checkout a new session, signed and durable in SQLite (WAL, group
# commit) before it is answered, against a bare net/http floor doing the
# same Basic-auth token check and one Ed25519 signature without storage.
# Phases alternate floor, checkout, renew for ROUNDS rounds (default 7) of
# PHASE each (default 3s); prints medians and ratios (targets: checkout
# >= 0.5x floor, renew >= 0.7x floor). Then SCALE live leases (default
# 100000) against 100: renewal p99 paired round by round (target: no
# worse), the heap they take (target < 256 MiB), a sweep's time.
#
# Usage: bench/seat/server.sh    (env: CONNS, ROUNDS, PHASE, SCALE, BENCH_DIR)
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/seat-bench" ./bench/seat/server
"$tmp/seat-bench" -conns "${CONNS:-8}" -rounds "${ROUNDS:-7}" -phase "${PHASE:-3s}" -scale "${SCALE:-100000}" -dir "${BENCH_DIR:-$tmp}"
