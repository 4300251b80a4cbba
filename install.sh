#!/bin/sh
# install.sh - install an unpacked airseal release, offline.
#
#   install.sh [--prefix DIR]            install (default prefix /opt/airseal)
#   install.sh [--prefix DIR] --uninstall
#
# Run from the unpacked release directory (bin/, install.sh, update.sh,
# SHA256SUMS). Every file's SHA-256 is checked against SHA256SUMS before
# anything is copied. Files are replaced atomically (copy to a temporary
# name, then rename). Running it again is harmless; files that an earlier
# install put there and this release no longer has are removed. The list of
# what was installed (with checksums) is kept in DIR/.airseal-installed, and
# --uninstall removes exactly those files (unless changed since) and the
# directories it created, if empty. Works without root for a prefix you own.
# Never uses the network.
#
# Exit codes: 0 ok, 1 error, 2 usage, 3 checksum mismatch or missing file.
set -eu

prog=install.sh
prefix=/opt/airseal
uninstall=0

err() { echo "$prog: error: $*" >&2; }
hint() { echo "$prog: hint: $*" >&2; }
say() { echo "$prog: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || { err "--prefix needs a directory"; exit 2; }; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#--prefix=}; shift ;;
	--uninstall) uninstall=1; shift ;;
	-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) err "unknown argument $1"; hint "usage: install.sh [--prefix DIR] [--uninstall]"; exit 2 ;;
	esac
done
case $prefix in
/*) ;;
*) prefix=$(pwd)/$prefix ;;
esac
record=$prefix/.airseal-installed

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$uninstall" = 1 ]; then
	[ -f "$record" ] || { err "$record not found: nothing was installed in $prefix by install.sh"; exit 1; }
	# Files first, then directories deepest first.
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
while read -r sum path; do
	path=${path#\*}
	case $path in
	/*|*..*) err "SHA256SUMS lists unsafe path $path"; rm -f "$new_record"; exit 3 ;;
	esac
	mkdirs "$(dirname "$path")"
	mode=0644
	[ -x "$path" ] && mode=0755
	tmp=$prefix/$path.tmp.$$
	cp "$path" "$tmp"
	# Check the copy, not only the source: the medium may return other bytes
	# on a second read (bad sector) or the file may have changed since.
	if [ "$(sha "$tmp")" != "$sum" ]; then
		err "checksum mismatch in the copy of $path: the source changed or could not be read reliably"
		hint "unpack the release again from the original archive onto a local disk and run install.sh again"
		exit 3
	fi
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$prefix/$path"
	tmp=""
	echo "file $sum $path" >> "$new_record"
	say "installed $path"
done < SHA256SUMS
cp SHA256SUMS "$prefix/SHA256SUMS.tmp.$$" && mv -f "$prefix/SHA256SUMS.tmp.$$" "$prefix/SHA256SUMS"
echo "file $(sha SHA256SUMS) SHA256SUMS" >> "$new_record"

# Files an earlier install put here that this release no longer has.
if [ -f "$record" ]; then
	grep '^file ' "$record" | while read -r _ sum path; do
		if ! awk -v p="$path" '$3 == p { found = 1 } END { exit !found }' "$new_record" && [ -f "$prefix/$path" ] && [ "$(sha "$prefix/$path")" = "$sum" ]; then
			rm -f "$prefix/$path" && say "removed $path (not in this release)"
		fi
	done
fi
mv -f "$new_record" "$record"
# Directories created by any install so far.
{ [ -f "$record.dirs" ] && cat "$record.dirs"; printf '%s' "$created" | sed '/^$/d; s/^/dir /'; } | sort -u > "$record.dirs.new.$$"
mv -f "$record.dirs.new.$$" "$record.dirs"
say "installed $(grep -c '^file ' "$record") files into $prefix"
