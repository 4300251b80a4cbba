#!/usr/bin/env bash
# Benchmark of bundle pack / verify / apply against the plain tools, in one run.
#
#   bench/bundle/run.sh [SIZE_MIB] [REPS]      (defaults: 1024 MiB, 1 repetition)
#   BASELINE_REF=main bench/bundle/run.sh 256 5
#       also builds bundle from git REF and times its apply paired with this
#       tree's (A B A B in each repetition), printing the ratio of medians.
#
# Generates a release of SIZE_MIB in $BENCH_DIR (default /tmp/bundle-bench): half
# compressible text (Go sources), half incompressible binaries, then measures
# wall time and peak RSS (/usr/bin/time -v) of:
#   baseline pack    tar -c | zstd -3 -T0 ; sha256sum of the result
#   bundle pack      (zstd level 3 = klauspost SpeedDefault)
#   sha256sum        of the bundle file (verify baseline)
#   bundle verify    full (chunks + decompress + every file hash) and --chunks-only
#   baseline apply   zstd -d | tar -x
#   bundle apply     into a fresh target
# Prints medians over REPS and the ratios the issue sets targets for. The page
# cache is warm for every step (the release is read once before timing).
set -euo pipefail
SIZE=${1:-1024}
REPS=${2:-1}
W=${BENCH_DIR:-/tmp/bundle-bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export AIRSEAL_PASSPHRASE=bench-passphrase

command -v zstd >/dev/null || { echo "needs zstd (apt-get install -y zstd)"; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install -y time)"; exit 1; }

mkdir -p "$W"
BIN=$W/bundle
(cd "$ROOT" && go build -trimpath -o "$BIN" ./cmd/bundle)
BASE_BIN=""
if [ -n "${BASELINE_REF:-}" ]; then
	BASE_BIN=$W/bundle-base
	rm -rf "$W/base-src"; mkdir -p "$W/base-src"
	(cd "$ROOT" && git archive "$BASELINE_REF") | tar -x -C "$W/base-src"
	(cd "$W/base-src" && go build -trimpath -o "$BASE_BIN" ./cmd/bundle)
fi
[ -f "$W/bench.key" ] || (cd "$ROOT" && go run bench/bundle/keygen.go "$W/bench" >/dev/null)

REL=$W/release-$SIZE
if [ ! -f "$REL/.done" ]; then
	echo "generating $SIZE MiB release in $REL ..." >&2
	rm -rf "$REL"; mkdir -p "$REL/text" "$REL/bin"
	seed=$W/seed.txt
	[ -f "$seed" ] || find "$(go env GOROOT)/src" -name '*.go' -size +4k | sort | head -4000 | xargs cat > "$seed"
	half=$((SIZE * 1024 * 1024 / 2)); n=0; i=0
	seedsize=$(stat -c %s "$seed")
	while [ $n -lt $half ]; do
		sz=$(( (i % 7 + 1) * 1024 * 1024 ))
		blk=$(( (i * 7919) % ((seedsize - sz) / 4096) ))
		mkdir -p "$REL/text/d$((i % 16))"
		dd if="$seed" of="$REL/text/d$((i % 16))/f$i.go" bs=4096 skip=$blk count=$((sz / 4096)) status=none
		n=$((n + sz)); i=$((i + 1))
	done
	n=0; i=0
	while [ $n -lt $half ]; do
		sz=$(( (i % 13 + 1) * 1024 * 1024 ))
		head -c $sz /dev/urandom > "$REL/bin/blob$i.bin"
		chmod 755 "$REL/bin/blob$i.bin"
		n=$((n + sz)); i=$((i + 1))
	done
	touch "$REL/.done"
fi
rm -f "$REL/.done.tmp"
find "$REL" -type f -exec cat {} + > /dev/null  # warm the page cache

# measure NAME CMD... : appends "wall_s maxrss_kib" to $W/times.NAME
measure() {
	local name=$1; shift
	sync  # earlier steps' dirty pages must not be flushed on this step's time
	sleep 1
	/usr/bin/time -f "%e %M" -o "$W/t.$name" "$@" >/dev/null
	cat "$W/t.$name" >> "$W/times.$name"
}
median() { sort -n -k"$2" "$W/times.$1" | awk -v c="$2" '{a[NR]=$c} END {print a[int((NR+1)/2)]}'; }

rm -f "$W"/times.* "$W/pairs"
for _ in $(seq "$REPS"); do
	rm -f "$W/base.tar.zst" "$W/rel.bundle"
	# Exclude the generator's marker file from both.
	measure base_pack bash -c "tar -C '$REL' --exclude=.done -cf - . | zstd -3 -T0 -q -o '$W/base.tar.zst' && sha256sum '$W/base.tar.zst'"
	rm -f "$REL/.done"
	measure pack "$BIN" pack --key "$W/bench.key" --product bench --version 1.0.0 --release-date 2026-01-01 --from-dir "$REL" -o "$W/rel.bundle"
	touch "$REL/.done"
	measure sha256sum sha256sum "$W/rel.bundle"
	measure verify "$BIN" verify --pub "$W/bench.pub" "$W/rel.bundle"
	measure verify_chunks "$BIN" verify --chunks-only --pub "$W/bench.pub" "$W/rel.bundle"
	# Every extraction starts from the same state: earlier outputs deleted
	# and flushed (measure syncs and settles first).
	rm -rf "$W/out-tar" "$W/target"; mkdir -p "$W/out-tar"
	measure base_apply bash -c "zstd -d -c -q '$W/base.tar.zst' | tar -x -C '$W/out-tar'"
	rm -rf "$W/out-tar" "$W/target"; mkdir -p "$W/out-tar"
	measure base_apply_sync bash -c "zstd -d -c -q '$W/base.tar.zst' | tar -x -C '$W/out-tar' && sync"
	rm -rf "$W/out-tar" "$W/target"
	measure apply "$BIN" apply --pub "$W/bench.pub" --target "$W/target" "$W/rel.bundle"
	if [ -n "$BASE_BIN" ]; then
		# Paired, order alternating (A B, then B A) so that neither side
		# always runs on a warmer or busier machine; each pair's ratio
		# is kept.
		for order in ab ba; do
			for side in $( [ $order = ab ] && echo "base new" || echo "new base"); do
				rm -rf "$W/target"
				if [ $side = base ]; then
					measure apply_base "$BASE_BIN" apply --pub "$W/bench.pub" --target "$W/target" "$W/rel.bundle"
				else
					measure apply "$BIN" apply --pub "$W/bench.pub" --target "$W/target" "$W/rel.bundle"
				fi
			done
			echo "$(tail -1 "$W/times.apply" | cut -d' ' -f1) $(tail -1 "$W/times.apply_base" | cut -d' ' -f1)" >> "$W/pairs"
		done
	fi
done

bsize=$(stat -c %s "$W/rel.bundle"); zsize=$(stat -c %s "$W/base.tar.zst")
printf 'release %d MiB; bundle %d bytes; tar.zst %d bytes; medians of %d run(s)\n' "$SIZE" "$bsize" "$zsize" "$REPS"
printf '%-15s %9s %12s\n' step wall_s peak_rss_MiB
steps="base_pack pack sha256sum verify verify_chunks base_apply base_apply_sync apply"
[ -n "$BASE_BIN" ] && steps="$steps apply_base"
for s in $steps; do
	printf '%-15s %9s %12s\n' "$s" "$(median $s 1)" "$(awk -v k="$(median $s 2)" 'BEGIN{printf "%.1f", k/1024}')"
done
awk -v bp="$(median base_pack 1)" -v p="$(median pack 1)" -v s="$(median sha256sum 1)" \
	-v v="$(median verify 1)" -v vc="$(median verify_chunks 1)" -v ba="$(median base_apply 1)" -v bas="$(median base_apply_sync 1)" -v a="$(median apply 1)" 'BEGIN {
	printf "pack / baseline pack          = %.2f (target <= 1.10)\n", p / bp
	printf "verify throughput / sha256sum = %.2f (target >= 0.80)\n", s / v
	printf "verify --chunks-only / sha256 = %.2f\n", s / vc
	printf "apply / baseline extract      = %.2f (target <= 1.30)\n", a / ba
	printf "apply / baseline extract+sync = %.2f (apply makes the release durable before switching)\n", a / bas
}'
if [ -n "$BASE_BIN" ]; then
	awk -v a="$(median apply 1)" -v b="$(median apply_base 1)" 'BEGIN {
		printf "apply / apply of %s        = %.3f (ratio of medians)\n", ENVIRON["BASELINE_REF"], a / b
	}'
	awk '{print $1 / $2}' "$W/pairs" | sort -n | awk '{r[NR]=$1} END {
		printf "apply / apply of %s, pairs  = %.3f median of %d paired ratios (min %.3f, max %.3f; target <= 1.00 + noise)\n",
			ENVIRON["BASELINE_REF"], (NR % 2 ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2), NR, r[1], r[NR]
	}'
fi
