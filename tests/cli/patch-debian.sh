#!/bin/bash
# migrator patch on a real Debian 12 root (the minimal root tarball the
# end-to-end tests cache: ${XDG_CACHE_HOME:-$HOME/.cache}/migrator/debian-rootfs-*.tar*),
# on a BIOS/MBR image with the host's grub-install. fstab and grub.cfg name
# /dev/sda1 and /dev/sda2, and the initrd is replaced by one without virtio
# drivers. On the image file, `patch --dry-run --target-bus=virtio` plans
# the virtio modules, update-initramfs and update-grub. On the image
# attached as a block device (a loop device, as a target disk would be),
# `patch --target-bus=virtio` rewrites the names, adds the modules, runs the
# system's own update-initramfs and update-grub in a chroot whose private
# /dev has the disk's partitions with udev's by-uuid links (no udev here),
# so the regenerated grub.cfg says root=UUID= of the root filesystem; it
# leaves no mount, loop device or partition device behind, and then
# `verify --target-bus=virtio` passes. Then the BIOS boot code: with the
# first 440 bytes of sector 0 zeroed (and then the core.img in the MBR gap),
# verify fails, `patch --dry-run` plans the system's own grub-install
# --target=i386-pc and changes nothing, `patch` runs it in the chroot and
# verifies again, and verify passes; the same on GPT with a BIOS boot
# partition; --reinstall-bootloader plans it on a healthy disk.
# Skipped when the tarball is not cached (the end-to-end tests build it).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/migrator
TARBALL=$(ls -t "$CACHE"/debian-rootfs-*.tar* 2>/dev/null | grep -v '\.tmp' | head -1)
[ -n "$TARBALL" ] && command -v grub-install >/dev/null && [ -d /usr/lib/grub/i386-pc ] ||
	{ echo "ok 1 # SKIP no cached Debian root tarball (debian-rootfs-*.tar*) or no grub-install"; echo 1..1; exit 0; }
exec 3<"$TARBALL"   # the cache may be rebuilt meanwhile: read the file we chose

MNT=$SCRATCH/mnt
LOOPS=()
mkdir -p "$MNT"
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "${PATCH_KEEP:-}" ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT
loop() { local l; l=$(losetup -f --show "$@") || return 1; LOOPS+=("$l"); echo "$l"; }
part_off() { echo $(( $(sector_of "$1" "$2") * 512 )); }
part_size() { echo $(( $(part_field "$1" "$2" size) * 512 )); }
mount_root() { RLOOP=$(loop -o "$(part_off img 1)" --sizelimit "$(part_size img 1)" img) && mount "$RLOOP" "$MNT"; }
umount_root() { umount "$MNT" && losetup -d "$RLOOP"; }

