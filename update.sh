#!/bin/sh
# update.sh - apply a signed airseal bundle carried in on removable media.
#
#   update.sh FILE [--target DIR] [--license FILE] [--pub NAME.pub]... [--plan] [--no-hooks]
#
# Runs 'bundle verify' (signature, every chunk, every file) and then
# 'bundle apply', which verifies again while unpacking and switches
# DIR/current atomically. On any failure the installed release is left
# untouched and the script exits with bundle's exit code (see 'bundle --help')
# and the reason. Every step is logged with a UTC time stamp to
# DIR/update.log (or $AIRSEAL_UPDATE_LOG) and to stderr. Never uses the
# network.
#
# Defaults: --target $AIRSEAL_TARGET or /opt/airseal. The bundle program is
# $AIRSEAL_BUNDLE, else bin/bundle next to this script, else 'bundle' on PATH.
set -u

prog=update.sh
target=${AIRSEAL_TARGET:-/opt/airseal}
file=""
license=""
plan=""
nohooks=""
pubs=""

err() { echo "$prog: error: $*" >&2; }
hint() { echo "$prog: hint: $*" >&2; }
usage() { err "$1"; hint "usage: update.sh FILE [--target DIR] [--license FILE] [--pub NAME.pub]... [--plan]"; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--target) [ $# -ge 2 ] || usage "--target needs a directory"; target=$2; shift 2 ;;
	--target=*) target=${1#--target=}; shift ;;
	--license) [ $# -ge 2 ] || usage "--license needs a file"; license=$2; shift 2 ;;
	--license=*) license=${1#--license=}; shift ;;
	--pub) [ $# -ge 2 ] || usage "--pub needs a file"; pubs="$pubs
$2"; shift 2 ;;
	--plan) plan=--plan; shift ;;
	--no-hooks) nohooks=--no-hooks; shift ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) usage "unknown option $1" ;;
	*) [ -z "$file" ] || usage "only one bundle FILE (the first volume) may be given"; file=$1; shift ;;
	esac
done
[ -n "$file" ] || usage "no bundle FILE given"

here=$(cd "$(dirname "$0")" && pwd)
bundle=${AIRSEAL_BUNDLE:-}
if [ -z "$bundle" ]; then
	if [ -x "$here/bin/bundle" ]; then
		bundle=$here/bin/bundle
	elif command -v bundle >/dev/null 2>&1; then
		bundle=$(command -v bundle)
	else
		err "the bundle program was not found next to $prog or on PATH"
		hint "install the airseal release with install.sh, or set AIRSEAL_BUNDLE=/path/to/bundle"
		exit 1
	fi
fi

mkdir -p "$target" 2>/dev/null || true
log=${AIRSEAL_UPDATE_LOG:-$target/update.log}
logmsg() {
	line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
	echo "$prog: $*" >&2
	echo "$line" >> "$log" 2>/dev/null || true
}

# Build the argument list: --pub options, one per line, no word splitting on spaces.
set --
oldifs=$IFS
IFS='
'
for p in $pubs; do
	set -- "$@" --pub "$p"
done
IFS=$oldifs

logmsg "update from $file into $target (bundle program $bundle)"
logmsg "verify $file"
out=$("$bundle" verify "$@" --target "$target" "$file" 2>&1)
rc=$?
printf '%s\n' "$out" | while IFS= read -r l; do logmsg "  $l"; done
if [ $rc -ne 0 ]; then
	logmsg "FAILED: verify exited $rc; nothing was changed in $target"
	exit $rc
fi

if [ -n "$license" ]; then
	set -- "$@" --license "$license"
fi
[ -n "$plan" ] && set -- "$@" "$plan"
[ -n "$nohooks" ] && set -- "$@" "$nohooks"
logmsg "apply $file"
out=$("$bundle" apply "$@" --target "$target" "$file" 2>&1)
rc=$?
printf '%s\n' "$out" | while IFS= read -r l; do logmsg "  $l"; done
if [ $rc -ne 0 ]; then
	case $rc in
	24) logmsg "FAILED: a hook failed (exit $rc); see above" ;;
	*) logmsg "FAILED: apply exited $rc; the installed release in $target is unchanged" ;;
	esac
	exit $rc
fi
if [ -n "$plan" ]; then
	logmsg "plan only: nothing was changed"
else
	logmsg "done: $(readlink "$target/current" 2>/dev/null || echo '?') is current"
fi
exit 0
