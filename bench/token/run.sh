#!/bin/sh
# Speed targets of issue #5, measured in one run on this machine:
#  1. Go benchmarks: Verify vs bare ed25519.Verify (<= 1.25x), Mint vs bare
#     ed25519.Sign (<= 1.5x); medians of COUNT runs (default 10).
#  2. 'token serve' on loopback under bench/token/load: >= 10,000 token
#     requests/s with p99 < 5 ms; bounded by N requests (default 200000) and
#     DURATION (default 30s), CONNS keep-alive connections (default 8), on ADDR.
#     As in production, every token is written to issued.jsonl before it is
#     sent (fsynced in the background), so the run measures that too.
#  3. revlist: Verify with an empty revocation list vs one of 100,000 jtis
#     and 100,000 serials, paired in each of COUNT rounds; ratio of medians
#     (issue 8 item 10: target about 1.0, i.e. no growth with the list);
#     and the license revocation lookup with 1 vs 200,000 serials (item 12).
#  4. ledger: one ledger append (with fsync) to a ledger of 1 record vs one of
#     1,000,000 records, paired in each of COUNT rounds; ratio of medians
#     (issue 8 item 11: target about 1.0, an append checks only the tail).
# Usage: bench/token/run.sh [go|load|revlist|ledger|all]   (default all)
set -eu
cd "$(dirname "$0")/../.."
what=${1:-all}
COUNT=${COUNT:-10}
N=${N:-200000}
DURATION=${DURATION:-30s}
CONNS=${CONNS:-8}
ADDR=${ADDR:-127.0.0.1:18089}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$what" = go ] || [ "$what" = all ]; then
	# Rounds interleave the benchmarks, so a burst of load from other
	# processes hits baseline and candidate alike.
	go test -c -o "$tmp/bench.test" ./bench/token/
	i=0
	while [ $i -lt "$COUNT" ]; do
		"$tmp/bench.test" -test.run '^$' -test.bench . -test.count 1 | grep '^Benchmark' | tee -a "$tmp/bench.txt"
		i=$((i+1))
	done
	median() {
		grep "^Benchmark$1-" "$tmp/bench.txt" | awk '{print $3}' | sort -n |
			awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
	}
	echo
	echo "medians of $COUNT rounds (ns/op):"
	for b in Ed25519Verify Verify VerifyGoJose Ed25519Sign Mint MintGoJose; do
		eval "m_$b=$(median $b)"
		eval "printf '  %-14s %8.0f\\n' $b \$m_$b"
	done
	awk -v v="$m_Verify" -v bv="$m_Ed25519Verify" -v jv="$m_VerifyGoJose" \
		-v m="$m_Mint" -v bs="$m_Ed25519Sign" -v jm="$m_MintGoJose" 'BEGIN {
		printf "Verify / Ed25519Verify       = %.3f (target <= 1.25)\n", v/bv
		printf "VerifyGoJose / Ed25519Verify = %.3f\n", jv/bv
		printf "Mint / Ed25519Sign           = %.3f (target <= 1.5)\n", m/bs
		printf "MintGoJose / Ed25519Sign     = %.3f\n", jm/bs
	}'
fi

if [ "$what" = revlist ] || [ "$what" = all ]; then
	go test -c -o "$tmp/bench.test" ./bench/token/
	i=0
	while [ $i -lt "$COUNT" ]; do
		"$tmp/bench.test" -test.run '^$' -test.bench '^Benchmark(VerifyRevoked|LicenseRevoked)' -test.count 1 | grep '^Benchmark' | tee -a "$tmp/rev.txt"
		i=$((i+1))
	done
	rmedian() {
		grep "^Benchmark$1-" "$tmp/rev.txt" | awk '{print $3}' | sort -n |
			awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
	}
	r0=$(rmedian VerifyRevoked0)
	r1=$(rmedian VerifyRevoked100k)
	l0=$(rmedian LicenseRevoked1)
	l1=$(rmedian LicenseRevoked200k)
	awk -v a="$r0" -v b="$r1" -v c="$l0" -v d="$l1" -v n="$COUNT" 'BEGIN {
		printf "medians of %d paired rounds: token verify, revoked 0 = %.0f ns/op, revoked 100k+100k = %.0f ns/op, ratio %.3f\n", n, a, b, b/a
		printf "license revocation lookup, list of 1 = %.1f ns/op, of 200,000 = %.1f ns/op, ratio %.2f (binary search)\n", c, d, d/c
	}'
fi

if [ "$what" = ledger ] || [ "$what" = all ]; then
	go test -c -o "$tmp/bench.test" ./bench/token/
	i=0
	while [ $i -lt "$COUNT" ]; do
		TMPDIR="$tmp" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkLedgerAppend' -test.count 1 | grep '^Benchmark' | tee -a "$tmp/ledger.txt"
		i=$((i+1))
	done
	lmedian() {
		grep "^Benchmark$1-" "$tmp/ledger.txt" | awk '{print $3}' | sort -n |
			awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
	}
	a=$(lmedian LedgerAppend1)
	b=$(lmedian LedgerAppend1M)
	awk -v a="$a" -v b="$b" -v n="$COUNT" 'BEGIN {
		printf "medians of %d paired rounds: append to 1 record = %.0f ns/op, to 1,000,000 records = %.0f ns/op, ratio %.3f (target about 1)\n", n, a, b, b/a
	}'
fi

if [ "$what" = load ] || [ "$what" = all ]; then
	go build -o "$tmp/token" ./cmd/token
	go build -o "$tmp/load" ./bench/token/load
	export AIRSEAL_PASSPHRASE=bench-passphrase AIRSEAL_TOKEN_DIR="$tmp/dir"
	"$tmp/token" init >/dev/null 2>&1
	secret=$("$tmp/token" client add bench --aud https://portal.local/rest/ --scope crm 2>/dev/null | sed -n 's/^client_secret=//p')
	"$tmp/token" serve --addr $ADDR --log-level warn 2>"$tmp/serve.log" &
	pid=$!
	i=0
	until "$tmp/load" -addr $ADDR -client-id bench -secret "$secret" -c 1 -n 1 -warmup 1 >/dev/null 2>&1; do
		i=$((i+1)); [ $i -lt 50 ] || { echo "server did not start"; cat "$tmp/serve.log"; kill $pid; exit 1; }
		sleep 0.1
	done
	"$tmp/load" -addr $ADDR -client-id bench -secret "$secret" -c "$CONNS" -n "$N" -duration "$DURATION" || status=$?
	kill -TERM $pid
	wait $pid || true
	exit ${status:-0}
fi
