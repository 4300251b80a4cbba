#!/usr/bin/env bash
# packaging/deb/build.sh - build airseal_VERSION_ARCH.deb from a staged release.
#
#   packaging/deb/build.sh STAGE VERSION ARCH OUTDIR
#
# STAGE is the release tree release.sh stages (bin/, share/, update.sh).
# Called by release.sh; uses only dpkg-deb (no debhelper). Layout, the same
# as install.sh's default prefix /opt/airseal:
#   /opt/airseal/bin/NAME              the binaries
#   /opt/airseal/update.sh             apply a signed bundle (as in install.sh's prefix)
#   /usr/bin/airseal-NAME              links (the bare names collide with other packages)
#   /usr/share/man/man1/airseal-*.1.gz man pages (cobra/doc)
#   /usr/share/bash-completion/completions/airseal-NAME, zsh, fish completions
#   /lib/systemd/system/airseal-token.service  hardened unit for 'token serve'
#   /lib/systemd/system/airseal-license-server.service  hardened unit for
#                                      'license-server serve'; its settings in
#   /etc/default/airseal-license-server (a conffile)
#   /usr/share/doc/airseal/{copyright,changelog.gz}
# Every time stamp is SOURCE_DATE_EPOCH (required); owner root; the same
# input gives the same .deb.
set -euo pipefail
die() { echo "packaging/deb/build.sh: error: $1" >&2; exit "${2:-1}"; }
[ $# -eq 4 ] || die "usage: build.sh STAGE VERSION ARCH OUTDIR" 2
stage=$1 version=$2 arch=$3 outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${SOURCE_DATE_EPOCH:-}" ] || die "SOURCE_DATE_EPOCH is not set"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found: install dpkg (Debian), or build without the package (release.sh --no-deb)"
# Debian versions start with a digit and use [A-Za-z0-9.+~] (no hyphen: a
# native package has no Debian revision).
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "version $version is not a Debian version (a digit first, then letters, digits, . + ~): give such a --version or use --no-deb" 2
[ -d "$stage/bin" ] || die "$stage/bin not found"

# The Maintainer field: packaging/deb/maintainer, or AIRSEAL_DEB_MAINTAINER
# for a vendor's own build. Not taken from git: a source tree without git
# history builds the same package.
maintainer=${AIRSEAL_DEB_MAINTAINER:-$(head -n 1 "$here/maintainer")}
[[ $maintainer =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>@\ ]+\>$ ]] || die "maintainer '$maintainer' is not 'Name <email>' (packaging/deb/maintainer or AIRSEAL_DEB_MAINTAINER)"

root=$(mktemp -d "${TMPDIR:-/tmp}/airseal-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
pkg=$root/pkg
install -d -m 0755 "$pkg/DEBIAN" "$pkg/opt/airseal/bin" "$pkg/usr/bin" \
	"$pkg/usr/share/man/man1" "$pkg/usr/share/bash-completion/completions" \
	"$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d" \
	"$pkg/lib/systemd/system" "$pkg/etc/default" "$pkg/usr/share/doc/airseal" "$pkg/usr/share/lintian/overrides"
for f in "$stage"/bin/*; do
	name=$(basename "$f")
	install -m 0755 "$f" "$pkg/opt/airseal/bin/$name"
	# Between top-level directories a link is absolute (Debian policy 10.5).
	ln -s "/opt/airseal/bin/$name" "$pkg/usr/bin/airseal-$name"
done
install -m 0755 "$stage/update.sh" "$pkg/opt/airseal/update.sh"
install -m 0644 "$stage"/share/man/man1/* "$pkg/usr/share/man/man1/"
install -m 0644 "$stage"/share/bash-completion/completions/* "$pkg/usr/share/bash-completion/completions/"
install -m 0644 "$stage"/share/zsh/vendor-completions/* "$pkg/usr/share/zsh/vendor-completions/"
install -m 0644 "$stage"/share/fish/vendor_completions.d/* "$pkg/usr/share/fish/vendor_completions.d/"
install -m 0644 "$here/../airseal-token.service" "$pkg/lib/systemd/system/airseal-token.service"
install -m 0644 "$here/../airseal-license-server.service" "$pkg/lib/systemd/system/airseal-license-server.service"
install -m 0644 "$here/airseal-license-server.default" "$pkg/etc/default/airseal-license-server"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/airseal/copyright"
install -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/airseal"
from=""
if commit=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null); then
	from=" from commit $commit"
fi
{
	printf 'airseal (%s) stable; urgency=medium\n\n' "$version"
	printf '  * Release %s, built by release.sh%s.\n\n' "$version" "$from"
	printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -n -9 > "$pkg/usr/share/doc/airseal/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/airseal/changelog.gz"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
# Files under /etc are conffiles: an upgrade keeps the site's edits, purge
# removes them.
printf '/etc/default/airseal-license-server\n' > "$pkg/DEBIAN/conffiles"
chmod 0644 "$pkg/DEBIAN/conffiles"

size=$(du -s -k --apparent-size --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: airseal
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: adduser
Section: admin
Priority: optional
Description: offline licensing toolkit for closed networks
 airseal identifies physical machines and refuses virtual ones (hwid),
 issues and checks Ed25519-signed offline licenses (issue, verify), mints
 and serves long-lived OAuth access tokens (token, with a hardened systemd
 unit for its endpoint), counts concurrent seats in a closed network
 (license-server, with a hardened systemd unit), and carries signed update
 bundles into networks without Internet access (bundle).
 .
 The programs are installed under /opt/airseal/bin and linked as
 airseal-NAME in /usr/bin.
CONTROL
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
find "$pkg" -depth -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$outdir"
deb=$outdir/airseal_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
