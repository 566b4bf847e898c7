#!/bin/bash
# migrator patch installs the UEFI fallback loader: GPT images whose ESP (made
# with mtools) has the system's loader only in EFI/debian, as after a
# migration (NVRAM entries stay with the old machine), and no
# EFI/BOOT/BOOTX64.EFI. shim: Debian's signed shim, grub, mm and fb in
# EFI/debian without a BOOTX64.CSV; plain: a grub-mkimage x86_64-efi image
# as EFI/debian/grubx64.efi. Each: verify fails uefi.fallback; `patch
# --dry-run` plans the copy and changes nothing; `patch` copies (shim as
# BOOTX64.EFI with its siblings and grub.cfg, plus a BOOTX64.CSV for
# fallback; or grubx64.efi as BOOTX64.EFI), verifies again, and verify
# passes; the ESP is a clean FAT (fsck.vfat -n). The ESP is mounted
# read-write by the kernel's vfat or, where the kernel has none (this host),
# Debian's fusefat.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
HAVE_VFAT=; grep -qw vfat /proc/filesystems 2>/dev/null && HAVE_VFAT=1
[ -n "$HAVE_VFAT" ] || { [ -x /usr/bin/fusefat ] && [ -c /dev/fuse ]; } ||
	{ echo "ok 1 # SKIP no vfat in the kernel and no fusefat with /dev/fuse (apt-get install fusefat)"; echo 1..1; exit 0; }
command -v mcopy >/dev/null && command -v grub-mkimage >/dev/null && [ -d /usr/lib/grub/x86_64-efi ] ||
	{ echo "ok 1 # SKIP mtools or grub-efi-amd64-bin not installed"; echo 1..1; exit 0; }
HAVE_SHIM=; [ -r /usr/lib/shim/shimx64.efi.signed ] && [ -r /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ] && HAVE_SHIM=1

LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
MNT=$SCRATCH/mnt
mkdir -p "$MNT"
part_off() { echo $(( $(sector_of "$1" "$2") * 512 )); }
part_size() { echo $(( $(part_field "$1" "$2" size) * 512 )); }
jqe() { jq -e "$@" >/dev/null; }

# image IMG shim|plain
image() {
	local img=$1 kind=$2
	truncate -s 96M "$img"
	printf 'label: gpt\nsize=34M, type=%s, name="EFI system partition"\ntype=%s, name=root\n' "$ESP" "$LINUX" | sfdisk -q "$img"
	mkfs_file fs.ext4 "$(part_size "$img" 2)" ext4 -L root || return 1
	local uuid; uuid=$(blkid_val fs.ext4 UUID)
	mount -o loop fs.ext4 "$MNT" || return 1
	mkdir -p "$MNT/etc" "$MNT/boot/grub" "$MNT/boot/efi"
	printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$MNT/etc/fstab"
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$MNT/etc/os-release"
	printf 'menuentry Debian {\n\tsearch --fs-uuid --set=root %s\n}\n' "$uuid" >"$MNT/boot/grub/grub.cfg"
	umount "$MNT" && put_fs "$img" 2 fs.ext4 || return 1
	mkfs_file fs.vfat "$(part_size "$img" 1)" vfat -F 32 -n ESP || return 1
	local m=(-i fs.vfat)
	mmd "${m[@]}" ::EFI ::EFI/debian
	printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" "$uuid" >grub-esp.cfg
	if [ "$kind" = shim ]; then
		mcopy "${m[@]}" /usr/lib/shim/shimx64.efi.signed ::EFI/debian/shimx64.efi
		mcopy "${m[@]}" /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ::EFI/debian/grubx64.efi
		mcopy "${m[@]}" /usr/lib/shim/mmx64.efi.signed ::EFI/debian/mmx64.efi
		mcopy "${m[@]}" /usr/lib/shim/fbx64.efi.signed ::EFI/debian/fbx64.efi
		mcopy "${m[@]}" grub-esp.cfg ::EFI/debian/grub.cfg
	else
		printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\n" "$uuid" >load.cfg
		grub-mkimage -O x86_64-efi -o grubx64.efi -p /boot/grub -c load.cfg \
			part_gpt ext2 search_fs_uuid normal || return 1
		mcopy "${m[@]}" grubx64.efi ::EFI/debian/grubx64.efi
	fi
	put_fs "$img" 1 fs.vfat
}
esp() { echo "$1@@$(part_off "$1" 1)"; }
# get IMG PATH OUT: a file of the image's ESP
get() { mcopy -n -i "$(esp "$1")" "::$2" "$3" 2>/dev/null; }

