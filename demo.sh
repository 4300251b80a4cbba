#!/usr/bin/env bash
# demo.sh: the whole offline flow, end to end, on this machine.
#
# Builds every binary into ./bin, then in a scratch directory (DEMO_DIR,
# default a new temporary directory) plays both sides:
#   vendor    keygen, issue a license from the customer's request, revoke it,
#             mint a 10-year OAuth token, pack a release bundle
#   customer  hwid (refuses a VM), license request, verify, token verify,
#             bundle verify/apply/status/rollback, install.sh
# Nothing touches the network or anything outside DEMO_DIR and ./bin.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
# expect CODE CMD...: run CMD, which must exit with CODE.
expect() {
	local want=$1; shift
	printf '$ %s   # expect exit %s\n' "$*" "$want"
	set +e; "$@"; local got=$?; set -e
	if [ "$got" != "$want" ]; then
		echo "demo.sh: error: '$*' exited $got, expected $want" >&2
		exit 1
	fi
}

step "build (reproducible: -trimpath, no time stamps)"
mkdir -p bin
show go build -trimpath -o bin/ ./cmd/...
export PATH="$repo/bin:$PATH"

DEMO_DIR=${DEMO_DIR:-$(mktemp -d -t airseal-demo.XXXXXX)}
mkdir -p "$DEMO_DIR"
cd "$DEMO_DIR"
echo "working in $DEMO_DIR"
# The demo's passphrase comes from the environment; real vendors type it at
# the prompt or keep it in a --passphrase-file, never on the command line.
export AIRSEAL_PASSPHRASE=demo-only-passphrase
rm -rf vendor.* request.json acme.lic acme.png revoked.list state tok release-* dist opt prefix

step "vendor: create the signing key (vendor.key is encrypted, vendor.pub ships to customers)"
show issue keygen -o vendor

step "customer: identify the machine"
# This is where a virtual machine or container is refused (exit 16): a license
# bound to a VM could be cloned. On bare metal hwid prints the ID and exits 0.
set +e; hwid; rc=$?; set -e
if [ "$rc" = 16 ]; then
	echo "(hwid refused: this machine is virtual. The demo goes on with --allow-virtual,"
	echo " as a vendor would for a customer whose license allows virtual machines.)"
	virt=--allow-virtual
else
	virt=
fi
show hwid request --product acme-db --customer "Example LLC" $virt -o request.json --code

step "vendor: issue a license bound to that machine (file, typed code, QR code)"
until=$(date -u -d '+1 year' +%F)
show issue license --key vendor.key --request request.json $virt \
	--tax-id 7707083893/770701001 --seats 5 --feature export=true --feature max_documents=1000 \
	--updates-until "$until" -o acme.lic --qr acme.png
show issue list

step "customer: verify the license offline"
show verify --pub vendor.pub --product acme-db --state state acme.lic
show verify --pub vendor.pub --product acme-db --state state --json acme.lic
code=$(issue license --key vendor.key --request request.json $virt --expires "$(date -u -d '+30 days' +%F)" --code)
echo "a 30-day license as a typed code: ${code:0:60}..."
show verify --pub vendor.pub --state state "$code"
expect 18 verify --pub vendor.pub --product other-product --state state acme.lic
expect 17 verify --pub vendor.pub --state state --release-date "$(date -u -d '+2 years' +%F)" acme.lic
expect 11 verify --state state acme.lic

step "vendor: revoke the license; the customer's verify refuses it"
serial=$(verify --pub vendor.pub --state state --json acme.lic | sed -n 's/.*"serial": *"\([^"]*\)".*/\1/p' | head -1)
show issue revoke --key vendor.key --serial "$serial" -o revoked.list
expect 14 verify --pub vendor.pub --state state --revocations revoked.list acme.lic

step "vendor: a 10-year OAuth token for an on-premise portal"
show token init --dir tok
tokjson=$(token mint --dir tok --aud https://portal.local/rest/ --sub 1 --client-id local.itgrix.1 --scope telephony,crm --format bitrix)
echo "$tokjson"
access=$(printf '%s' "$tokjson" | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
show token verify --dir tok --aud https://portal.local/rest/ "$access"
jti=$(token verify --dir tok --aud https://portal.local/rest/ --json "$access" | sed -n 's/.*"jti": *"\([^"]*\)".*/\1/p')
show token revoke --dir tok --jti "$jti"
expect 14 token verify --dir tok --aud https://portal.local/rest/ "$access"

step "vendor: build a release and pack it as a signed bundle for a USB stick"
for v in 1.0.0 1.1.0; do
	mkdir -p "release-$v/bin"
	cp "$repo"/bin/* "release-$v/bin/"
	echo "acme-db $v" >"release-$v/VERSION"
	show bundle pack --key vendor.key --product acme-db --version "$v" --release-date "$(date -u +%F)" \
		--from-dir "release-$v" -o "acme-db-$v.bundle"
done
show bundle inspect --pub vendor.pub acme-db-1.1.0.bundle

step "customer: verify and apply the bundles atomically, then roll back"
show bundle verify --pub vendor.pub acme-db-1.0.0.bundle
show bundle apply --pub vendor.pub --target opt acme-db-1.0.0.bundle
show bundle apply --pub vendor.pub --target opt --plan acme-db-1.1.0.bundle
show bundle apply --pub vendor.pub --target opt acme-db-1.1.0.bundle
show bundle status --target opt
expect 23 bundle apply --pub vendor.pub --target opt acme-db-1.0.0.bundle
show bundle rollback --target opt
show cat opt/current/VERSION

step "customer: install the tools with install.sh, update with update.sh (no --pub: the key was recorded)"
mkdir -p dist/airseal-demo/bin
cp "$repo"/bin/* dist/airseal-demo/bin/
cp "$repo"/install.sh "$repo"/update.sh dist/airseal-demo/
(cd dist/airseal-demo && sha256sum bin/* install.sh update.sh >SHA256SUMS)
show dist/airseal-demo/install.sh --prefix prefix
show prefix/update.sh --target opt acme-db-1.1.0.bundle
show cat opt/current/VERSION
show prefix/install.sh --prefix prefix --uninstall

step "done"
echo "Everything above ran offline in $DEMO_DIR."
