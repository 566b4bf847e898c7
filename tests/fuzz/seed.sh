#!/bin/sh
# Seeds a fuzz corpus directory with small real disk images (MBR, GPT, GRUB
# boot sector, ext2/ext4 filesystems of a few groups), once. Fuzzing starts from structure, not from nothing.
set -eu
dir=$1
[ -e "$dir/.seeded" ] && exit 0
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
truncate -s 1M "$t/gpt"
printf 'label: gpt\nsize=256K, type=21686148-6449-6E6F-744E-656564454649\ntype=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' | sfdisk -q "$t/gpt"
truncate -s 1M "$t/mbr"
printf 'label: dos\nsize=256K, type=83, bootable\ntype=5\nsize=128K, type=c\n' | sfdisk -q "$t/mbr"
[ -r /usr/lib/grub/i386-pc/boot.img ] && dd if=/usr/lib/grub/i386-pc/boot.img of="$t/mbr" bs=440 count=1 conv=notrunc status=none
# only the parts that matter: the first 64 KiB of each, and the GPT's tail
for f in gpt mbr; do head -c 65536 "$t/$f" >"$dir/seed-$f"; done
cp "$t/gpt" "$dir/seed-gpt-whole"
# A real stream (for the stream and receiver targets): 1 MiB, 64 KiB chunks.
if [ -x "${MIGRATOR:-}" ]; then
	head -c 300K /dev/urandom | dd of="$t/gpt" bs=1K seek=300 conv=notrunc status=none
	"$MIGRATOR" send -q --chunk-size 64K --to "file://$t/s.mig" "$t/gpt" 2>/dev/null &&
		cp "$t/s.mig" "$dir/seed-stream" && { printf '\001'; cat "$t/s.mig"; } >"$dir/seed-stream-rx"
fi
# layouts as `migrator layout -J` writes them (the layout target)
if [ -x "${MIGRATOR:-}" ]; then
	for f in gpt mbr; do "$MIGRATOR" layout -J "$t/$f" >"$dir/seed-layout-$f.json" 2>/dev/null || rm -f "$dir/seed-layout-$f.json"; done
fi
# ext2/3/4 (extfs, and the inventory's probe): 1 MiB at most, several groups,
# BLOCK_UNINIT groups with crc32c and with crc16 checksums, meta_bg
if command -v mke2fs >/dev/null; then
	mkext() { n=$1 size=$2; shift 2; truncate -s "$size" "$t/$n"; mke2fs -q -F "$@" "$t/$n" && cp "$t/$n" "$dir/seed-$n"; }
	mkext ext2 256K -t ext2 -b 1024 -N 32
	mkext ext4 1M -t ext4 -b 1024 -g 256 -N 64 -O ^has_journal
	mkext ext4-4k 1M -t ext4 -b 4096 -N 32 -O ^has_journal
	mkext ext4-meta-bg 1M -t ext4 -b 1024 -g 256 -N 64 -O ^has_journal,meta_bg,^resize_inode
	mkext ext4-uninit-bg 1M -t ext4 -b 1024 -g 256 -N 64 -O ^has_journal,^metadata_csum,uninit_bg,^64bit
fi
# configuration files as installers write them (the rewriters of patch)
for f in "$(dirname "$0")"/../fixtures/patch/*.in; do
	[ -e "$f" ] && cp "$f" "$dir/seed-conf-$(basename "$f" .in)"
done
touch "$dir/.seeded"
