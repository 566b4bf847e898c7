#!/bin/sh
# qemu-tests/fstools-guest.sh — runs inside the rescue VM, in its BusyBox shell
# (smoke.sh, case fs-tools): what file-level copy does to a target disk, with the
# rescue system's own tools. It
#   - partitions the scratch disk (the virtio disk whose serial is $SERIAL) with
#     sfdisk: GPT, an ESP, a swap and a Linux partition;
#   - creates vfat with volume id $FAT_ID and label $FAT_LABEL, swap with $SWAP_UUID
#     and $SWAP_LABEL, ext4 with $EXT4_UUID and $EXT4_LABEL (block size, inode size
#     and features given, as the copy gives the source's);
#   - checks each with its fsck, mounts the filesystems once (the kernel must
#     accept what the tools made; the rescue kernel has no swap support, so the
#     swap area is checked by blkid only), checks again;
#   - prints what blkid and sfdisk -d say.
# The values come from fstools.env beside this file (written by smoke.sh). Output
# for the host: "FSTOOLS rc=N STEP" after every step, "FSTOOLS-BLKID ..." and
# "FSTOOLS-SFDISK ..." lines, and "FSTOOLS-END failed=N" last.
set -u
. "$(dirname "$0")/fstools.env"
failed=0
# Kernel messages (mounts) would land in the middle of our lines on the
# serial console; they are printed from dmesg at the end when a step failed.
dmesg -n 1

# step NAME COMMAND...: runs it, reports its exit status.
step() {
	name=$1; shift
	"$@"
	rc=$?
	echo "FSTOOLS rc=$rc $name"
	[ $rc -eq 0 ] || failed=$((failed + 1))
	return $rc
}

disk=
for d in /sys/block/*; do
	[ "$(cat "$d/serial" 2>/dev/null)" = "$SERIAL" ] && disk=/dev/${d##*/}
done
[ -n "$disk" ] || { echo "FSTOOLS rc=1 find-disk"; echo "FSTOOLS-END failed=1"; exit 1; }
echo "FSTOOLS rc=0 find-disk $disk"
part() { case $disk in *[0-9]) echo "${disk}p$1" ;; *) echo "$disk$1" ;; esac; }
esp=$(part 1) swap=$(part 2) root=$(part 3)

step sfdisk sfdisk --wipe always "$disk" <<EOF
label: gpt
size=64MiB, type=uefi, name=esp
size=32MiB, type=swap, name=swap
type=linux, name=root
EOF
# sfdisk has the kernel re-read the table; devtmpfs makes the nodes.
i=0
while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
step partitions-appear test -b "$root"

step mkfs.vfat mkfs.vfat -F 32 -i "$FAT_ID" -n "$FAT_LABEL" "$esp"
step fsck.vfat fsck.vfat -n "$esp"
step mkswap mkswap -U "$SWAP_UUID" -L "$SWAP_LABEL" "$swap"
step mkfs.ext4 mkfs.ext4 -q -F -U "$EXT4_UUID" -L "$EXT4_LABEL" -b 4096 -I 256 \
	-O has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize "$root"
step e2fsck e2fsck -fn "$root"

mkdir -p /run/fstools/esp /run/fstools/root
step mount-vfat mount -t vfat "$esp" /run/fstools/esp &&
	echo fat >/run/fstools/esp/probe && step umount-vfat umount /run/fstools/esp
step mount-ext4 mount -t ext4 "$root" /run/fstools/root &&
	echo ext4 >/run/fstools/root/probe && step umount-ext4 umount /run/fstools/root
step fsck.vfat-after-mount fsck.vfat -n "$esp"
step e2fsck-after-mount e2fsck -fn "$root"
step tune2fs tune2fs -l "$root"
step wipefs wipefs "$disk"

blkid -p "$esp" "$swap" "$root" | sed 's/^/FSTOOLS-BLKID /'
sfdisk -d "$disk" | sed 's/^/FSTOOLS-SFDISK /'
[ $failed -eq 0 ] || dmesg | tail -n 30
echo "FSTOOLS-END failed=$failed"
