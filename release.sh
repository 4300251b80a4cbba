#!/usr/bin/env bash
# release.sh - reproducible release build.
#
#   release.sh --version V --key NAME.key [--product airseal] [--out dist] [--no-bundle]
#
# Builds every command under cmd/ with -trimpath, no build ID and no time
# stamp (CGO disabled), stages dist/airseal-V/ (bin/, install.sh, update.sh,
# SHA256SUMS), packs it as dist/airseal-V-GOOS-GOARCH.tar.gz (sorted entries,
# owner 0, mtimes = SOURCE_DATE_EPOCH, gzip -n), writes dist/SHA256SUMS for
# the archives, and packs the same tree as a signed bundle
# dist/airseal-V.bundle with 'bundle pack'.
#
# SOURCE_DATE_EPOCH defaults to the time of the last git commit; it is also
# the bundle's release date. The key's passphrase comes from
# --passphrase-file, AIRSEAL_PASSPHRASE or a terminal prompt. The same
# source, Go version, SOURCE_DATE_EPOCH and key give byte-identical output.
set -euo pipefail

version="" key="" product=airseal out=dist bundle=1 passfile=""
die() { echo "release.sh: error: $1" >&2; exit "${2:-1}"; }
usage() {
	cat <<'USAGE'
Usage: release.sh --version V --key NAME.key [options]

Builds every command under cmd/ reproducibly and writes, under --out:
  airseal-V-GOOS-GOARCH.tar.gz   binaries, install.sh, update.sh, SHA256SUMS
  airseal-V.bundle               the same tree as a signed bundle (bundle pack)
  SHA256SUMS                     checksums of the above

Options:
  --version V              release version (required)
  --key NAME.key           vendor signing key for the bundle (required unless --no-bundle)
  --passphrase-file FILE   the key's passphrase (else AIRSEAL_PASSPHRASE or a prompt)
  --product NAME           product name in the bundle (default airseal)
  --out DIR                output directory (default dist)
  --no-bundle              build the archive only, no signed bundle
  -h, --help               print this help

Relative paths are taken from the directory you run release.sh in.
SOURCE_DATE_EPOCH (default: time of the last git commit) fixes every time stamp.
USAGE
}
abspath() { case $1 in /*|-) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=$2; shift 2 ;;
	--key) key=$2; shift 2 ;;
	--product) product=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--passphrase-file) passfile=$2; shift 2 ;;
	--no-bundle) bundle=0; shift ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument $1 (see --help)" 2 ;;
	esac
done
[ -n "$version" ] || die "--version is required" 2
[ "$bundle" = 0 ] || [ -n "$key" ] || die "--key NAME.key is required to sign the bundle (or --no-bundle)" 2

# Resolve every path the caller gave before changing directory.
[ -z "$key" ] || key=$(abspath "$key")
[ -z "$passfile" ] || passfile=$(abspath "$passfile")
out=$(abspath "$out")
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) || die "set SOURCE_DATE_EPOCH (no git history to take it from)"
fi
export SOURCE_DATE_EPOCH
goos=$(go env GOOS) goarch=$(go env GOARCH)
name=$product-$version
stage=$out/$name
rm -rf "$stage"
mkdir -p "$stage/bin"

export CGO_ENABLED=0 GOFLAGS=-mod=readonly
for d in cmd/*/; do
	cmd=$(basename "$d")
	echo "release.sh: building $cmd" >&2
	go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o "$stage/bin/$cmd" "./cmd/$cmd"
done
install -m 0755 install.sh update.sh "$stage/"
chmod 0755 "$stage"/bin/*
(cd "$stage" && find bin install.sh update.sh -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

tarball=$out/$name-$goos-$goarch.tar.gz
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$out" -cf - "$name" | gzip -n -9 > "$tarball"

if [ "$bundle" = 1 ]; then
	args=(--key "$key" --product "$product" --version "$version" --from-dir "$stage" -o "$out/$name.bundle")
	[ -n "$passfile" ] && args+=(--passphrase-file "$passfile")
	"$stage/bin/bundle" pack "${args[@]}" >&2
fi
# With --no-bundle there is no .bundle: list only what was built, so
# pipefail does not turn a missing glob into a failed release.
(cd "$out" && { ls "$name"-*.tar.gz; [ "$bundle" = 0 ] || ls "$name".bundle*; } | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
cat "$out/SHA256SUMS"
