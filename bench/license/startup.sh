#!/bin/sh
# verify's whole-process start-up against a Go hello-world built the same way
# as release.sh builds what ships (CGO_ENABLED=0, -trimpath, -buildvcs=false,
# -ldflags "-s -w -buildid= -X .../internal/cli.Version=V"),
# in one run, paired A B A B (issue 9, Measures). BUILD=default builds both
# with plain `go build -trimpath` instead (cgo on: pflag's net then makes
# verify dynamically linked, which costs about 1 ms more a start).
#
# verify is built as a vendor ships it: the golden vendor key compiled in
# (keys/vendor.pub, added with go build -overlay, the source tree is not
# touched). The rows:
#   hello                       the baseline
#   verify --bench-exit-...     the floor: verify's binary loaded and every
#                               package initialised, then exit (a probe
#                               build of the same source plus one init
#                               function, see below)
#   verify --version
#   verify --pub P --state S L  the golden unbound license (typed code)
#   verify --state S L.lic      the same license as an armored file, checked
#                               with the compiled-in keyring
#   [state 30s old] verify ...  the same, the state file's newest_seen set 30
#                               seconds back before each run: runs spaced 30 s
#                               apart. Within the one-minute step
#                               (license.StateStep) the file is not written.
#   [state 2m0s old] verify ... the same, 2 minutes back: past the step, every
#                               run rewrites the state (two fsyncs and a
#                               rename): what each run spaced more than a
#                               second apart cost before the step.
# With BASE=REF (a git ref, e.g. BASE=main), verify is also built from REF
# and timed on the 30 s row, to compare before and after in one run.
# Target: verify / hello <= 1.5x.
#
# Usage: bench/license/startup.sh [ROUNDS]   (default 200)
# With hyperfine installed, a second table from hyperfine follows (its runs
# are per command, not interleaved: a cross-check only).
set -eu
rounds=${1:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"

if [ "${BUILD:-release}" = default ]; then
	build() { go build -trimpath "$@"; }
else
	# release.sh's flags: static, stripped, no build ID, the version stamped
	# in (so --version does not parse the build info at run time).
	build() { CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w -buildid= -X github.com/airseal/airseal/internal/cli.Version=0.0.0-bench" "$@"; }
fi
gold=pkg/license/testdata/golden
cat >"$tmp/probe.go" <<'GO'
package main

import "os"

// The main package's init runs after every imported package's: the probe
// exits having paid verify's loading and package initialisation only.
func init() {
	if len(os.Args) == 2 && os.Args[1] == "--bench-exit-after-init" {
		os.Exit(0)
	}
}
GO
printf '{"Replace":{"%s/keys/vendor.pub":"%s/%s/vendor.pub"}}\n' "$root" "$root" "$gold" >"$tmp/key.json"
printf '{"Replace":{"%s/keys/vendor.pub":"%s/%s/vendor.pub","%s/cmd/verify/zz_bench_probe.go":"%s/probe.go"}}\n' \
	"$root" "$root" "$gold" "$root" "$tmp" >"$tmp/probe.json"
build -o "$tmp/hello" ./bench/license/hello
build -overlay "$tmp/key.json" -o "$tmp/verify" ./cmd/verify
build -overlay "$tmp/probe.json" -o "$tmp/verify-probe" ./cmd/verify
go build -trimpath -o "$tmp/startup" ./bench/license/startup
base=
if [ -n "${BASE:-}" ]; then
	mkdir "$tmp/base"
	git archive "$BASE" | tar -x -C "$tmp/base"
	printf '{"Replace":{"%s/keys/vendor.pub":"%s/%s/vendor.pub"}}\n' "$tmp/base" "$root" "$gold" >"$tmp/basekey.json"
	(cd "$tmp/base" && build -overlay "$tmp/basekey.json" -o "$tmp/verify-base" ./cmd/verify)
	base="-- @state-age=30s:$tmp/base30.state $tmp/verify-base --state $tmp/base30.state $tmp/valid-unbound.lic"
fi
go run ./bench/license/armor "$gold/valid-unbound.code" "$tmp/valid-unbound.lic"
code="--pub $gold/vendor.pub --state $tmp/verify.state $gold/valid-unbound.code"
lic="--state $tmp/verify.state $tmp/valid-unbound.lic"
for args in "$code" "$lic"; do
	# shellcheck disable=SC2086
	"$tmp/verify" $args >/dev/null || { echo "startup.sh: verify $args failed" >&2; exit 1; }
done

echo "== start-up, ${BUILD:-release} build, $rounds interleaved rounds (go $(go env GOVERSION), $(nproc) CPUs, verify $(wc -c <"$tmp/verify") bytes, hello $(wc -c <"$tmp/hello") bytes)"
# shellcheck disable=SC2086
"$tmp/startup" "$rounds" -- "$tmp/hello" -- "$tmp/verify-probe" --bench-exit-after-init -- "$tmp/verify" --version \
	-- "$tmp/verify" $code -- "$tmp/verify" $lic \
	-- "@state-age=30s:$tmp/s30.state" "$tmp/verify" --state "$tmp/s30.state" "$tmp/valid-unbound.lic" \
	-- "@state-age=2m:$tmp/s120.state" "$tmp/verify" --state "$tmp/s120.state" "$tmp/valid-unbound.lic" \
	$base

if command -v hyperfine >/dev/null 2>&1; then
	echo "== hyperfine cross-check"
	hyperfine -N --warmup 20 --runs "$rounds" --style basic \
		"$tmp/hello" "$tmp/verify --version" "$tmp/verify $code" "$tmp/verify $lic" 2>&1 | grep -E 'Time|±|^Benchmark|faster' || true
fi
