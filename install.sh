#!/bin/sh
# install.sh - install an unpacked airseal release, offline. See usage()
# below and the README ("Offline updates"). Every file's SHA-256 is checked
# against SHA256SUMS before anything is copied; files are replaced
# atomically; the list of what was installed is kept in
# PREFIX/.airseal-installed so that --uninstall removes exactly that.
set -eu

prog=install.sh
prefix=/opt/airseal
uninstall=0
linkdir=""

usage() {
	cat <<'USAGE'
Usage: install.sh [--prefix DIR] [--link-dir DIR]
       install.sh [--prefix DIR] --uninstall

Run from the unpacked release directory (bin/, share/, install.sh,
update.sh, SHA256SUMS). Installs into DIR (default /opt/airseal, the same
layout as the Debian package):
  DIR/bin/NAME                the programs (bundle, hwid, issue, token, verify)
  DIR/update.sh, DIR/install.sh
  DIR/share/man/man1/         man pages (airseal-NAME.1.gz)
  DIR/share/bash-completion/completions/, DIR/share/zsh/vendor-completions/,
  DIR/share/fish/vendor_completions.d/   shell completions for airseal-NAME
With --link-dir DIR2 (e.g. /usr/local/bin) it also links DIR2/airseal-NAME
to each program, as the Debian package does in /usr/bin.

Every file is checked against SHA256SUMS before anything is copied; files
already installed and unchanged are left alone ("unchanged"); files an
earlier install put there that this release no longer has are removed.
Works without root for a prefix you own. Never uses the network.

Options:
  --prefix DIR      where to install (default /opt/airseal)
  --link-dir DIR    also create DIR/airseal-NAME links to the programs
  --uninstall       remove exactly what install.sh installed in --prefix
                    (files changed since are kept, and named)
  -h, --help        print this help

Exit codes: 0 ok (also: --uninstall with nothing installed), 1 error,
2 usage, 3 checksum mismatch, unlisted or missing file.
USAGE
}
err() { echo "$prog: error: $*" >&2; }
hint() { echo "$prog: hint: $*" >&2; }
say() { echo "$prog: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || { err "--prefix needs a directory"; exit 2; }; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#--prefix=}; shift ;;
	--uninstall) uninstall=1; shift ;;
	--link-dir) [ $# -ge 2 ] || { err "--link-dir needs a directory"; exit 2; }; linkdir=$2; shift 2 ;;
	--link-dir=*) linkdir=${1#--link-dir=}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) err "unknown argument $1"; hint "usage: install.sh [--prefix DIR] [--link-dir DIR] [--uninstall] (see --help)"; exit 2 ;;
	esac
done
case $prefix in
/*) ;;
*) prefix=$(pwd)/$prefix ;;
esac
if [ -n "$linkdir" ]; then
	case $linkdir in
	/*) ;;
	*) linkdir=$(pwd)/$linkdir ;;
	esac
	[ "$uninstall" = 0 ] || { err "--link-dir is for installing; --uninstall removes the links it made"; exit 2; }
	[ -d "$linkdir" ] || { err "--link-dir $linkdir is not a directory"; hint "create it, or give an existing directory on PATH such as /usr/local/bin"; exit 2; }
fi
record=$prefix/.airseal-installed

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$uninstall" = 1 ]; then
	if [ ! -f "$record" ]; then
		say "nothing to uninstall: no airseal installation in $prefix ($record not found)"
		exit 0
	fi
	# Links, then files, then directories deepest first.
	grep '^link ' "$record" | while read -r _ l target; do
		if [ -L "$l" ] && [ "$(readlink "$l")" = "$target" ]; then
			rm -f "$l" && say "removed link $l"
		elif [ -e "$l" ] || [ -L "$l" ]; then
			say "kept $l: it no longer points to $target"
		fi
	done
	grep '^file ' "$record" | while read -r _ sum path; do
		f=$prefix/$path
		if [ ! -e "$f" ]; then
			continue
		elif [ "$(sha "$f")" = "$sum" ]; then
			rm -f "$f" && say "removed $path"
		else
			say "kept $path: changed since it was installed"
		fi
	done
	rm -f "$record"
	grep '^dir ' "$record.dirs" 2>/dev/null | cut -d' ' -f2- | sort -r | while read -r d; do
		rmdir "$prefix/$d" 2>/dev/null && say "removed directory $d" || true
	done
	rm -f "$record.dirs"
	rmdir "$prefix" 2>/dev/null || true
	say "uninstalled from $prefix"
	exit 0
fi

src=$(cd "$(dirname "$0")" && pwd)
cd "$src"
if [ ! -f SHA256SUMS ]; then
	err "$src/SHA256SUMS not found"
	hint "run install.sh from the unpacked release directory"
	exit 3
fi
# Every file must be listed and match; nothing listed may be missing.
if ! sha256sum --check --strict --quiet SHA256SUMS >&2; then
	err "checksum mismatch in $src: the release is damaged or was modified"
	hint "unpack the release again from the original archive (check it with: sha256sum -c SHA256SUMS)"
	exit 3
fi
for f in bin/* install.sh update.sh; do
	[ -e "$f" ] || continue
	if ! awk -v f="$f" '{ p = $2; sub(/^\*/, "", p) } p == f { found = 1 } END { exit !found }' SHA256SUMS; then
		err "$f is not listed in SHA256SUMS"
		hint "unpack the release again from the original archive"
		exit 3
	fi
