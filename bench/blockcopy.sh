#!/bin/bash
# Benchmark (not a test): block copy throughput on this machine, side by side
# with the baselines, all in one run (issue 7):
#   physical limit   dd of the image to /dev/null, and of zeros to the target
#   pipeline         dd bs=4M | zstd -1 | nc  ->  nc | zstd -d | dd (fsync)
#   migrator         send -> receive over TLS on loopback (the static binary)
# Images: SIZE MiB (default 4096), half random data and half zeros (in
# alternating 64 MiB runs, zeros physically written), and an ext4 filesystem
# of the same size, half full, whose free blocks hold old data (deleted files),
# copied with and without --used-only. Caches are dropped before each run.
#
#   bench/blockcopy.sh             (root; BENCH_DIR=/var/tmp/migrator-bench)
set -eu
cd "$(dirname "$0")/.."
SIZE=${SIZE:-4096}
DIR=${BENCH_DIR:-/var/tmp/migrator-bench}
M=$PWD/build/musl/migrator
MM=$PWD/build/musl/migrator-musl-malloc     # the same program on musl's malloc
[ -x "$M" ] && [ -x "$MM" ] || make -s migrator build/musl/migrator-musl-malloc
mkdir -p "$DIR"
IMG=$DIR/half-random-$SIZE.img EXT=$DIR/ext4-half-$SIZE.img T=$DIR/target.img
export LC_ALL=C

