#!/bin/sh
# Benchmark: hwid as a whole process (facts, verdict, fingerprint) on a
# fixture tree, against systemd-detect-virt on this machine, in one
# hyperfine run. Target: hwid median under 20 ms.
#
# Usage: bench/hwid/bench.sh [FIXTURE]   (from the repository root)
#   FIXTURE: a pkg/hwid/testdata/envs/*.txtar environment
#            (default bm-dell-poweredge-r440)
# Needs: go, hyperfine (apt-get install -y hyperfine), systemd-detect-virt
# (Debian package systemd).
set -eu

cd "$(dirname "$0")/../.."
fixture=${1:-bm-dell-poweredge-r440}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/hwid" ./cmd/hwid

# Unpack the txtar fixture into a tree laid out like /.
awk -v root="$work/tree" '
	/^-- .* --$/ { name = substr($0, 4, length($0) - 6); file = root "/" name
		dir = file; sub(/\/[^\/]*$/, "", dir); system("mkdir -p \"" dir "\""); printf "" > file; close(file); next }
	file != "" { print >> file; close(file) }
' "pkg/hwid/testdata/envs/$fixture.txtar"

# The unpacked tree must give the fixture's verdict (exit 0 on bare metal).
"$work/hwid" --root "$work/tree" >/dev/null

hyperfine --shell=none --warmup 10 --runs 200 \
	--export-json "$work/results.json" --export-markdown "$work/results.md" \
	-n "hwid --root $fixture" "$work/hwid --root $work/tree" \
	-n "hwid --json --root $fixture" "$work/hwid --json --root $work/tree" \
	-n "hwid --allow-virtual (this machine)" "$work/hwid --allow-virtual" \
	-n "systemd-detect-virt" "systemd-detect-virt"

# Medians and ratio (hwid / systemd-detect-virt).
cat "$work/results.md"
RESULTS="$work/results.json" python3 - <<'PY'
import json
import os
r = json.load(open(os.environ["RESULTS"]))["results"]
m = {x["command"]: x["median"] * 1000 for x in r}
for k, v in m.items():
    print(f"{k}: median {v:.2f} ms")
base = m["systemd-detect-virt"]
for k, v in m.items():
    if k != "systemd-detect-virt":
        print(f"ratio {k} / systemd-detect-virt = {v / base:.2f}")
PY