build() {
	truncate -s 2G img
	printf 'label: dos\nsize=1792M, type=83, bootable\ntype=82\n' | sfdisk -q img || return 1
	local l; l=$(loop -o "$(part_off img 2)" --sizelimit "$(part_size img 2)" img) && mkswap -q "$l" && losetup -d "$l" || return 1
	l=$(loop -o "$(part_off img 1)" --sizelimit "$(part_size img 1)" img) && mkfs.ext4 -q -L root "$l" && losetup -d "$l" || return 1
	mount_root || return 1
	zstd -dc <&3 | tar -x --numeric-owner -C "$MNT" || { umount_root; return 1; }
	KVER=$(basename "$(ls "$MNT"/boot/vmlinuz-* | head -1)"); KVER=${KVER#vmlinuz-}
	# an initrd without any storage driver, as on a physical source machine
	local t; t=$(mktemp -d) && echo '#!/bin/sh' >"$t/init" &&
		(cd "$t" && find . | cpio -o -H newc --quiet | gzip -c) >"$MNT/boot/initrd.img-$KVER" && rm -rf "$t"
	printf '/dev/sda1 / ext4 errors=remount-ro 0 1\n/dev/sda2 none swap sw 0 0\n' >"$MNT/etc/fstab"
	mkdir -p "$MNT/boot/grub"
	printf 'menuentry Debian {\n\tlinux /boot/vmlinuz-%s root=/dev/sda1 ro quiet\n\tinitrd /boot/initrd.img-%s\n}\n' \
		"$KVER" "$KVER" >"$MNT/boot/grub/grub.cfg"
	local disk; disk=$(loop img) || return 1
	grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="part_msdos ext2" "$disk" \
		>grub-install.log 2>&1 || { cat grub-install.log; umount_root; return 1; }
	losetup -d "$disk"
	umount_root
}
jqe() { jq -e "$@" >/dev/null; }
loops_on_img() { losetup -j "$SCRATCH/img" | grep -c . ; }

check "build: Debian root from $(basename "$TARBALL") on BIOS/MBR" build
ROOTUUID=$(blkid -p -o value -s UUID -O "$(part_off img 1)" img)

S0=$(sha256sum <img)
"$MIGRATOR" patch --dry-run -J --target-bus=virtio img >dry.json 2>dry.err
check "dry-run: exit 0, image unchanged" bash -c 'test $0 = 0 && test "$1" = "$(sha256sum <img)"' $? "$S0"
check "dry-run on the image file: plans update-initramfs and update-grub" \
	jqe '[.steps[].command] == ["/usr/sbin/update-initramfs -u -k all", "/usr/sbin/update-grub"]' dry.json
check "dry-run: plans the virtio modules" \
	jqe 'any(.changes[]; .path == "/etc/initramfs-tools/modules" and (.diff | contains("+virtio_blk")))' dry.json

DISK=$(loop img)
"$MIGRATOR" patch -J --target-bus=virtio "$DISK" >p1.json 2>p1.err
RC=$?
losetup -d "$DISK"
check "patch: exit 0" test "$RC" = 0 || { jq -r '.steps[] | .command, .output' p1.json | tail -30 | sed 's/^/# /'; cat p1.err; }
check "patch: update-initramfs and update-grub ran with status 0" \
	jqe '[.steps[] | select(.ran and .status == 0) | .command] == ["/usr/sbin/update-initramfs -u -k all", "/usr/sbin/update-grub"]' p1.json
check "patch: update-grub's grub.cfg kept (not reverted)" \
	jqe 'any(.steps[]; .step == "grub.cfg" and (.reverted | not) and .error == null)' p1.json
check "patch: no mount or loop device left on the disk" bash -c '! grep -q "^$0p" /proc/self/mounts && test -z "$(losetup -j "$0")"' "$DISK"
check "patch: no loop device left on the image" test "$(loops_on_img)" = 0
check "patch: no partition device left on the loop device" bash -c "! ls /sys/block/${DISK#/dev/}/ | grep -q p1"
after_ok() {
	grep -qx "UUID=$ROOTUUID / ext4 errors=remount-ro 0 1" "$MNT/etc/fstab" &&
	grep -q '### BEGIN /etc/grub.d/10_linux ###' "$MNT/boot/grub/grub.cfg" &&
	grep -Pq "^\s*linux\s+/boot/vmlinuz-$KVER root=UUID=$ROOTUUID ro" "$MNT/boot/grub/grub.cfg" &&
	! grep -q 'root=/dev/' "$MNT/boot/grub/grub.cfg" &&
	grep -qx virtio_blk "$MNT/etc/initramfs-tools/modules" &&
	test -e "$MNT/etc/initramfs-tools/modules.migrator-orig" &&
	test "$(stat -c %s "$MNT/boot/initrd.img-$KVER")" -gt 1000000
}
mount_root && { check "patch: fstab by UUID, grub.cfg regenerated with root=UUID=, modules added, initrd rebuilt" after_ok; umount_root; }

"$MIGRATOR" verify --json --target-bus=virtio img >v.json 2>v.err
check "verify --target-bus=virtio: exit 0, no failure" bash -c 'test $0 = 0 && jq -e ".summary.fail == 0" v.json >/dev/null' $? ||
	jq -r '.checks[] | select(.result != "pass") | "# \(.check) \(.subject): \(.reason)"' v.json
check "verify: initrd carries virtio drivers" jqe 'any(.checks[]; .check == "initrd.drivers" and .result == "pass")' v.json

S1=$(sha256sum <img)
"$MIGRATOR" patch -J --target-bus=virtio img >p2.json 2>p2.err
check "second patch: nothing to change, nothing to run" bash -c 'test $0 = 0 && jq -e ".summary.changes == 0 and .summary.steps == 0" p2.json >/dev/null' $?
check "second patch: image unchanged (sha256)" test "$S1" = "$(sha256sum <img)"

# BIOS boot code: the first 440 bytes of sector 0 zeroed (GRUB's boot.img gone)
bios_ok() { jq -e '[.checks[] | select(.check | startswith("bios.")) | .result] as $r |
	($r | length) >= 4 and all($r[]; . == "pass")' "$1" >/dev/null; }
dd if=/dev/zero of=img bs=440 count=1 conv=notrunc status=none
"$MIGRATOR" verify -J img >vz.json 2>/dev/null
check "zeroed boot.img: verify fails bios.boot-img" \
	jqe 'any(.checks[]; .check == "bios.boot-img" and .result == "fail")' vz.json
S2=$(sha256sum <img)
"$MIGRATOR" patch --dry-run -J img >bd.json 2>bd.err
check "boot-code dry-run: plans grub-install --target=i386-pc on the disk, image unchanged" \
	bash -c 'test $0 = 0 && test "$1" = "$(sha256sum <img)" && jq -e "[.steps[] | select(.step == \"boot-code\") |
	.command] == [\"/usr/sbin/grub-install --target=i386-pc img\"]" bd.json >/dev/null' $? "$S2"
"$MIGRATOR" patch -J img >bp.json 2>bp.err
check "boot-code: grub-install ran in the chroot, verify passes the BIOS chain again" \
	bash -c 'test $0 = 0 && jq -e "any(.steps[]; .step == \"boot-code\" and .status == 0 and .verified and .error == null
	and (.command | test(\"^/usr/sbin/grub-install --target=i386-pc /dev/loop[0-9]+$\")))" bp.json >/dev/null' $? ||
	jq -r '.steps[] | .command, .output, ."verify-reason"' bp.json | sed 's/^/# /'
check "boot-code: no loop device (so no mount) left behind" \
	bash -c 'test "$(losetup -j "$PWD/img" | grep -c .)" = 0'
"$MIGRATOR" verify -J img >vb.json 2>/dev/null
check "boot-code: verify passes every bios.* check" bios_ok vb.json

# core.img gone: the gap after sector 0 zeroed
dd if=/dev/zero of=img bs=512 seek=1 count=2047 conv=notrunc status=none
"$MIGRATOR" verify -J img >vc.json 2>/dev/null
check "zeroed core.img: verify fails bios.core-img" \
	jqe 'any(.checks[]; .check == "bios.core-img" and .result == "fail")' vc.json
"$MIGRATOR" patch -J img >cp.json 2>cp.err
"$MIGRATOR" verify -J img >vd.json 2>/dev/null
check "core.img: patch reinstalls it, verify passes every bios.* check" \
	bash -c 'jq -e "any(.steps[]; .step == \"boot-code\" and .verified)" cp.json >/dev/null' && bios_ok vd.json

S3=$(sha256sum <img)
"$MIGRATOR" patch --dry-run -J img >hd.json 2>/dev/null
check "healthy BIOS chain: no boot-code step" jqe '[.steps[] | select(.step == "boot-code")] == []' hd.json
"$MIGRATOR" patch --dry-run --reinstall-bootloader -J img >rd.json 2>/dev/null
check "--reinstall-bootloader: plans grub-install anyway; dry runs change nothing" \
	bash -c 'jq -e ".\"reinstall-bootloader\" and any(.steps[]; .step == \"boot-code\" and .reason == \"--reinstall-bootloader\")" rd.json >/dev/null &&
	test "$0" = "$(sha256sum <img)"' "$S3"

# The same on GPT with a BIOS boot partition: the patched root filesystem
# copied into partition 2, GRUB installed by the host, boot.img zeroed
build_gpt() {
	truncate -s 2G gpt.img
	printf 'label: gpt\nsize=1M, type=21686148-6449-6E6F-744E-656564454649, name=bios\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n' |
		sfdisk -q gpt.img || return 1
	dd if=img of=gpt.img bs=1M skip=$(( $(part_off img 1) >> 20 )) seek=$(( $(part_off gpt.img 2) >> 20 )) \
		count=$(( $(part_size img 1) >> 20 )) conv=notrunc,sparse status=none || return 1
	local r; r=$(loop -o "$(part_off gpt.img 2)" --sizelimit "$(part_size gpt.img 2)" gpt.img) && mount "$r" "$MNT" || return 1
	local disk; disk=$(loop gpt.img) || { umount "$MNT"; return 1; }
	grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="part_gpt ext2" "$disk" \
		>grub-install-gpt.log 2>&1 || { cat grub-install-gpt.log; umount "$MNT"; return 1; }
	losetup -d "$disk"; umount "$MNT"; losetup -d "$r"
}
check "GPT: build BIOS/GPT image with a BIOS boot partition" build_gpt
"$MIGRATOR" verify -J gpt.img >vg0.json 2>/dev/null
check "GPT: verify passes every bios.* check" bios_ok vg0.json
dd if=/dev/zero of=gpt.img bs=440 count=1 conv=notrunc status=none
S4=$(sha256sum <gpt.img)
"$MIGRATOR" patch --dry-run -J gpt.img >gd.json 2>/dev/null
check "GPT: zeroed boot.img: dry-run plans grub-install, image unchanged" \
	bash -c 'test "$0" = "$(sha256sum <gpt.img)" && jq -e "any(.steps[]; .step == \"boot-code\")" gd.json >/dev/null' "$S4"
"$MIGRATOR" patch -J gpt.img >gp.json 2>gp.err
"$MIGRATOR" verify -J gpt.img >vg1.json 2>/dev/null
check "GPT: patch reinstalls it in the BIOS boot partition, verify passes every bios.* check" \
	bash -c 'jq -e "any(.steps[]; .step == \"boot-code\" and .verified)" gp.json >/dev/null' && bios_ok vg1.json &&
	jqe 'any(.checks[]; .check == "bios.core-location" and (.reason | contains("BIOS boot partition")))' vg1.json ||
	jq -r '.steps[] | .output, ."verify-reason"' gp.json | sed 's/^/# /'
done_testing