done
# A link that is not ours is never replaced: refuse before copying anything.
if [ -n "$linkdir" ]; then
	for f in bin/*; do
		[ -f "$f" ] || continue
		l=$linkdir/airseal-$(basename "$f")
		if { [ -e "$l" ] || [ -L "$l" ]; } && ! { [ -L "$l" ] && [ "$(readlink "$l")" = "$prefix/$f" ]; }; then
			err "$l exists and is not a link to $prefix/$f"
			hint "remove or rename it, or install without --link-dir"
			exit 1
		fi
	done
fi

created=""
mkdirs() {
	# mkdirs REL: create $prefix/REL and parents, remembering which are new.
	d=$1
	missing=""
	while [ "$d" != "." ] && [ ! -d "$prefix/$d" ]; do
		missing="$d $missing"
		d=$(dirname "$d")
	done
	for m in $missing; do
		mkdir -m 0755 "$prefix/$m"
		created="$created$m
"
	done
}
[ -d "$prefix" ] || { mkdir -p "$prefix"; }

new_record=$record.new.$$
tmp=""
# An interrupted or failed install leaves no temporary files behind.
trap 'rm -f "$new_record" ${tmp:+"$tmp"}' EXIT
: > "$new_record"
changed=0 same=0
while read -r sum path; do
	path=${path#\*}
	case $path in
	/*|*..*) err "SHA256SUMS lists unsafe path $path"; rm -f "$new_record"; exit 3 ;;
	esac
	mkdirs "$(dirname "$path")"
	mode=0644
	[ -x "$path" ] && mode=0755
	dest=$prefix/$path
	echo "file $sum $path" >> "$new_record"
	# Already installed and the same: leave it alone.
	if [ -f "$dest" ] && [ ! -L "$dest" ] && [ "$(sha "$dest")" = "$sum" ]; then
		chmod "$mode" "$dest"
		say "unchanged $path"
		same=$((same + 1))
		continue
	fi
	tmp=$dest.tmp.$$
	cp "$path" "$tmp"
	# Check the copy, not only the source: the medium may return other bytes
	# on a second read (bad sector) or the file may have changed since.
	if [ "$(sha "$tmp")" != "$sum" ]; then
		err "checksum mismatch in the copy of $path: the source changed or could not be read reliably"
		hint "unpack the release again from the original archive onto a local disk and run install.sh again"
		exit 3
	fi
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$dest"
	tmp=""
	say "installed $path"
	changed=$((changed + 1))
done < SHA256SUMS
if [ -f "$prefix/SHA256SUMS" ] && cmp -s SHA256SUMS "$prefix/SHA256SUMS"; then
	:
else
	cp SHA256SUMS "$prefix/SHA256SUMS.tmp.$$" && mv -f "$prefix/SHA256SUMS.tmp.$$" "$prefix/SHA256SUMS"
fi
echo "file $(sha SHA256SUMS) SHA256SUMS" >> "$new_record"
if [ -n "$linkdir" ]; then
	for f in bin/*; do
		[ -f "$f" ] || continue
		l=$linkdir/airseal-$(basename "$f")
		if [ -L "$l" ]; then
			say "unchanged link $l"
		else
			ln -s "$prefix/$f" "$l"
			say "linked $l -> $prefix/$f"
		fi
		echo "link $l $prefix/$f" >> "$new_record"
	done
fi

# Files and links an earlier install put here that this release no longer has.
if [ -f "$record" ]; then
	grep '^file ' "$record" | while read -r _ sum path; do
		if ! awk -v p="$path" '$1 == "file" && $3 == p { found = 1 } END { exit !found }' "$new_record" && [ -f "$prefix/$path" ] && [ "$(sha "$prefix/$path")" = "$sum" ]; then
			rm -f "$prefix/$path" && say "removed $path (not in this release)"
		fi
	done
	grep '^link ' "$record" | while read -r _ l target; do
		if ! awk -v p="$l" '$1 == "link" && $2 == p { found = 1 } END { exit !found }' "$new_record" && [ -L "$l" ] && [ "$(readlink "$l")" = "$target" ]; then
			rm -f "$l" && say "removed link $l (not asked for this time)"
		fi
	done
fi
mv -f "$new_record" "$record"
# Directories created by any install so far.
{ [ -f "$record.dirs" ] && cat "$record.dirs"; printf '%s' "$created" | sed '/^$/d; s/^/dir /'; } | sort -u > "$record.dirs.new.$$"
mv -f "$record.dirs.new.$$" "$record.dirs"
say "$changed files installed, $same unchanged, in $prefix"

# How to reach the programs.
case ":$PATH:" in
*":$prefix/bin:"*) say "$prefix/bin is on your PATH" ;;
*)
	if [ -n "$linkdir" ]; then
		say "the programs are linked as airseal-NAME in $linkdir"
	else
		say "to run the programs, put $prefix/bin on PATH, e.g. for every login shell:"
		say "  echo 'export PATH=\"$prefix/bin:\$PATH\" MANPATH=\"$prefix/share/man:\$MANPATH\"' > /etc/profile.d/airseal.sh"
		say "or link them as airseal-NAME, as the Debian package does: install.sh --prefix $prefix --link-dir /usr/local/bin"
	fi
	;;
esac
