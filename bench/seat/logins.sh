#!/bin/sh
# Password logins against seat checkouts (issue 11, "Speed"): checkouts/s
# at CONNS connections (default 8, API tokens) paired A B A B in one run,
# A without logins, B while LOGINS goroutines (default 8) hammer password
# logins (right and wrong, each goroutine one every LOGIN_EVERY, default
# 100ms; from an address the failed-login limit
# exempts) on the same server; prints the medians and the ratio B/A
# (target: unchanged, >= 0.9) and the logins answered by status.
#
# Usage: bench/seat/logins.sh    (env: CONNS, LOGINS, LOGIN_EVERY, ROUNDS, PHASE, BENCH_DIR)
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/logins-bench" ./bench/seat/logins
"$tmp/logins-bench" -conns "${CONNS:-8}" -logins "${LOGINS:-8}" -login-every "${LOGIN_EVERY:-100ms}" -rounds "${ROUNDS:-5}" -phase "${PHASE:-3s}" -dir "${BENCH_DIR:-$tmp}"
