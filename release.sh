#!/usr/bin/env bash
# release.sh - reproducible release build.
#
#   release.sh --version V --key NAME.key [--product airseal] [--out dist] [--no-bundle] [--no-deb]
#
# Builds every command under cmd/ with -trimpath, no build ID and no time
# stamp (CGO disabled), with --version printing V (-X internal/cli.Version),
# generates man pages and bash/zsh/fish completions (cobra/doc, through a
# second build with -tags gendocs that is not shipped), stages
# dist/airseal-V/ (bin/, share/, install.sh, update.sh, SHA256SUMS), packs it as dist/airseal-V-GOOS-GOARCH.tar.gz (sorted entries,
# owner 0, mtimes = SOURCE_DATE_EPOCH, gzip -n), writes dist/SHA256SUMS for
# the archives, packs the same tree as a signed bundle
# dist/airseal-V.bundle with 'bundle pack', and builds the Debian package
# dist/airseal_V_ARCH.deb (packaging/deb/build.sh, with dpkg-deb).
#
# SOURCE_DATE_EPOCH defaults to the time of the last git commit; it is also
# the bundle's release date. The key's passphrase comes from
# --passphrase-file, AIRSEAL_PASSPHRASE or a terminal prompt. The same
# source, Go version, SOURCE_DATE_EPOCH and key give byte-identical output.
set -euo pipefail

version="" key="" product=airseal out=dist bundle=1 deb=1 passfile=""
die() { echo "release.sh: error: $1" >&2; exit "${2:-1}"; }
usage() {
	cat <<'USAGE'
Usage: release.sh --version V --key NAME.key [options]

Builds every command under cmd/ reproducibly and writes, under --out:
  airseal-V-GOOS-GOARCH.tar.gz   binaries, man pages and completions (share/),
                                 install.sh, update.sh, SHA256SUMS
  airseal-V.bundle               the same tree as a signed bundle (bundle pack)
  airseal_V_ARCH.deb             Debian package: /opt/airseal/bin, /usr/bin/airseal-NAME
                                 links, man pages, completions, airseal-token.service
  SHA256SUMS                     checksums of the above

Options:
  --version V              release version (required)
  --key NAME.key           vendor signing key for the bundle (required unless --no-bundle)
  --passphrase-file FILE   the key's passphrase (else AIRSEAL_PASSPHRASE or a prompt)
  --product NAME           product name in the bundle (default airseal)
  --out DIR                output directory (default dist)
  --no-bundle              no signed bundle
  --no-deb                 no Debian package (needs dpkg-deb otherwise)
  -h, --help               print this help

Relative paths are taken from the directory you run release.sh in.
Everything is built in a temporary directory: on failure --out is untouched.
SOURCE_DATE_EPOCH (default: time of the last git commit) fixes every time stamp.

Exit codes: 0 ok, 1 a build or packaging step failed (--out is untouched),
2 usage (also: --key or --passphrase-file not readable, a --version dpkg
refuses).
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
	--no-deb) deb=0; shift ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument $1 (see --help)" 2 ;;
	esac
done
[ -n "$version" ] || die "--version is required" 2
[ "$bundle" = 0 ] || [ -n "$key" ] || die "--key NAME.key is required to sign the bundle (or --no-bundle)" 2
[ "$deb" = 0 ] || command -v dpkg-deb >/dev/null || die "dpkg-deb not found: install dpkg, or build without the Debian package (--no-deb)" 2
[ "$deb" = 0 ] || [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "--version $version is not a Debian package version (a digit first, then letters, digits, . + ~): use such a version, or --no-deb" 2

# Resolve every path the caller gave before changing directory.
[ -z "$key" ] || key=$(abspath "$key")
[ -z "$passfile" ] || passfile=$(abspath "$passfile")
out=$(abspath "$out")
# Check the inputs now, not after a minute of building.
for f in "$key" "$passfile"; do
	[ -z "$f" ] || [ "$f" = - ] || [ -r "$f" ] || die "$f: no such readable file (relative paths are taken from $PWD)" 2
done
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) || die "set SOURCE_DATE_EPOCH (no git history to take it from)"
fi
export SOURCE_DATE_EPOCH
goos=$(go env GOOS) goarch=$(go env GOARCH)
case $goarch in
386) debarch=i386 ;;
arm) debarch=armhf ;;
ppc64le) debarch=ppc64el ;;
*) debarch=$goarch ;;
esac
name=$product-$version

