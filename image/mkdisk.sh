#!/bin/sh
# mkdisk.sh: the rescue disk -- a small GPT disk image that boots under BIOS
# and UEFI, to attach to a VM (cloud rescue mode) or write to a USB stick.
#
#   mkdisk.sh [-s] -k KERNEL -i INITRAMFS -o OUT.img [-c migrator.conf] [-V VERSION]
#
#   -s   Secure Boot flavour: UEFI boots Debian's signed shim and GRUB and the
#        kernel must be signed (Debian's). BIOS boot is the same in both.
#
# Writes OUT.img.tmp and renames it. Built from regular files only (mtools,
# sfdisk and dd on the image file): no loop device, no mount, no root needed.
# Same inputs and SOURCE_DATE_EPOCH give the same bytes.
#
#   MiB 0      protective MBR (GRUB boot.img) + GPT
#   MiB 1      1  BIOS boot   1 MiB    GRUB core.img (i386-pc), no file system
#   MiB 2      2  ESP        33 MiB    FAT32 "MIGR-ESP": EFI/BOOT/BOOTX64.EFI
#   MiB 35     3  MIGRATOR    sized    FAT "MIGRATOR": boot/vmlinuz,
#                                       boot/initramfs.cpio.zst, boot/grub/grub.cfg,
#                                       migrator.conf
#   last MiB      backup GPT

. "$(dirname "$0")/lib.sh"

parse_media_args img "$@"
[ "$sb" = 0 ] || need "$SHIM_EFI" "$MOKMANAGER_EFI" "$GRUB_SIGNED_EFI"

work=$(mktemp -d "$(dirname "$out")/.mkdisk.XXXXXX")
trap 'rm -rf "$work" "$out.tmp"' EXIT
trap 'exit 130' INT TERM

MIB=1048576
BIOS_START=1 BIOS_MIB=1
ESP_START=2 ESP_MIB=33 # the smallest FAT32 with 512-byte clusters
DATA_START=$((ESP_START + ESP_MIB))

flavour=disk-$sb
data_volid=$(hexid "$flavour-data" | cut -c1-8)
# GRUB's UUID of a FAT file system: the volume id as xxxx-xxxx.
data_uuid=$(echo "$data_volid" | sed 's/\(....\)/\1-/')

data=$work/data esp=$work/esp
mkdir -p "$esp/EFI/BOOT"
stage_boot_tree "$data"
early_cfg "$work/early.cfg" FS_UUID="$data_uuid"

# shellcheck disable=SC2086
grub_image i386-pc '(,gpt3)/boot/grub' "$work/early.cfg" "$work/core.img" \
	$GRUB_MODULES_COMMON $GRUB_MODULES_PC fat

if [ "$sb" = 1 ]; then
	# See mkiso.sh: shim, Debian's signed GRUB next to it, MokManager, no
	# fallback; the signed GRUB reads /EFI/debian/grub.cfg from the ESP.
	cp "$SHIM_EFI" "$esp/EFI/BOOT/BOOTX64.EFI"
	cp "$GRUB_SIGNED_EFI" "$esp/EFI/BOOT/grubx64.efi"
	cp "$MOKMANAGER_EFI" "$esp/EFI/BOOT/mmx64.efi"
	mkdir -p "$esp/EFI/debian"
	subst "$IMAGE_DIR/grub/sb-bootstrap.cfg" "$esp/EFI/debian/grub.cfg" PART=,gpt3 FS_UUID="$data_uuid"
else
	# shellcheck disable=SC2086
	grub_image x86_64-efi '(,gpt3)/boot/grub' "$work/early.cfg" "$esp/EFI/BOOT/BOOTX64.EFI" \
		$GRUB_MODULES_COMMON $GRUB_MODULES_EFI fat
fi

# The data partition: what it holds plus room for logs and configuration.
date_tree "$data"
date_tree "$esp"
data_mib=$(( ($(tree_kib "$data") * 105 / 100 + 1023) / 1024 + 8 ))
fat_image "$work/esp.img" $((ESP_MIB * 1024)) MIGR-ESP "$(hexid "$flavour-esp" | cut -c1-8)" "$esp" -F 32 -s 1
fat_image "$work/data.img" $((data_mib * 1024)) MIGRATOR "$data_volid" "$data"

total_mib=$((DATA_START + data_mib + 1))
img=$out.tmp
rm -f "$img"
truncate -s $((total_mib * MIB)) "$img"
sfdisk --quiet --no-reread --no-tell-kernel "$img" <<EOF
label: gpt
label-id: $(guid "$flavour-disk")
first-lba: 2048
start=$((BIOS_START * 2048)), size=$((BIOS_MIB * 2048)), type=21686148-6449-6E6F-744E-656564454649, uuid=$(guid "$flavour-bios"), name="BIOS boot"
start=$((ESP_START * 2048)), size=$((ESP_MIB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$(guid "$flavour-esp"), name="EFI system"
start=$((DATA_START * 2048)), size=$((data_mib * 2048)), type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=$(guid "$flavour-data"), name="MIGRATOR"
EOF
dd if="$work/esp.img" of="$img" bs=$MIB seek=$ESP_START conv=notrunc,sparse status=none
dd if="$work/data.img" of="$img" bs=$MIB seek=$DATA_START conv=notrunc,sparse status=none

# GRUB for BIOS, as `grub-install --target=i386-pc --no-rs-codes` would do it
# (util/setup.c), done by hand because grub-bios-setup insists on probing the
# host's root disk. core.img goes to the start of the BIOS boot partition;
# the last 12 bytes of its first sector (diskboot.img) are the block list of
# the rest: start LBA (8), sector count (2), load segment 0x820 (2).
# boot.img becomes the MBR code: it keeps the protective MBR's BPB bytes
# (0x03-0x59) and everything from the disk signature on (0x1b8-0x1ff),
# learns where core.img is (0x5c, 8 bytes), uses the BIOS's boot drive (0x64
# = 0xff) and skips the floppy check (0x66, 2 nops).
core_start=$((BIOS_START * 2048))
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[ "$core_sectors" -le $((BIOS_MIB * 2048)) ] || die "core.img does not fit the BIOS boot partition"
dd if="$work/core.img" of="$img" bs=512 seek=$core_start conv=notrunc status=none
put_le "$img" $((core_start * 512 + 500)) 8 $((core_start + 1))
put_le "$img" $((core_start * 512 + 508)) 2 $((core_sectors - 1))
put_le "$img" $((core_start * 512 + 510)) 2 $((0x820))
boot=$GRUB_PC_DIR/boot.img
dd if="$boot" of="$img" bs=1 count=3 conv=notrunc status=none
dd if="$boot" of="$img" bs=1 skip=$((0x5a)) seek=$((0x5a)) count=$((0x1b8 - 0x5a)) conv=notrunc status=none
put_le "$img" $((0x5c)) 8 "$core_start"
put_le "$img" $((0x64)) 1 255
put_le "$img" $((0x66)) 2 $((0x9090))

mv "$img" "$out"
