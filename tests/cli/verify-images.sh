#!/bin/bash
# migrator verify on disk images made with the real GRUB: BIOS on MBR and on
# GPT (grub-install --target=i386-pc onto a loop device), UEFI (the ESP as
# grub-install --removable and --uefi-secure-boot lay it out, written with
# mtools: this kernel may lack vfat, and verify reads FAT itself). Each image
# passes; then one corruption at a time, each caught with its own message.
# verify must never write: every image's sha256 is the same afterwards.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
command -v grub-install >/dev/null && [ -d /usr/lib/grub/i386-pc ] ||
	{ echo "ok 1 # SKIP grub-install / grub-pc-bin not installed"; echo 1..1; exit 0; }

LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
BIOSBOOT=21686148-6449-6E6F-744E-656564454649
KVER=6.1.0-test
LOOPS=()
MNT=$SCRATCH/mnt
mkdir -p "$MNT"
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "${VERIFY_KEEP:-}" ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT

# loop IMG [OFFSET SIZE]: a loop device on the image (or a part of it)
loop() {
	local l
	if [ $# -gt 1 ]; then l=$(losetup -f --show -o "$2" --sizelimit "$3" "$1") || return 1
	else l=$(losetup -f --show "$1") || return 1; fi
	LOOPS+=("$l"); echo "$l"
}
unloop() { losetup -d "$1"; }
part_off() { echo $(( $(sector_of "$1" "$2") * 512 )); }
part_size() { echo $(( $(part_field "$1" "$2" size) * 512 )); }

# mount_part IMG PARTNO: mounts the partition's filesystem on $MNT (rw: test setup only)
mount_part() {
	MLOOP=$(loop "$1" "$(part_off "$1" "$2")" "$(part_size "$1" "$2")") &&
		mount "$MLOOP" "$MNT" && mountpoint -q "$MNT"
}
umount_part() { umount "$MNT" && unloop "$MLOOP"; }

# initrd OUT [MODULE...]: an early uncompressed cpio (microcode) followed by a
# zstd-compressed cpio carrying usr/lib/modules/$KVER/.../MODULE.ko
initrd() {
	local out=$1; shift
	local t; t=$(mktemp -d "$SCRATCH/initrd.XXXXXX")
	mkdir -p "$t/early/kernel/x86/microcode" "$t/main/usr/lib/modules/$KVER/kernel/drivers/block" "$t/main/bin"
	echo microcode >"$t/early/kernel/x86/microcode/GenuineIntel.bin"
	echo '#!/bin/sh' >"$t/main/init"
	for m in "$@"; do echo "module $m" >"$t/main/usr/lib/modules/$KVER/kernel/drivers/block/$m.ko"; done
	(cd "$t/early" && find . | sort | cpio -o -H newc --quiet) >"$out"
	(cd "$t/main" && find . | sort | cpio -o -H newc --quiet | zstd -q -c) >>"$out"
	rm -rf "$t"
}

# populate ROOTUUID [BOOTLOADER-CFG-DIR]: the system on the mounted root
populate() {
	local uuid=$1
	mkdir -p "$MNT/etc/default" "$MNT/boot/grub"
	printf '# /etc/fstab\nUUID=%s\t/\text4\terrors=remount-ro 0 1\nproc /proc proc defaults 0 0\n' "$uuid" >"$MNT/etc/fstab"
	printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' >"$MNT/etc/default/grub"
	printf 'search --no-floppy --fs-uuid --set=root %s\nmenuentry test {\n\tlinux /boot/vmlinuz-%s root=UUID=%s ro quiet\n\tinitrd /boot/initrd.img-%s\n}\n' \
		"$uuid" "$KVER" "$uuid" "$KVER" >"$MNT/boot/grub/grub.cfg"
	echo "not a kernel" >"$MNT/boot/vmlinuz-$KVER"
	printf 'CONFIG_VIRTIO_PCI=y\nCONFIG_BLK_DEV_NVME=m\n' >"$MNT/boot/config-$KVER"
	initrd "$MNT/boot/initrd.img-$KVER" virtio_blk nvme xen-blkfront hv_storvsc
}

# bios_image IMG dos|gpt: BIOS GRUB with real grub-install
bios_image() {
	local img=$1 label=$2 root=1
	truncate -s 64M "$img"
	if [ "$label" = gpt ]; then
		printf 'label: gpt\nsize=1M, type=%s, name=bios\ntype=%s, name=root\n' "$BIOSBOOT" "$LINUX" | sfdisk -q "$img"
		root=2
	else
		printf 'label: dos\ntype=83, bootable\n' | sfdisk -q "$img"
	fi
	mkfs_file fs.ext4 "$(part_size "$img" $root)" ext4 -L root && put_fs "$img" $root fs.ext4 || return 1
	mount_part "$img" $root || return 1
	populate "$(blkid_val fs.ext4 UUID)"
	local disk; disk=$(loop "$img") || return 1
	grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="part_gpt part_msdos ext2" \
		"$disk" >grub-install.log 2>&1 || { cat grub-install.log; umount_part; return 1; }
	unloop "$disk"
	umount_part
}

# uefi_image IMG plain|shim: GPT with an ESP laid out as grub-install
# --removable (plain) or --uefi-secure-boot --removable (shim) does it
uefi_image() {
	local img=$1 kind=$2
	truncate -s 96M "$img"
	printf 'label: gpt\nsize=34M, type=%s, name="EFI system partition"\ntype=%s, name=root\n' "$ESP" "$LINUX" | sfdisk -q "$img"
	mkfs_file fs.ext4 "$(part_size "$img" 2)" ext4 -L root && put_fs "$img" 2 fs.ext4 || return 1
	local uuid; uuid=$(blkid_val fs.ext4 UUID)
	mount_part "$img" 2 && populate "$uuid" && umount_part || return 1
	mkfs_file fs.vfat "$(part_size "$img" 1)" vfat -F 32 -n ESP || return 1
	local m=(-i fs.vfat)
	mmd "${m[@]}" ::EFI ::EFI/BOOT ::EFI/debian
	printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" "$uuid" >grub-esp.cfg
	if [ "$kind" = shim ]; then
		mcopy "${m[@]}" /usr/lib/shim/shimx64.efi.signed ::EFI/BOOT/BOOTX64.EFI
		mcopy "${m[@]}" /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ::EFI/BOOT/grubx64.efi
		mcopy "${m[@]}" /usr/lib/shim/mmx64.efi.signed ::EFI/BOOT/mmx64.efi
		mcopy "${m[@]}" /usr/lib/shim/fbx64.efi.signed ::EFI/BOOT/fbx64.efi
		mcopy "${m[@]}" /usr/lib/shim/BOOTX64.CSV ::EFI/debian/BOOTX64.CSV
		mcopy "${m[@]}" grub-esp.cfg ::EFI/debian/grub.cfg
	else
		printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\n" "$uuid" >load.cfg
		grub-mkimage -O x86_64-efi -o bootx64.efi -p /boot/grub -c load.cfg \
			part_gpt ext2 search_fs_uuid normal || return 1
		mcopy "${m[@]}" bootx64.efi ::EFI/BOOT/BOOTX64.EFI
	fi
	put_fs "$img" 1 fs.vfat
}

# verify_run NAME IMG... [-- OPTIONS]: runs verify --json; keeps JSON in $NAME.json
# and checks that no image changed
verify_run() {
	local name=$1; shift
	local imgs=() opts=() sums=() i
	while [ $# -gt 0 ] && [ "$1" != -- ]; do imgs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift && opts=("$@")
	for i in "${imgs[@]}"; do sums+=("$(sha256sum <"$i")"); done
	"$MIGRATOR" verify --json "${opts[@]}" "${imgs[@]}" >"$name.json" 2>"$name.err"
	RC=$?
	local n=0
	for i in "${imgs[@]}"; do
		[ "${sums[$n]}" = "$(sha256sum <"$i")" ] || { not_ok "$name: $i changed by verify"; return; }
		n=$((n+1))
	done
	ok "$name: images unchanged (sha256)"
}
# result NAME CHECK: the verdicts of CHECK in NAME.json, sorted and unique
results() { jq -r --arg c "$2" '[.checks[] | select(.check == $c) | .result] | unique | join(",")' "$1.json"; }
reason_has() { jq -e --arg c "$2" --arg s "$3" 'any(.checks[]; .check == $c and (.reason | contains($s)))' "$1.json" >/dev/null; }
jqe() { jq -e "$@" >/dev/null; }
nfail() { jq '.summary.fail' "$1.json"; }
nwarn() { jq '.summary.warn' "$1.json"; }

check "build BIOS/MBR image (grub-install i386-pc)" bios_image mbr.img dos
check "build BIOS/GPT image (grub-install i386-pc)" bios_image gpt.img gpt
HAVE_EFI=; [ -d /usr/lib/grub/x86_64-efi ] && command -v mcopy >/dev/null && HAVE_EFI=1
HAVE_SHIM=; [ -n "$HAVE_EFI" ] && [ -r /usr/lib/shim/shimx64.efi.signed ] &&
	[ -r /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ] && HAVE_SHIM=1
[ -n "$HAVE_EFI" ] && check "build UEFI image (grub-mkimage x86_64-efi, --removable layout)" uefi_image uefi.img plain
[ -n "$HAVE_SHIM" ] && check "build UEFI+shim image (signed shim, grub, mm, fb, CSV)" uefi_image shim.img shim

# --- everything passes
for img in mbr gpt; do
	verify_run "$img" "$img.img"
	check "$img: exit 0" test "$RC" = 0
	check "$img: no failure, no warning" test "$(nfail $img)/$(nwarn $img)" = 0/0
	check "$img: JSON shape" jqe '.disks and .checks and .summary and (.checks[0] | .check and .subject and .result and .reason)' "$img.json"
	check "$img: boot.img, core.img, its location and config pass" test \
		"$(results $img bios.boot-img)$(results $img bios.core-img)$(results $img bios.core-location)$(results $img bios.core-config)" = passpasspasspass
	check "$img: core.img config search UUID resolves" \
		jqe 'any(.checks[]; .check == "ref" and (.subject | endswith("core.img:1")) and .result == "pass")' "$img.json"
	check "$img: fstab, grub.cfg references pass" test "$(results $img ref)" = pass
	check "$img: initrd found, drivers pass" test "$(results $img kernel.initrd)$(results $img initrd.drivers)" = passpass
	check "$img: initrd read through early cpio + zstd" reason_has "$img" initrd.drivers "2 cpio archive(s), zstd"
done
check "gpt: BIOS boot partition found" test "$(results gpt bios.bios-boot-part)" = pass
check "gpt: core.img in the BIOS boot partition" reason_has gpt bios.core-location "BIOS boot partition 1"
check "mbr: core.img in the gap" reason_has mbr bios.core-location "gap before the first partition"
"$MIGRATOR" verify mbr.img >mbr.txt 2>&1
check "mbr: text output, exit 0" test $? = 0
check "mbr: text output summary line" grep -q '^[0-9]* passed, 0 warnings, 0 failed$' mbr.txt

if [ -n "$HAVE_EFI" ]; then
verify_run uefi uefi.img
check "uefi: exit 0" test "$RC" = 0
check "uefi: ESP and EFI/BOOT/BOOTX64.EFI pass" test "$(results uefi uefi.esp)$(results uefi uefi.fallback)" = passpass
check "uefi: BOOTX64.EFI's embedded search UUID resolves" \
	jqe 'any(.checks[]; .check == "ref" and (.subject | contains("BOOTX64.EFI")) and .result == "pass")' uefi.json
check "uefi: no BIOS checks on a UEFI-only disk" test "$(results uefi bios.boot-img)" = ""
else
	ok "UEFI checks # SKIP grub-efi-amd64-bin or mtools not installed"
fi
if [ -n "$HAVE_SHIM" ]; then
verify_run shim shim.img
check "shim: exit 0" test "$RC" = 0
check "shim: siblings present" test "$(results shim uefi.shim)" = pass
check "shim: EFI/debian/grub.cfg search resolves" \
	jqe 'any(.checks[]; .check == "ref" and (.subject | contains("EFI/debian/grub.cfg")) and .result == "pass")' shim.json
else
	ok "shim checks # SKIP shim-signed or grub-efi-amd64-signed not installed"
fi

# --- one corruption at a time
cp --sparse=always mbr.img zeroed.img
dd if=/dev/zero of=zeroed.img bs=440 count=1 conv=notrunc status=none
verify_run zeroed zeroed.img
check "zeroed boot.img: exit 1" test "$RC" = 1
check "zeroed boot.img: bios.boot-img fails" reason_has zeroed bios.boot-img "no boot code"

cp --sparse=always gpt.img offby1.img
lba=$(od -An -t u8 -j $((0x5c)) -N 8 offby1.img | tr -d ' ')
printf "$(printf '\\x%02x' $(( (lba + 1) & 255 )))" | dd of=offby1.img bs=1 seek=$((0x5c)) conv=notrunc status=none
verify_run offby1 offby1.img
check "core.img LBA off by one: exit 1" test "$RC" = 1
check "core.img LBA off by one: diskboot.img not found" reason_has offby1 bios.core-img "does not hold GRUB's diskboot.img"

cp --sparse=always gpt.img nobb.img
sfdisk -q --part-type nobb.img 1 "$LINUX"
verify_run nobb nobb.img
check "no BIOS boot partition: exit 1" test "$RC" = 1
check "no BIOS boot partition: bios.bios-boot-part fails" reason_has nobb bios.bios-boot-part "without a BIOS boot partition"

cp --sparse=always mbr.img typo.img
# (a typo that changes the first character whatever it was: a UUID may start with f)
mount_part typo.img 1 && sed -i 's/^UUID=f/UUID=e/;t;s/^UUID=./UUID=f/' "$MNT/etc/fstab" && umount_part
verify_run typo typo.img
check "fstab UUID typo: exit 1" test "$RC" = 1
check "fstab UUID typo: the fstab reference matches nothing" \
	jqe 'any(.checks[]; .check == "ref" and (.subject | contains("/etc/fstab:2")) and .result == "fail" and (.reason | contains("matches nothing")))' typo.json

cp --sparse=always mbr.img noinitrd.img
mount_part noinitrd.img 1 && sed -i "s|initrd /boot/initrd.img-|initrd /boot/initrd.img-gone-|" "$MNT/boot/grub/grub.cfg" && umount_part
verify_run noinitrd noinitrd.img
check "grub.cfg initrd path missing: exit 1" test "$RC" = 1
check "grub.cfg initrd path missing: boot.files fails naming the path" \
	jqe 'any(.checks[]; .check == "boot.files" and .result == "fail" and (.subject | endswith("/boot/grub/grub.cfg:4"))
	and (.reason | contains("initrd /boot/initrd.img-gone-")))' noinitrd.json
check "grub.cfg paths of the intact image: boot.files passes" test "$(results mbr boot.files)" = pass

mkfs_file dup.img 16M ext4 -U "$(blkid_val -O "$(part_off mbr.img 1)" mbr.img UUID)"
verify_run dup mbr.img dup.img
check "duplicate UUID: exit 1" test "$RC" = 1
check "duplicate UUID: uuid.unique fails" test "$(results dup uuid.unique)" = fail
check "duplicate UUID: references are ambiguous" reason_has dup ref "ambiguous, matches 2 devices"

if [ -n "$HAVE_EFI" ]; then
cp --sparse=always uefi.img noboot.img
mdel -i "noboot.img@@$(part_off noboot.img 1)" ::EFI/BOOT/BOOTX64.EFI
verify_run noboot noboot.img
check "missing BOOTX64.EFI: exit 1" test "$RC" = 1
check "missing BOOTX64.EFI: uefi.fallback fails" reason_has noboot uefi.fallback "EFI/BOOT/BOOTX64.EFI is missing"
fi

cp --sparse=always mbr.img novirtio.img
mount_part novirtio.img 1 && initrd "$MNT/boot/initrd.img-$KVER" nvme && umount_part
verify_run novirtio-bus novirtio.img -- --target-bus=virtio
check "initrd without virtio, --target-bus=virtio: exit 1" test "$RC" = 1
check "initrd without virtio, --target-bus=virtio: fails" test "$(results novirtio-bus initrd.drivers)" = fail
check "initrd without virtio, --target-bus=virtio: says so" reason_has novirtio-bus initrd.drivers "no virtio drivers for the target"
verify_run novirtio novirtio.img
check "initrd without virtio, no --target-bus: exit 0" test "$RC" = 0
check "initrd without virtio, no --target-bus: warns" test "$(results novirtio initrd.drivers)" = warn
check "initrd without virtio, no --target-bus: names virtio" reason_has novirtio initrd.drivers "nothing for virtio"
verify_run nvme-bus novirtio.img -- --target-bus=nvme
check "same initrd, --target-bus=nvme: passes" test "$(results nvme-bus initrd.drivers)" = pass

cp --sparse=always mbr.img immutable.img
mount_part immutable.img 1 && chattr +i "$MNT/boot/grub/grub.cfg" && umount_part
verify_run immutable immutable.img
check "chattr +i grub.cfg: exit 0, fs.immutable warns" test "$RC/$(results immutable fs.immutable)" = 0/warn
check "chattr +i grub.cfg: names the file" reason_has immutable fs.immutable "boot/grub/grub.cfg"

"$MIGRATOR" verify --target-bus=floppy mbr.img >/dev/null 2>usage.txt
check "unknown bus: exit 2" test $? = 2
"$MIGRATOR" verify >/dev/null 2>&1
check "no disk: exit 2" test $? = 2
done_testing
