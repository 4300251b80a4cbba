#!/bin/sh
# update.sh - apply a signed bundle carried in on removable media.
#
# Runs 'bundle verify' (signature, every chunk, every file), then 'bundle
# apply', which verifies again while unpacking and switches DIR/current
# atomically; or 'bundle rollback' with --rollback. Every step is logged with
# a UTC time stamp to stderr and to DIR/update.log. See usage() below and
# the README ("Offline updates"). Never uses the network.
set -u

prog=update.sh
target=${AIRSEAL_TARGET:-}
file=""
license=""
plan=""
nohooks=""
rollback=0
pubs=""

usage() {
	cat <<'USAGE'
Usage: update.sh FILE --target DIR [--license FILE] [--pub NAME.pub]... [--plan] [--no-hooks]
       update.sh --rollback --target DIR

Applies the signed bundle FILE (the first volume; the others are found next
to it) to the product installed in DIR: 'bundle verify', then 'bundle apply'.
DIR/current is switched atomically; the previous release stays for
--rollback. On any failure the installed release is left as it was.

Options:
  --target DIR        the product's directory, e.g. /opt/acme (default
                      $AIRSEAL_TARGET; required: it is not the directory the
                      airseal tools are installed in)
  --license FILE      refuse releases dated after FILE's update subscription
  --pub NAME.pub      also trust this vendor key (repeatable); apply records
                      it in DIR/trust/keys/ for later updates
  --plan              print what would change; change nothing
  --no-hooks          do not run the bundle's hooks
  --rollback          switch DIR/current back to the previous release
  -h, --help          print this help

Log: DIR/update.log (or $AIRSEAL_UPDATE_LOG), one line per step with a UTC
time stamp, written when the target exists; a plan, a missing or a damaged
bundle creates neither DIR nor its log. On a terminal bundle's progress bar
and messages go to the terminal and the log gets the outcome.

The bundle program is $AIRSEAL_BUNDLE, else bin/bundle next to update.sh,
else bundle or airseal-bundle on PATH.

Exit codes: those of bundle (see 'bundle --help'; e.g. 20 damaged, 23
version refused), 0 success, 1 error (also: the bundle program cannot be
found or run), 2 usage.
USAGE
}
err() { echo "$prog: error: $*" >&2; }
hint() { echo "$prog: hint: $*" >&2; }
die_usage() { err "$1"; hint "${2:-see update.sh --help}"; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--target) [ $# -ge 2 ] || die_usage "--target needs a directory"; target=$2; shift 2 ;;
	--target=*) target=${1#--target=}; shift ;;
	--license) [ $# -ge 2 ] || die_usage "--license needs a file"; license=$2; shift 2 ;;
	--license=*) license=${1#--license=}; shift ;;
	--pub) [ $# -ge 2 ] || die_usage "--pub needs a file"; pubs="$pubs
$2"; shift 2 ;;
	--pub=*) pubs="$pubs
${1#--pub=}"; shift ;;
	--plan) plan=--plan; shift ;;
	--no-hooks) nohooks=--no-hooks; shift ;;
	--rollback) rollback=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) die_usage "unknown option $1" ;;
	*) [ -z "$file" ] || die_usage "only one bundle FILE (the first volume) may be given"; file=$1; shift ;;
	esac
done
if [ "$rollback" = 1 ]; then
	[ -z "$file" ] || die_usage "--rollback takes no bundle FILE"
else
	[ -n "$file" ] || die_usage "no bundle FILE given"
fi
[ -n "$target" ] || die_usage "--target DIR is required: the directory of the product to update (e.g. /opt/acme)" \
	"update.sh installs a product's release; it has no default target, so that it never writes into the airseal tools' own directory"
if [ -e "$target" ] && [ ! -d "$target" ]; then
	die_usage "--target $target is not a directory" "give the product's directory (e.g. /opt/acme); apply creates it when it does not exist"