run_case() {
	local kind=$1 img=$1.img
	check "$kind: build GPT image, loader only in EFI/debian" image "$img" "$kind"
	"$MIGRATOR" verify -J "$img" >"$kind-v0.json" 2>/dev/null
	check "$kind: verify fails uefi.fallback" \
		jqe 'any(.checks[]; .check == "uefi.fallback" and .result == "fail")' "$kind-v0.json"
	local s0; s0=$(sha256sum <"$img")
	local from=shimx64.efi rc; [ "$kind" = plain ] && from=grubx64.efi
	"$MIGRATOR" patch --dry-run -J "$img" >"$kind-dry.json" 2>"$kind-dry.err"; rc=$?
	check "$kind: dry-run plans the copy of $from, image unchanged" \
		bash -c 'test $0 = 0 && test "$1" = "$(sha256sum <"$2")" && jq -e --arg c "copy /EFI/debian/$3 /EFI/BOOT/BOOTX64.EFI" \
		"[.steps[] | select(.step == \"uefi-fallback\") | .command] == [\$c]" "$4" >/dev/null' $rc "$s0" "$img" "$from" "$kind-dry.json"
	"$MIGRATOR" patch -J "$img" >"$kind-p.json" 2>"$kind-p.err"
	check "$kind: patch copies, verify passes uefi.fallback again" \
		bash -c 'test $0 = 0 && jq -e "any(.steps[]; .step == \"uefi-fallback\" and .verified and .error == null)" "$1" >/dev/null' $? "$kind-p.json" ||
		{ jq -r '.steps[] | .output, ."verify-reason", .error' "$kind-p.json" | sed 's/^/# /'; sed 's/^/# /' "$kind-p.err"; }
	# (a mount of the image holds a loop device on it; other trees' tests may mount their own)
	check "$kind: no fusefat or loop device (so no mount) left behind" \
		bash -c '! pgrep -x fusefat >/dev/null && test "$(losetup -j "$PWD/$0" | grep -c .)" = 0' "$img"
	get "$img" EFI/BOOT/BOOTX64.EFI boot.efi; get "$img" "EFI/debian/$from" from.efi
	check "$kind: EFI/BOOT/BOOTX64.EFI is the vendor's $from" cmp -s boot.efi from.efi
	dd if="$img" of=esp.fat bs=512 skip="$(sector_of "$img" 1)" count="$(part_field "$img" 1 size)" status=none
	check "$kind: the ESP is a clean FAT (fsck.vfat -n)" bash -c "fsck.vfat -n esp.fat >/dev/null"
	"$MIGRATOR" verify -J "$img" >"$kind-v1.json" 2>/dev/null
	check "$kind: verify: uefi.fallback passes, no uefi.* fails" \
		jqe 'any(.checks[]; .check == "uefi.fallback" and .result == "pass") and
		     all(.checks[] | select(.check | startswith("uefi.")); .result != "fail")' "$kind-v1.json"
	local s1; s1=$(sha256sum <"$img")
	"$MIGRATOR" patch -J "$img" >"$kind-p2.json" 2>/dev/null
	check "$kind: a second patch has nothing to do" \
		bash -c 'jq -e "[.steps[] | select(.step == \"uefi-fallback\")] == []" "$0" >/dev/null && test "$1" = "$(sha256sum <"$2")"' \
		"$kind-p2.json" "$s1" "$img"
}

if [ -n "$HAVE_SHIM" ]; then
	run_case shim
	for f in grubx64.efi mmx64.efi fbx64.efi grub.cfg; do
		get shim.img "EFI/BOOT/$f" sib.out; get shim.img "EFI/debian/$f" sib.ref
		check "shim: EFI/BOOT/$f copied from EFI/debian" cmp -s sib.out sib.ref
	done
	check "shim: EFI/debian/BOOTX64.CSV written for fallback (UCS-2)" \
		bash -c 'mcopy -n -i "$0" ::EFI/debian/BOOTX64.CSV csv.out && iconv -f UTF-16 -t UTF-8 csv.out | grep -q "^shimx64.efi,debian,,"' "$(esp shim.img)"
	check "shim: verify passes uefi.shim (siblings and CSV)" \
		jqe 'any(.checks[]; .check == "uefi.shim" and .result == "pass")' shim-v1.json
else
	ok "shim case # SKIP shim-signed or grub-efi-amd64-signed not installed"
fi
run_case plain
done_testing
