#!/usr/bin/env bash
# test.sh: every check CI runs, on a fresh Debian machine with Go.
# Installs what the tests need (as root), then: gofmt, go vet, staticcheck,
# go test -race ./..., every fuzz target for a few seconds, and the
# integration step: the slow tests (those that read AIRSEAL_INTEGRATION=1:
# release.sh and the .deb with lintian, dpkg -i/--purge and systemd-analyze,
# install.sh/update.sh, PostgreSQL and browser tests) and ./demo.sh.
#   FUZZTIME=10s ./test.sh       fuzz longer
#   FUZZJOBS=1 ./test.sh         one fuzz target at a time (default: one per CPU)
#   QUICK=1 ./test.sh            skip the fuzzing
#   SKIP_INTEGRATION=1 ./test.sh skip the integration step
# The summary line is printed whatever happens (an EXIT trap), so a failing
# step still says which step failed and how the packages fared, with each
# step's time and the slowest packages of the race step.
#
# The race step runs every test once; the integration step (not -race) runs
# only what the race step could not: in each package whose tests read
# AIRSEAL_INTEGRATION, or whose skip message names it, the tests that were
# skipped, and the tests of the files that read AIRSEAL_INTEGRATION (they
# may do more with it, as TestKill's rounds). A test gated through a helper
# must say AIRSEAL_INTEGRATION in its skip message, as they all do.
set -uo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:$(go env GOPATH)/bin"