fi
if [ -f "$target/.airseal-installed" ] || { [ -x "$target/bin/bundle" ] && [ -f "$target/update.sh" ] && [ ! -e "$target/current" ]; }; then
	die_usage "--target $target holds the airseal tools (install.sh or the .deb), not a product release" \
		"give the product's directory (e.g. /opt/acme); to update the tools, run the new release's install.sh or install its .deb"
fi

# Find the bundle program; resolve a link to this script (e.g. from
# /usr/local/bin) to the directory it lives in.
self=$0
if [ -L "$self" ] && command -v readlink >/dev/null; then
	self=$(readlink -f "$self")
fi
here=$(cd "$(dirname "$self")" && pwd)
bundle=${AIRSEAL_BUNDLE:-}
if [ -n "$bundle" ]; then
	if [ ! -f "$bundle" ] || [ ! -x "$bundle" ]; then
		err "AIRSEAL_BUNDLE=$bundle is not an executable file"
		hint "set AIRSEAL_BUNDLE to the bundle program of the airseal release (e.g. /opt/airseal/bin/bundle), or unset it"
		exit 1
	fi
elif [ -x "$here/bin/bundle" ]; then
	bundle=$here/bin/bundle
elif command -v bundle >/dev/null 2>&1; then
	bundle=$(command -v bundle)
elif command -v airseal-bundle >/dev/null 2>&1; then
	bundle=$(command -v airseal-bundle)
else
	err "the bundle program was not found: not in $here/bin, not on PATH as bundle or airseal-bundle"
	hint "install the airseal tools (install.sh or the .deb), or set AIRSEAL_BUNDLE=/path/to/bundle"
	exit 1
fi

# The log is written only where it may be: AIRSEAL_UPDATE_LOG always,
# DIR/update.log once DIR exists and something was done to it (or the log
# exists already). Until then the lines wait in $pending.
if [ -n "${AIRSEAL_UPDATE_LOG:-}" ]; then
	log=$AIRSEAL_UPDATE_LOG
	logalways=1
else
	log=$target/update.log
	logalways=0
fi
pending=""
logwarned=0
logmsg() {
	echo "$prog: $*" >&2
	pending="$pending$(date -u +%Y-%m-%dT%H:%M:%SZ) $*
"
}
# flushlog [create]: write the waiting lines; create the log only when
# asked (something changed in DIR) or when AIRSEAL_UPDATE_LOG names it.
flushlog() {
	[ -n "$pending" ] || return 0
	if [ -f "$log" ] || [ "$logalways" = 1 ] || { [ "${1:-}" = create ] && [ -d "$target" ]; }; then
		if { printf '%s' "$pending" >>"$log"; } 2>/dev/null; then
			pending=""
		elif [ "$logwarned" = 0 ]; then
			logwarned=1
			err "cannot write the log $log; the steps are on stderr only"
		fi
	fi
}
# meaning CODE: what an exit code of bundle means; the airseal exit-code
# table word for word (internal/cli.ExitCodes; TestUpdateScriptExitTable
# keeps the two equal).
meaning() {
	case $1 in
	1) echo "error not listed below: I/O, unreadable input, wrong passphrase, output exists" ;;
	2) echo "bad flags or arguments" ;;
	10) echo "not a valid license, request, token, bundle or list, or its signature does not verify" ;;
	11) echo "signed by a key this program does not trust (unknown, retired or revoked)" ;;
	12) echo "the license is bound to another machine" ;;
	13) echo "expired or not yet valid" ;;
	14) echo "revoked by a signed revocation list" ;;
	15) echo "the clock is earlier than a time already seen" ;;
	16) echo "a virtual machine or container that is not allowed" ;;
	17) echo "released after the update subscription ended (demo mode)" ;;
	18) echo "for another product" ;;
	19) echo "token for another audience or issuer" ;;
	20) echo "content does not match its signed hash or checksum" ;;
	21) echo "unsafe content: path traversal, device, setuid, link escape, bomb" ;;
	22) echo "a bundle volume is missing, duplicated or from another bundle" ;;
	23) echo "not newer than installed, or not an allowed from-version" ;;
	24) echo "an install hook failed" ;;
	25) echo "nothing installed, or nothing to roll back to" ;;
	26) echo "not enough free space" ;;
	27) echo "another process holds the lock" ;;
	28) echo "no free seat on the license server (demo mode applies)" ;;
	29) echo "no license server could be reached" ;;
	30) echo "the license server's license or response signature does not verify" ;;
	31) echo "the device is pending or denied by the administrator" ;;
	126|127) echo "the bundle program $bundle could not be run" ;;
	*) echo "see 'bundle --help'" ;;
	esac
}
# run STEP ARGS...: run bundle STEP, log its output, return its exit code.
# On a terminal bundle's stderr stays the terminal, so its progress bar is
# drawn; its messages are then on the screen and the log gets the outcome.
run() {
	step=$1
	shift
	outf=$(mktemp "${TMPDIR:-/tmp}/airseal-update.XXXXXX") || { err "cannot create a temporary file"; exit 1; }
	if [ -t 2 ]; then
		"$bundle" "$step" "$@" >"$outf"
		rc=$?
		cat "$outf" >&2
	else
		"$bundle" "$step" "$@" >"$outf" 2>&1
		rc=$?
	fi
	while IFS= read -r l; do
		pending="$pending$(date -u +%Y-%m-%dT%H:%M:%SZ)   $l
"
		[ -t 2 ] || echo "$prog:   $l" >&2
	done <"$outf"
	rm -f "$outf"
	return $rc
}

