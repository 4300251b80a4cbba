#!/bin/sh
# License-server cluster speed (issue 12, "Speed"), in one run: checkouts/s
# of two nodes sharing one PostgreSQL database (a temporary server started
# from Debian's postgresql binaries: initdb into a temporary directory,
# unix socket only, fsync on), beside one node on SQLite and the bare
# net/http floor of bench/seat/server (token check + one Ed25519 signature,
# nothing stored). Phases alternate floor, sqlite, postgres for ROUNDS
# rounds (default 5) of PHASE each (default 3s) at CONNS connections
# (default 8); prints per phase req/s and p99, the medians and the ratios
# (target: postgres >= 0.25x floor). Last, what a node's refresh pays to
# read the shared state once REFRESH leases (default 2500) changed: Load
# (every lease) against LoadCached (the changed ones), medians of 6 pairs.
#
# Usage: bench/seat/cluster.sh    (env: CONNS, ROUNDS, PHASE, REFRESH; AIRSEAL_PG_BIN
#        names PostgreSQL's bin directory if not /usr/lib/postgresql/N/bin)
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/seat-cluster-bench" ./bench/seat/cluster
"$tmp/seat-cluster-bench" -conns "${CONNS:-8}" -rounds "${ROUNDS:-5}" -phase "${PHASE:-3s}" -refresh "${REFRESH:-2500}"