current="" passed=0 failed=0 notests=0 fuzzraces=0 ipassed=0 ifailed=0 failures=()
started=$SECONDS times=() slowest=""
# step ends the current step (its time is kept for the summary) and starts
# the next.
step() {
	[ -z "$current" ] || times+=("$(printf '%5ds  %s' $((SECONDS - started)) "$current")")
	current=$* started=$SECONDS
	printf '\n== %s\n' "$*"
}
fail() { failures+=("$current"); }
summary() {
	status=$?
	[ $status -eq 0 ] || [ ${#failures[@]} -gt 0 ] || failures+=("$current")
	times+=("$(printf '%5ds  %s' $((SECONDS - started)) "$current")")
	printf '\n== summary\n'
	echo "step times (total ${SECONDS}s):"
	printf '  %s\n' "${times[@]}"
	[ -z "$slowest" ] || printf 'slowest packages under -race:\n%s\n' "$slowest"
	echo "packages without tests: $notests; fuzz deadline races (no finding): $fuzzraces"
	if [ "${SKIP_INTEGRATION:-}" = 1 ]; then
		echo "integration: skipped (SKIP_INTEGRATION=1)"
	else
		echo "integration: $ipassed passed, $ifailed failed"
	fi
	echo "packages: $passed passed, $failed failed"
	if [ ${#failures[@]} -gt 0 ]; then
		echo "FAILED steps: ${failures[*]}"
		exit 1
	fi
	echo "all checks passed"
}
trap summary EXIT

step "tools"
need_apt=()
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v systemd-detect-virt >/dev/null || need_apt+=(systemd)
command -v script >/dev/null || need_apt+=(bsdutils)
if [ "${SKIP_INTEGRATION:-}" != 1 ]; then
	# The integration step: lintian, dpkg and systemd-analyze (with man, which
	# it asks about the unit's Documentation=) for the .deb; PostgreSQL's
	# binaries (/usr/lib/postgresql/*/bin) and chromium with its driver for
	# the license server's tests; hyperfine for bench/.
	command -v lintian >/dev/null || need_apt+=(lintian)
	command -v man >/dev/null || need_apt+=(man-db)
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
	[ -x /usr/bin/chromium ] || need_apt+=(chromium)
	command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
	command -v hyperfine >/dev/null || need_apt+=(hyperfine)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "installing ${need_apt[*]}"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null; } || fail
	else
		echo "missing: ${need_apt[*]} (install them with apt-get as root)" >&2
	fi
fi
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	fail
fi

step "go vet"
go vet ./... || fail

step "staticcheck"
staticcheck ./... || fail

step "go test -race"
testlog=$(mktemp) skiplog=$(mktemp)
# -v, so that the log names the tests skipped (the integration step runs
# them); the console shows what a plain go test prints: the package lines,
# build errors, and then the whole output of each failing package.
go test -race -count=1 -v ./... 2>&1 | tee "$testlog" |
	grep -a --line-buffered -E '^(ok  |FAIL|\?   )'$'\t''|^# |^[^[:space:]]+\.go:[0-9]+:' || fail
passed=$(grep -ac '^ok ' "$testlog" || true)
failed=$(grep -ac '^FAIL[[:space:]]' "$testlog" || true)
notests=$(grep -ac '^?.*\[no test files\]' "$testlog" || true)
# go test prints each package's output in one piece, ending with its
# ok/FAIL line: the pieces that end in FAIL are shown (their line ranges,
# then sed: no copy of a piece is kept, the log can be tens of MB); from
# every piece, the top-level tests skipped (or with a skipped subtest) are
# listed as "PACKAGE TEST", a package whose test output names
# AIRSEAL_INTEGRATION as "PACKAGE -", and each top-level test's time.
testtimes=$(mktemp) failranges=$(mktemp)
awk -v times="$testtimes" -v ranges="$failranges" '
	/^(ok  |FAIL|\?   )\t[^ \t]/ {
		split($0, f, /\t/)
		if (f[1] == "FAIL") print start "," NR "p" > ranges
		for (n in skip) print f[2], n
		if (named) print f[2], "-"
		for (n in took) printf "%8.1fs  %s %s\n", took[n], f[2], n > times
		start = NR + 1; named = 0; delete skip; delete took
		next
	}
	/^--- (PASS|FAIL): / { t = $4; gsub(/[()s]/, "", t); took[$3] = t }
	/^ *--- SKIP: / { n = $3; sub(/\/.*/, "", n); skip[n] = 1 }
	/AIRSEAL_INTEGRATION/ { named = 1 }
' start=1 "$testlog" > "$skiplog"
[ ! -s "$failranges" ] || sed -n -f "$failranges" "$testlog" >&2
slowest=$(awk '$1 == "ok" && $3 ~ /s$/ { t = $3; sub(/s$/, "", t); printf "%8.1fs  %s\n", t, $2 }' "$testlog" | sort -rn | head -n 8)
slowest+=$'\n'"slowest tests under -race:"$'\n'$(sort -rn "$testtimes" | head -n 8)
rm -f "$testlog" "$testtimes" "$failranges"

module=$(go list -m)
# imp turns a package directory (./cmd/bundle) into its import path.
imp() { if [ "$1" = . ]; then echo "$module"; else echo "$module/${1#./}"; fi; }

# fuzz_one PKG DIR BIN TARGET TIME WORKERS OUT runs one fuzz target and
# writes its verdict to OUT (ok, race or fail) and its output to OUT.log.
fuzz_one() {
	local pkg=$1 dir=$2 bin=$3 target=$4 time=$5 workers=$6 out=$7
	echo "fuzz $pkg $target"
	if (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$time" -test.parallel "$workers" \
		-test.fuzzcachedir "$fuzzcache/$pkg" -test.timeout 10m -test.paniconexit0) >"$out.log" 2>&1; then
		echo ok >"$out"
	# Go's fuzz coordinator can report "context deadline exceeded" as the
	# -fuzztime deadline passes, having found nothing (a race in the
	# toolchain, golang/go#75804, fixed in Go 1.27). A real finding always
	# writes its failing input; that is what fails.
	elif grep -q 'context deadline exceeded' "$out.log" && ! grep -q 'Failing input written' "$out.log"; then
		echo "  (fuzz $target: toolchain fuzz deadline race, no failing input: not a finding)"
		echo race >"$out"
	else
		echo fail >"$out"
	fi
}

if [ -z "${QUICK:-}" ]; then
	fuzztime=${FUZZTIME:-4s}
	ncpu=$(nproc)
	fuzzjobs=${FUZZJOBS:-$ncpu}
	# Targets run FUZZJOBS at a time, each with NCPU/FUZZJOBS workers for
	# FUZZTIME x FUZZJOBS: the same worker-seconds per target as one target
	# at a time on every CPU for FUZZTIME (4 s on 2 CPUs = 1 worker for 8 s
	# with 2 jobs), while one target's start-up and baseline coverage run
	# beside another's fuzzing. A FUZZTIME in executions (1000x) runs one
	# target at a time.
	workers=$((ncpu / fuzzjobs))
	if [[ ! $fuzztime =~ ^[0-9]+s$ ]] || [ "$workers" -lt 1 ]; then
		fuzzjobs=1 workers=$ncpu
	fi
	[ "$fuzzjobs" -eq 1 ] || fuzztime=$((${fuzztime%s} * fuzzjobs))s
	step "fuzz (${FUZZTIME:-4s} on $ncpu CPUs per target: $fuzzjobs at a time, $workers workers, $fuzztime each)"
	fuzzdir=$(mktemp -d) fuzzcache=$(go env GOCACHE)/fuzz
	# The targets are read from the source (func FuzzX(f *testing.F) in a
	# _test.go file) instead of building every package to list them. Each
	# package's test binary is built once, instrumented for fuzzing (go test
	# -c -fuzz), and run once per target in the package's directory with go
	# test's own corpus cache: what go test -fuzz does, less a link per
	# target. Targets write only their own corpus (testdata/fuzz/FuzzX and
	# the cache's FuzzX), so they can run side by side.
	fuzzre='^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]* \*testing\.F\)'
	n=0
	for dir in $(grep -rlE --include='*_test.go' "$fuzzre" . | xargs -r -n1 dirname | LC_ALL=C sort -u); do
		pkg=$(imp "$dir") bin=$fuzzdir/$(echo "${dir#./}" | tr / _).test
		if ! go test -c -fuzz . -o "$bin" "$dir" >"$fuzzdir/build.log" 2>&1; then
			cat "$fuzzdir/build.log" >&2
			fail
			continue
		fi
		for target in $(grep -hoE "$fuzzre" "$dir"/*_test.go | sed 's/^func //; s/(.*//' | LC_ALL=C sort -u); do
			while [ "$(jobs -rp | wc -l)" -ge "$fuzzjobs" ]; do wait -n; done
			n=$((n + 1))
			fuzz_one "$pkg" "$dir" "$bin" "$target" "$fuzztime" "$workers" "$fuzzdir/$n.verdict" &
		done
	done
	wait
	for ((i = 1; i <= n; i++)); do
		case $(cat "$fuzzdir/$i.verdict" 2>/dev/null) in
		ok) ;;
		race) fuzzraces=$((fuzzraces + 1)) ;;
		*)
			cat "$fuzzdir/$i.verdict.log" >&2
			fail
			;;
		esac
	done
	rm -rf "$fuzzdir"
fi

if [ "${SKIP_INTEGRATION:-}" = 1 ]; then
	step "integration (skipped: SKIP_INTEGRATION=1)"
else
	step "integration (AIRSEAL_INTEGRATION=1 go test of the slow tests; demo.sh)"
	# The packages with slow tests, and in them the tests the race step
	# skipped plus those of the files that read AIRSEAL_INTEGRATION.
	ipkgs=$({
		grep -rl --include='*_test.go' 'AIRSEAL_INTEGRATION' . | xargs -r -n1 dirname
		awk '$2 == "-" { print $1 }' "$skiplog" | sed "s|^$module\$|.|; s|^$module/|./|"
	} | LC_ALL=C sort -u)
	names=$(for d in $ipkgs; do
		awk -v p="$(imp "$d")" '$1 == p && $2 != "-" { print $2 }' "$skiplog"
		grep -l 'AIRSEAL_INTEGRATION' "$d"/*_test.go 2>/dev/null | xargs -r grep -hoE '^func Test[A-Za-z0-9_]*\(' | sed 's/^func //; s/($//'
	done | grep -vx TestMain | LC_ALL=C sort -u | paste -sd '|')
	echo "tests: ${names//|/ }"
	ilog=$(mktemp)
	if [ -n "$names" ]; then
		# shellcheck disable=SC2086 # one argument per package directory
		AIRSEAL_INTEGRATION=1 go test -count=1 -timeout 20m -run "^($names)\$" $ipkgs 2>&1 | tee "$ilog" || fail
	fi
	ipassed=$(grep -c '^ok ' "$ilog" || true)
	ifailed=$(grep -c '^FAIL[[:space:]]' "$ilog" || true)
	rm -f "$ilog"
	dlog=$(mktemp) ddir=$(mktemp -d)
	echo "./demo.sh (output in $dlog while it runs)"
	if DEMO_DIR=$ddir ./demo.sh >"$dlog" 2>&1; then
		tail -n 2 "$dlog"
	else
		tail -n 40 "$dlog" >&2
		echo "demo.sh failed" >&2
		fail
	fi
	rm -rf "$dlog" "$ddir"
fi
rm -f "$skiplog"
