#!/bin/sh
# Usage report over a large usage log (issue 12 item 4, Speed: "report
# generation over one million usage records: streaming, memory under
# 128 MiB"). Builds a month of usage with AIRSEAL_BENCH_RECORDS records
# (default 1,000,000) in a temporary SQLite store, then writes the month's
# report (license-server report's code, seatserver.WriteReport) and
# verifies it (issue report verify's code, usagereport.Verify), COUNT times
# (default 3). Prints per run: seconds to write and verify, the peak memory
# mapped by the Go runtime during each (heap released to the OS excluded),
# and the report's size; then the medians.
# Usage: bench/books/report.sh
set -eu
cd "$(dirname "$0")/../.."
COUNT=${COUNT:-3}
out=$(go test -run '^$' -bench BenchmarkReportMillion -benchtime "${COUNT}x" -count 1 -timeout 60m ./bench/books/)
echo "$out" | grep -E 'Benchmark|built'
echo "$out" | awk '/^BenchmarkReportMillion/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "write-peak-MiB") wp = $(i-1)
		if ($i == "verify-peak-MiB") vp = $(i-1)
		if ($i == "write-s") ws = $(i-1)
		if ($i == "verify-s") vs = $(i-1)
	}
	printf "write %.1f s (peak %.1f MiB), verify %.1f s (peak %.1f MiB); target: peak under 128 MiB: %s\n",
		ws, wp, vs, vp, (wp < 128 && vp < 128) ? "met" : "NOT met"
}'