now() { date +%s.%N; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mibs() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.0f", b/1048576/s}'; }

if [ ! -s "$IMG" ]; then
	echo "making $IMG ..." >&2
	for ((i = 0; i < SIZE / 64; i++)); do
		if ((i % 2 == 0)); then head -c 64M /dev/urandom; else head -c 64M /dev/zero; fi
	done >"$IMG.tmp"
	mv "$IMG.tmp" "$IMG"
fi
if [ ! -s "$EXT" ]; then
	echo "making $EXT ..." >&2
	rm -f "$EXT.tmp"; truncate -s "${SIZE}M" "$EXT.tmp"
	mkfs.ext4 -q -F "$EXT.tmp"
	mnt=$(mktemp -d); mount -o loop "$EXT.tmp" "$mnt"
	# 3/4 written, then a third of it deleted: half full, and the free
	# space holds old data as on a disk that has been in use.
	n=$(( SIZE * 3 / 4 / 64 ))
	for ((i = 0; i < n; i++)); do head -c 64M /dev/urandom >"$mnt/f$i"; done
	for ((i = 0; i < n; i += 3)); do rm "$mnt/f$i"; done
	umount "$mnt"; rmdir "$mnt"
	mv "$EXT.tmp" "$EXT"
fi
bytes=$(stat -c %s "$IMG")

# Physical limit: reading the source, writing the target (fsynced).
drop; t0=$(now); dd if="$IMG" of=/dev/null bs=4M status=none; t1=$(now)
read_s=$(echo "$t1 - $t0" | bc)
rm -f "$T"; drop; t0=$(now); dd if=/dev/zero of="$T" bs=4M count=$((SIZE / 4)) conv=fsync status=none; t1=$(now)
write_s=$(echo "$t1 - $t0" | bc)
limit_s=$(echo "if ($read_s > $write_s) $read_s else $write_s" | bc)

pipeline() { # IMG: seconds for dd | zstd -1 | nc -> nc | zstd -d | dd
	local port=$((20000 + RANDOM % 20000)) t0 t1
	rm -f "$T"; drop
	( nc -l 127.0.0.1 "$port" | zstd -d -q | dd of="$T" bs=4M iflag=fullblock conv=fsync status=none ) &
	local rx=$!
	sleep 0.3
	t0=$(now)
	dd if="$1" bs=4M status=none | zstd -1 -q -T1 | nc -N 127.0.0.1 "$port"
	wait $rx
	t1=$(now)
	cmp -s "$1" "$T" || { echo "pipeline: copy differs" >&2; exit 1; }
	echo "$t1 - $t0" | bc
}

migrator() { # IMG [send options]: seconds; sets RSS_TX RSS_RX (KiB). BIN=... picks the binary
	local img=$1 t0 t1 M=${BIN:-$M}; shift
	rm -f "$T" "$T.migrator-journal" "$DIR/info.json"; drop
	/usr/bin/time -f %M -o "$DIR/rss.rx" "$M" receive -q --listen 127.0.0.1:0 --info-file "$DIR/info.json" \
		--state-dir "$DIR" --map "0=$T" >/dev/null 2>"$DIR/rx.err" &
	local rx=$!
	while [ ! -s "$DIR/info.json" ]; do sleep 0.05; done
	jq -r .token "$DIR/info.json" >"$DIR/tok"
	t0=$(now)
	/usr/bin/time -f %M -o "$DIR/rss.tx" "$M" send -q "$@" --to "https://127.0.0.1:$(jq -r .port "$DIR/info.json")" \
		--pin "$(jq -r .pin "$DIR/info.json")" --token-file "$DIR/tok" "$img" 2>"$DIR/tx.err" ||
		{ kill $rx; wait $rx; cat "$DIR/tx.err" >&2; return 1; }
	wait $rx
	t1=$(now)
	RSS_TX=$(cat "$DIR/rss.tx") RSS_RX=$(cat "$DIR/rss.rx")
	echo "$t1 - $t0" | bc >"$DIR/secs"
}

pipe_s=$(pipeline "$IMG")
migrator "$IMG" || exit 1
mig_s=$(cat "$DIR/secs"); rss1="$RSS_TX/$RSS_RX"
cmp -s "$IMG" "$T" || { echo "migrator: copy differs" >&2; exit 1; }

ext_pipe_s=$(pipeline "$EXT")
migrator "$EXT" || exit 1
ext_full_s=$(cat "$DIR/secs")
used=0
if "$M" send --help | grep -q -- --used-only && migrator "$EXT" --used-only 2>/dev/null; then
	used=1; ext_used_s=$(cat "$DIR/secs"); rss2="$RSS_TX/$RSS_RX"
	e2fsck -fn "$T" >/dev/null 2>&1 && fsck=clean || fsck=DIRTY
	sent=$(grep -o '[0-9.]* [KMG]iB on the wire' "$DIR/tx.err" | tail -1)
fi

# CPU-bound: 1 GiB of random data in tmpfs to tmpfs, where the allocator shows.
SHM=/dev/shm/migrator-bench; mkdir -p "$SHM"
head -c 1G "$IMG" >"$SHM/src.img"
shm_bytes=$(stat -c %s "$SHM/src.img")
T0=$T; T=$SHM/target.img
shm_pipe_s=$(pipeline "$SHM/src.img")
BIN=$MM migrator "$SHM/src.img" || exit 1; shm_musl_s=$(cat "$DIR/secs")
BIN=$M migrator "$SHM/src.img" || exit 1; shm_mi_s=$(cat "$DIR/secs")
cmp -s "$SHM/src.img" "$T" || { echo "migrator: tmpfs copy differs" >&2; exit 1; }
rm -rf "$SHM"; T=$T0

printf '\nblock copy, %s MiB images, this machine (%s cores), caches dropped before each run\n\n' "$SIZE" "$(nproc)"
printf '%-52s %8s %8s\n' "run" "seconds" "MiB/s"
row() { printf '%-52s %8.2f %8s\n' "$1" "$2" "$(mibs "$bytes" "$2")"; }
row "physical: dd image -> /dev/null" "$read_s"
row "physical: dd zeros -> target (fsync)" "$write_s"
row "half random: dd | zstd -1 | nc" "$pipe_s"
row "half random: migrator send/receive (TLS)" "$mig_s"
row "ext4 half full: dd | zstd -1 | nc" "$ext_pipe_s"
row "ext4 half full: migrator (all blocks)" "$ext_full_s"
[ $used = 1 ] && row "ext4 half full: migrator --used-only" "$ext_used_s"
printf '%-52s %8.2f %8s\n' "tmpfs, 1 GiB half random: dd | zstd -1 | nc" "$shm_pipe_s" "$(mibs "$shm_bytes" "$shm_pipe_s")"
printf '%-52s %8.2f %8s\n' "tmpfs, 1 GiB half random: migrator, musl malloc" "$shm_musl_s" "$(mibs "$shm_bytes" "$shm_musl_s")"
printf '%-52s %8.2f %8s\n' "tmpfs, 1 GiB half random: migrator, mimalloc" "$shm_mi_s" "$(mibs "$shm_bytes" "$shm_mi_s")"
printf '\nratios\n'
printf '  half random: migrator vs physical limit          %5.2fx (goal >= 0.95)\n' "$(echo "$limit_s / $mig_s" | bc -l)"
printf '  half random: migrator vs dd|zstd|nc              %5.2fx faster\n' "$(echo "$pipe_s / $mig_s" | bc -l)"
[ $used = 1 ] && printf '  ext4 --used-only vs dd|zstd|nc                   %5.2fx faster (goal >= 5)\n' "$(echo "$ext_pipe_s / $ext_used_s" | bc -l)"
[ $used = 1 ] && printf '  ext4 --used-only: e2fsck -fn on the target       %s; %s\n' "$fsck" "$sent"
printf '  tmpfs: mimalloc vs musl malloc                   %5.2fx faster\n' "$(echo "$shm_musl_s / $shm_mi_s" | bc -l)"
printf '  peak RSS send/receive, KiB                        %s' "$rss1"
[ $used = 1 ] && printf ', used-only %s' "$rss2"
printf ' (goal <= 65536)\n'
rm -f "$T" "$T.migrator-journal"