# Everything is built in a temporary directory and moved into --out only
# when the whole release is done: a failure leaves no partial dist/.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/airseal-release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/out/$name
mkdir -p "$stage/bin" "$tmp/docs-bin"

export CGO_ENABLED=0 GOFLAGS=-mod=readonly
# -X sets the version every binary prints with --version.
ldflags="-s -w -buildid= -X github.com/airseal/airseal/internal/cli.Version=$version"
cmds=() pkgs=()
for d in cmd/*/; do
	cmds+=("$(basename "$d")")
	pkgs+=("./$d")
done
# One go build for all commands links them in parallel.
echo "release.sh: building ${cmds[*]}" >&2
go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$stage/bin/" "${pkgs[@]}"
# A second build with -tags gendocs has the hidden __gendocs command that
# writes the man pages and shell completions (cobra/doc); those binaries
# are used here and never shipped.
go build -trimpath -buildvcs=false -tags gendocs -ldflags="$ldflags" -o "$tmp/docs-bin/" "${pkgs[@]}"
for cmd in "${cmds[@]}"; do
	"$tmp/docs-bin/$cmd" __gendocs "$tmp/docs"
done
mkdir -p "$stage/share/man/man1" "$stage/share/bash-completion/completions" \
	"$stage/share/zsh/vendor-completions" "$stage/share/fish/vendor_completions.d"
for f in "$tmp"/docs/man/*.1; do gzip -n -9 -c "$f" > "$stage/share/man/man1/$(basename "$f").gz"; done
cp "$tmp"/docs/completion/bash/* "$stage/share/bash-completion/completions/"
cp "$tmp"/docs/completion/zsh/* "$stage/share/zsh/vendor-completions/"
cp "$tmp"/docs/completion/fish/* "$stage/share/fish/vendor_completions.d/"
install -m 0755 install.sh update.sh "$stage/"
chmod 0755 "$stage"/bin/*
find "$stage" -type d -exec chmod 0755 {} +
find "$stage/share" -type f -exec chmod 0644 {} +
(cd "$stage" && find bin share install.sh update.sh -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

tarball=$tmp/out/$name-$goos-$goarch.tar.gz
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$tmp/out" -cf - "$name" | gzip -n -9 > "$tarball"

if [ "$bundle" = 1 ]; then
	args=(--key "$key" --product "$product" --version "$version" --from-dir "$stage" -o "$tmp/out/$name.bundle")
	[ -n "$passfile" ] && args+=(--passphrase-file "$passfile")
	"$stage/bin/bundle" pack "${args[@]}" >&2
fi
if [ "$deb" = 1 ]; then
	echo "release.sh: building airseal_${version}_$debarch.deb" >&2
	packaging/deb/build.sh "$stage" "$version" "$debarch" "$tmp/out" >/dev/null
fi
# With --no-bundle or --no-deb those files are missing: list only what was
# built, so pipefail does not turn a missing glob into a failed release.
(cd "$tmp/out" && { ls "$name"-*.tar.gz; [ "$bundle" = 0 ] || ls "$name".bundle*; [ "$deb" = 0 ] || ls airseal_*.deb; } | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)

# Move into place: only now does --out change.
mkdir -p "$out"
rm -rf "${out:?}/$name"
for f in "$tmp"/out/*; do
	rm -rf "$out/$(basename "$f")"
	mv "$f" "$out/"
done
cat "$out/SHA256SUMS"
