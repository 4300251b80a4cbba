#!/bin/sh
# License verification speed, measured against baselines in the same run.
#
# 1. Go benchmarks: license.Verify of a license with 20 features (raw, armored
#    file, typed code, and armored + machine binding) against one bare
#    ed25519.Verify. Rounds are interleaved (every benchmark once per round)
#    so that load from other processes hits all of them alike; the script
#    prints the median ns/op of each and its ratio to the baseline.
#    Target: armored-file Verify <= 1.2x bare ed25519.Verify.
# 2. The verify binary as a whole process on a valid license (unbound, and
#    bound to this machine), timed by hyperfine, with `true` as the
#    process-start baseline. Target: median < 10 ms.
#
# Usage: bench/license/run.sh [ROUNDS]   (default 25; needs go and hyperfine)
set -eu
rounds=${1:-25}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"

echo "== Go benchmarks: $rounds interleaved rounds (go $(go env GOVERSION), $(nproc) CPUs)"
go test -c -o "$tmp/bench.test" ./bench/license
i=0
while [ "$i" -lt "$rounds" ]; do
	"$tmp/bench.test" -test.run '^$' -test.bench . -test.benchtime 300ms >>"$tmp/bench.txt"
	i=$((i + 1))
done
awk '
/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); v[name, ++n[name]] = $3; names[name] = 1 }
function median(name,   k, i, j, t, a) {
	k = n[name]
	for (i = 1; i <= k; i++) a[i] = v[name, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	base = median("BenchmarkEd25519Verify")
	for (name in names) printf "%-28s %12.0f %7.2fx\n", name, median(name), median(name) / base
}' "$tmp/bench.txt" | sort | sed '1i benchmark                    median ns/op    ratio' 

echo
echo "== verify as a whole process (hyperfine)"
go build -trimpath -o "$tmp/issue" ./cmd/issue
go build -trimpath -o "$tmp/verify" ./cmd/verify
go build -o "$tmp/request" ./bench/license/request
cd "$tmp"
export AIRSEAL_PASSPHRASE=bench
./issue keygen -o vendor >/dev/null 2>&1
features=""
for n in 00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19; do
	features="$features --feature feature_$n=$n"
done
# shellcheck disable=SC2086
./issue license --key vendor.key --product 'Acme Writer' --customer 'Example LLC' --unbound \
	--updates-until 2099-01-01 $features -o unbound.lic 2>/dev/null
./verify --pub vendor.pub --state "$tmp/state" unbound.lic >/dev/null
bound=""
if ./request 'Acme Writer' request.json; then
	# shellcheck disable=SC2086
	./issue license --key vendor.key --request request.json --allow-virtual --updates-until 2099-01-01 \
		$features -o bound.lic 2>/dev/null
	./verify --pub vendor.pub --state "$tmp/state" bound.lic >/dev/null
	bound="./verify --pub vendor.pub --state $tmp/state bound.lic"
fi
hyperfine -N --warmup 20 --runs 200 --export-json "$tmp/hf.json" \
	-n 'true (process start)' 'true' \
	-n 'verify unbound' "./verify --pub vendor.pub --state $tmp/state unbound.lic" \
	${bound:+-n 'verify bound (reads hardware)'} ${bound:+"$bound"} >/dev/null
awk -v RS='{' '/"command"/ { match($0, /"command": "[^"]*"/); c = substr($0, RSTART + 12, RLENGTH - 13) }
/"median"/ { match($0, /"median": [0-9.e-]+/); printf "%-32s median %6.2f ms\n", c, substr($0, RSTART + 10, RLENGTH - 10) * 1000 }' "$tmp/hf.json"
