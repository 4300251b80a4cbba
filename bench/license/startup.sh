#!/bin/sh
# verify's whole-process start-up against a Go hello-world built the same way
# as release.sh builds what ships (CGO_ENABLED=0, -trimpath, -buildvcs=false,
# -ldflags "-s -w -buildid= -X .../internal/cli.Version=V"),
# in one run, paired A B A B (issue 9, Measures). BUILD=default builds both
# with plain `go build -trimpath` instead (cgo on: pflag's net then makes
# verify dynamically linked, which costs about 1 ms more a start).
# Target: verify / hello <= 1.5x for `verify --version` and for verifying the
# golden unbound license.
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
build -o "$tmp/hello" ./bench/license/hello
build -o "$tmp/verify" ./cmd/verify
go build -trimpath -o "$tmp/startup" ./bench/license/startup
gold=pkg/license/testdata/golden
lic="--pub $gold/vendor.pub --state $tmp/verify.state $gold/valid-unbound.code"

echo "== start-up, ${BUILD:-release} build, $rounds interleaved rounds (go $(go env GOVERSION), $(nproc) CPUs, verify $(wc -c <"$tmp/verify") bytes, hello $(wc -c <"$tmp/hello") bytes)"
# shellcheck disable=SC2086
"$tmp/startup" "$rounds" -- "$tmp/hello" -- "$tmp/verify" --version -- "$tmp/verify" $lic

if command -v hyperfine >/dev/null 2>&1; then
	echo "== hyperfine cross-check"
	hyperfine -N --warmup 20 --runs "$rounds" --style basic \
		"$tmp/hello" "$tmp/verify --version" "$tmp/verify $lic" 2>&1 | grep -E 'Time|±|^Benchmark|faster' || true
fi
