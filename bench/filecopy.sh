#!/bin/bash
# Benchmark (not a test): file-level copy of a real Debian root (issue 6),
# side by side with the pipeline people would write by hand:
#   pipeline   tar --xattrs --acls -c | zstd -1 | nc  ->  nc | zstd -d | tar -x
#              onto a fresh ext4 (mkfs before the clock starts), synced
#   migrator   send --mode=file -> receive over TLS on loopback (the static
#              binary): layout, plan, partition table and mkfs on the target,
#              pax archive with every attribute, hashes per chunk, synced
# Source: the cached Debian rootfs tarball (~/.cache/migrator/debian-rootfs-
# *.tar.zst, made by qemu-tests/mk-debian.sh) unpacked onto the ext4 root
# partition of a GPT image (BIOS boot + root). Caches are dropped before
# each run. Prints files/s and MiB/s (file data bytes) and the ratio.
#
#   bench/filecopy.sh              (root; BENCH_DIR=/var/tmp/migrator-bench)
set -eu
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:-/var/tmp/migrator-bench}
M=$PWD/build/musl/migrator
[ -x "$M" ] || make -s migrator
ROOTFS=$(ls -t "$HOME"/.cache/migrator/debian-rootfs-*.tar.zst 2>/dev/null | head -1)
[ -n "$ROOTFS" ] || { echo "no cached Debian rootfs (run qemu-tests/mk-debian.sh once)" >&2; exit 1; }
mkdir -p "$DIR"
SRC=$DIR/debian-root-gpt.img T=$DIR/filecopy-target.img MNT=$DIR/mnt-src DST=$DIR/mnt-dst
export LC_ALL=C
mkdir -p "$MNT" "$DST"
cleanup() { umount "$MNT" 2>/dev/null || true; umount "$DST" 2>/dev/null || true; }
trap cleanup EXIT

now() { date +%s.%N; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# The partition's place in the image, in bytes.
part() { sfdisk --json "$SRC" | jq ".partitiontable.partitions[1].$1 * 512"; }

if [ ! -s "$SRC" ]; then
	echo "making $SRC from $ROOTFS ..." >&2
	rm -f "$SRC.tmp"; truncate -s 3G "$SRC.tmp"
	printf 'label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\ntype=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n' |
		sfdisk -q "$SRC.tmp"
	off=$(sfdisk --json "$SRC.tmp" | jq '.partitiontable.partitions[1].start * 512')
	size=$(sfdisk --json "$SRC.tmp" | jq '.partitiontable.partitions[1].size * 512')
	rm -f "$DIR/root.fs"; truncate -s "$size" "$DIR/root.fs"; mkfs.ext4 -q -L root "$DIR/root.fs"
	mount -o loop "$DIR/root.fs" "$MNT"
	zstd -dc "$ROOTFS" | tar -C "$MNT" -xpf - --xattrs --xattrs-include='*' --acls --numeric-owner
	umount "$MNT"
	dd if="$DIR/root.fs" of="$SRC.tmp" bs=4M seek="$off" oflag=seek_bytes conv=notrunc,sparse status=none
	rm -f "$DIR/root.fs"
	mv "$SRC.tmp" "$SRC"
fi

# What there is to copy.
mount -o ro,loop,noload,offset="$(part start)",sizelimit="$(part size)" "$SRC" "$MNT"
files=$(find "$MNT" -xdev -type f | wc -l)
entries=$(find "$MNT" -xdev | wc -l)
bytes=$(find "$MNT" -xdev -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

pipeline() { # seconds for tar | zstd -1 | nc -> nc | zstd -d | tar -x onto a fresh ext4
	local port=$((20000 + RANDOM % 20000)) t0 t1 rx
	rm -f "$T"; truncate -s "$(part size)" "$T"; mkfs.ext4 -q -L root "$T"
	mount -o loop "$T" "$DST"
	drop
	( nc -l 127.0.0.1 "$port" | zstd -d -q |
		tar -C "$DST" -xpf - --xattrs --xattrs-include='*' --acls --numeric-owner ) &
	rx=$!
	sleep 0.3
	t0=$(now)
	tar -C "$MNT" -cf - --xattrs --xattrs-include='*' --acls --numeric-owner --one-file-system . |
		zstd -1 -q -T1 | nc -N 127.0.0.1 "$port"
	wait $rx
	sync -f "$DST"
	t1=$(now)
	umount "$DST"
	echo "$t1 - $t0" | bc
}

migrator() { # seconds for send --mode=file -> receive over TLS
	local t0 t1 rx
	umount "$MNT"     # the sender mounts it itself, read-only
	rm -f "$T" "$DIR/info.json"; truncate -s 3G "$T"
	drop
	"$M" receive -q --listen 127.0.0.1:0 --info-file "$DIR/info.json" --state-dir "$DIR" \
		--map "0=$T" >/dev/null 2>"$DIR/rx.err" &
	rx=$!
	while [ ! -s "$DIR/info.json" ]; do sleep 0.05; done
	jq -r .token "$DIR/info.json" >"$DIR/tok"
	t0=$(now)
	"$M" send -q --mode=file --to "https://127.0.0.1:$(jq -r .port "$DIR/info.json")" \
		--pin "$(jq -r .pin "$DIR/info.json")" --token-file "$DIR/tok" "$SRC" 2>"$DIR/tx.err" ||
		{ kill $rx; wait $rx; cat "$DIR/tx.err" >&2; return 1; }
	wait $rx || { cat "$DIR/rx.err" >&2; return 1; }
	t1=$(now)
	mount -o ro,loop,noload,offset="$(part start)",sizelimit="$(part size)" "$SRC" "$MNT"
	echo "$t1 - $t0" | bc
}

pipe_s=$(pipeline)
mig_s=$(migrator)
wire=$(grep -o '[0-9.]* [KMG]iB on the wire' "$DIR/tx.err" | tail -1 || true)

printf '\nfile-level copy of a Debian root: %s entries, %s regular files, %s MiB of file data\n' \
	"$entries" "$files" "$(awk -v b="$bytes" 'BEGIN{printf "%.0f", b/1048576}')"
printf 'this machine (%s cores), loopback, caches dropped before each run\n\n' "$(nproc)"
printf '%-44s %8s %9s %8s\n' run seconds files/s MiB/s
row() { printf '%-44s %8.2f %9.0f %8.1f\n' "$1" "$2" "$(echo "$files / $2" | bc -l)" "$(echo "$bytes / 1048576 / $2" | bc -l)"; }
row "tar | zstd -1 | nc -> tar -x (ext4 ready)" "$pipe_s"
row "migrator send --mode=file (TLS, incl. mkfs)" "$mig_s"
printf '\nratio migrator / pipeline (throughput): %.2f\n' "$(echo "$pipe_s / $mig_s" | bc -l)"
[ -n "$wire" ] && printf 'migrator: %s\n' "$wire"
rm -f "$T" "$DIR/info.json" "$DIR/tok"
