#!/bin/sh
# mkiso.sh: the hybrid rescue ISO -- a CD (El Torito, BIOS and UEFI) that,
# written raw to a USB stick, also boots as a disk (BIOS via GRUB's hybrid
# MBR, UEFI via the ESP appended as GPT partition 2).
#
#   mkiso.sh [-s] -k KERNEL -i INITRAMFS -o OUT.iso [-c migrator.conf] [-V VERSION]
#
#   -s   Secure Boot flavour: UEFI boots Debian's signed shim and GRUB and the
#        kernel must be signed (Debian's). BIOS boot is the same in both.
#
# Writes OUT.iso.tmp and renames it. Same inputs and SOURCE_DATE_EPOCH give
# the same bytes.
#
# Layout (see README.md):
#   /boot/grub/bios.img         GRUB i386-pc-eltorito core (El Torito BIOS entry)
#   /boot/grub/grub.cfg         the menu
#   /boot/vmlinuz, /boot/initramfs.cpio.zst
#   /EFI/debian/grub.cfg        (-s) bootstrap for the signed GRUB, CD case
#   /migrator.conf.sample       sample configuration (copy to migrator.conf to use)
#   appended partition 2        FAT ESP image, also the El Torito UEFI entry

. "$(dirname "$0")/lib.sh"

parse_media_args iso "$@"
[ "$sb" = 0 ] || need "$SHIM_EFI" "$MOKMANAGER_EFI" "$GRUB_SIGNED_EFI"

work=$(mktemp -d "$(dirname "$out")/.mkiso.XXXXXX")
trap 'rm -rf "$work" "$out.tmp"' EXIT
trap 'exit 130' INT TERM

# The ISO 9660 volume modification date is also GRUB's UUID for the file
# system (what grub-mkrescue relies on too); the hundredths tell the
# flavours apart.
hundredths=$([ "$sb" = 1 ] && echo 01 || echo 00)
moddate=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)$hundredths
fs_uuid=$(echo "$moddate" | sed 's/\(....\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)/\1-\2-\3-\4-\5-\6-\7/')

stage=$work/iso esp=$work/esp
mkdir -p "$esp/EFI/BOOT"
stage_boot_tree "$stage"
early_cfg "$work/early.cfg" FS_UUID="$fs_uuid"

# BIOS, CD and USB alike: the El Torito image is also what GRUB's hybrid MBR
# (boot_hybrid.img, patched by xorriso's --grub2-boot-info) loads from a disk.
# shellcheck disable=SC2086
grub_image i386-pc-eltorito '()/boot/grub' "$work/early.cfg" "$stage/boot/grub/bios.img" \
	$GRUB_MODULES_COMMON $GRUB_MODULES_PC iso9660

if [ "$sb" = 1 ]; then
	# shim loads grubx64.efi from its own directory; GRUB reads
	# /EFI/debian/grub.cfg from the device it came from. No fbx64.efi: on
	# removable media shim's fallback would write boot entries to NVRAM.
	cp "$SHIM_EFI" "$esp/EFI/BOOT/BOOTX64.EFI"
	cp "$GRUB_SIGNED_EFI" "$esp/EFI/BOOT/grubx64.efi"
	cp "$MOKMANAGER_EFI" "$esp/EFI/BOOT/mmx64.efi"
	mkdir -p "$esp/EFI/debian" "$stage/EFI/debian"
	subst "$IMAGE_DIR/grub/sb-bootstrap.cfg" "$esp/EFI/debian/grub.cfg" PART= FS_UUID="$fs_uuid"
	cp "$esp/EFI/debian/grub.cfg" "$stage/EFI/debian/grub.cfg"
else
	# shellcheck disable=SC2086
	grub_image x86_64-efi '()/boot/grub' "$work/early.cfg" "$esp/EFI/BOOT/BOOTX64.EFI" \
		$GRUB_MODULES_COMMON $GRUB_MODULES_EFI iso9660
fi

# The ESP image: FAT12/16 as mkfs picks, sized to fit.
date_tree "$esp"
esp_kib=$(( $(tree_kib "$esp") * 102 / 100 + 128 ))
fat_image "$work/efi.img" "$esp_kib" MIGR-ESP "$(hexid iso-esp-$sb | cut -c1-8)" "$esp"

date_tree "$stage"
# xorriso also takes SOURCE_DATE_EPOCH: file dates, volume UUID, GPT GUIDs.
xorriso -as mkisofs \
	-o "$out.tmp" \
	-iso-level 3 -r -V MIGRATOR -no-pad \
	--modification-date="$moddate" \
	--grub2-mbr "$GRUB_PC_DIR/boot_hybrid.img" \
	-partition_offset 16 \
	--mbr-force-bootable \
	-append_partition 2 0xef "$work/efi.img" \
	-appended_part_as_gpt \
	-iso_mbr_part_type a2a0d0ebe5b9334487c068b6b72699c7 \
	-c boot/boot.cat \
	-b boot/grub/bios.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
	-eltorito-alt-boot \
	-e --interval:appended_partition_2:all:: -no-emul-boot \
	"$stage" 2>"$work/xorriso.log" || { cat "$work/xorriso.log" >&2; exit 1; }
mv "$out.tmp" "$out"