# The --pub options, one per line, without word splitting on spaces.
set --
oldifs=$IFS
IFS='
'
for p in $pubs; do
	set -- "$@" --pub "$p"
done
IFS=$oldifs

if [ "$rollback" = 1 ]; then
	logmsg "rollback in $target (bundle program $bundle)"
	run rollback --target "$target"
	rc=$?
	if [ $rc -ne 0 ]; then
		logmsg "FAILED: rollback exited $rc ($(meaning $rc)); nothing was changed in $target"
		flushlog
		exit $rc
	fi
	logmsg "done: rolled back; $(readlink "$target/current" 2>/dev/null || echo '?') is current"
	flushlog create
	exit 0
fi

if [ ! -f "$file" ]; then
	err "bundle $file not found (or not a regular file); nothing was changed"
	hint "give the path of the bundle's first volume, e.g. /media/usb/acme-2.1.0.bundle"
	exit 1
fi

logmsg "update from $file into $target (bundle program $bundle)"
logmsg "verify $file"
run verify "$@" --target "$target" "$file"
rc=$?
if [ $rc -ne 0 ]; then
	logmsg "FAILED: verify exited $rc ($(meaning $rc)); nothing was changed in $target"
	flushlog
	exit $rc
fi

[ -n "$license" ] && set -- "$@" --license "$license"
[ -n "$plan" ] && set -- "$@" "$plan"
[ -n "$nohooks" ] && set -- "$@" "$nohooks"
logmsg "apply $file${plan:+ (plan only)}"
run apply "$@" --target "$target" "$file"
rc=$?
if [ $rc -ne 0 ]; then
	case $rc in
	24) logmsg "FAILED: a hook failed (exit $rc); see above and 'bundle status --target $target'" ;;
	*) logmsg "FAILED: apply exited $rc ($(meaning $rc)); the installed release in $target is unchanged" ;;
	esac
	flushlog create
	exit $rc
fi
if [ -n "$plan" ]; then
	logmsg "plan only: nothing was changed"
	flushlog
else
	logmsg "done: $(readlink "$target/current" 2>/dev/null || echo '?') is current"
	flushlog create
fi
exit 0
