#!/bin/bash
# migrator patch on a BIOS/MBR disk image made with the real grub-install:
# a Debian-like root whose fstab, /etc/default/grub and grub.cfg name
# /dev/sda1 and /dev/sda2, plus device.map, MAC-pinned udev rules, a netplan
# MAC match and a cdrom: apt source. verify warns about the device names;
# patch --dry-run prints diffs and leaves the image byte-identical; patch
# rewrites to UUID=, keeps .migrator-orig backups, and verify then passes
# with no warning; a second patch is a no-op (image unchanged). Also: an
# immutable fstab (cleared for the write, restored), a symlink that points
# out of the image (not followed), no installed system (exit 1), usage (2).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
command -v grub-install >/dev/null && [ -d /usr/lib/grub/i386-pc ] ||
	{ echo "ok 1 # SKIP grub-install / grub-pc-bin not installed"; echo 1..1; exit 0; }

KVER=6.1.0-test
LOOPS=()
MNT=$SCRATCH/mnt
mkdir -p "$MNT"
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "${PATCH_KEEP:-}" ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT

loop() {
	local l
	if [ $# -gt 1 ]; then l=$(losetup -f --show -o "$2" --sizelimit "$3" "$1") || return 1
	else l=$(losetup -f --show "$1") || return 1; fi
	LOOPS+=("$l"); echo "$l"
}
part_off() { echo $(( $(sector_of "$1" "$2") * 512 )); }
part_size() { echo $(( $(part_field "$1" "$2" size) * 512 )); }
mount_part() {
	MLOOP=$(loop "$1" "$(part_off "$1" "$2")" "$(part_size "$1" "$2")") &&
		mount "$MLOOP" "$MNT" && mountpoint -q "$MNT"
}
umount_part() { umount "$MNT" && losetup -d "$MLOOP"; }

initrd() {
	local out=$1; shift
	local t; t=$(mktemp -d "$SCRATCH/initrd.XXXXXX")
	mkdir -p "$t/usr/lib/modules/$KVER/kernel/drivers/block"
	echo '#!/bin/sh' >"$t/init"
	for m in "$@"; do echo "module $m" >"$t/usr/lib/modules/$KVER/kernel/drivers/block/$m.ko"; done
	(cd "$t" && find . | sort | cpio -o -H newc --quiet | zstd -q -c) >"$out"
	rm -rf "$t"
}

# populate: a Debian 12 root as the installer leaves it on /dev/sda
populate() {
	mkdir -p "$MNT/etc/default" "$MNT/boot/grub" "$MNT/etc/udev/rules.d" "$MNT/etc/apt" "$MNT/etc/netplan"
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$MNT/etc/os-release"
	printf '# /etc/fstab\n/dev/sda1\t/\text4\terrors=remount-ro 0 1\n/dev/sda2 none swap sw 0 0\nproc /proc proc defaults 0 0\n' >"$MNT/etc/fstab"
	printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet resume=/dev/sda2"\nGRUB_CMDLINE_LINUX="root=/dev/sda1"\n' >"$MNT/etc/default/grub"
	printf "set root='hd0,msdos1'\nmenuentry test {\n\tlinux /boot/vmlinuz-%s root=/dev/sda1 ro quiet\n\tinitrd /boot/initrd.img-%s\n}\n" \
		"$KVER" "$KVER" >"$MNT/boot/grub/grub.cfg"
	printf '(hd0)\t/dev/sda\n' >"$MNT/boot/grub/device.map"
	printf 'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n' \
		>"$MNT/etc/udev/rules.d/70-persistent-net.rules"
	printf 'deb cdrom:[Debian GNU/Linux 12]/ bookworm main\ndeb http://deb.debian.org/debian bookworm main\n' >"$MNT/etc/apt/sources.list"
	printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      match:\n        macaddress: 52:54:00:12:34:56\n      set-name: eth0\n      dhcp4: true\n' \
		>"$MNT/etc/netplan/50-cloud-init.yaml"
	echo "not a kernel" >"$MNT/boot/vmlinuz-$KVER"
	printf 'CONFIG_VIRTIO_PCI=y\n' >"$MNT/boot/config-$KVER"
	initrd "$MNT/boot/initrd.img-$KVER" virtio_blk nvme xen-blkfront hv_storvsc
}

# bios_image IMG: MBR, root ext4 (bootable) + swap, GRUB with real grub-install
bios_image() {
	local img=$1
	truncate -s 64M "$img"
	printf 'label: dos\nsize=48M, type=83, bootable\ntype=82\n' | sfdisk -q "$img"
	mkfs_file fs.ext4 "$(part_size "$img" 1)" ext4 -L root && put_fs "$img" 1 fs.ext4 || return 1
	mkfs_file fs.swap "$(part_size "$img" 2)" swap && put_fs "$img" 2 fs.swap || return 1
	mount_part "$img" 1 || return 1
	populate
	local disk; disk=$(loop "$img") || return 1
	grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="part_msdos ext2" \
		"$disk" >grub-install.log 2>&1 || { cat grub-install.log; umount_part; return 1; }
	losetup -d "$disk"
	umount_part
}

sum() { sha256sum <"$1"; }
jqe() { jq -e "$@" >/dev/null; }
# in_image IMG CMD...: runs CMD with the root filesystem mounted on $MNT
in_image() { local img=$1; shift; mount_part "$img" 1 || return 1; "$@"; local rc=$?; umount_part; return $rc; }

check "build BIOS/MBR image (grub-install i386-pc)" bios_image mbr.img
ROOTUUID=$(blkid_val fs.ext4 UUID)
SWAPUUID=$(blkid_val fs.swap UUID)

# --- before: verify warns about the device names
"$MIGRATOR" verify --json mbr.img >before.json 2>before.err
check "before: verify warns about /dev/sda1 in fstab" \
	jqe 'any(.checks[]; .check == "ref" and .result == "warn" and (.reason | contains("/dev/sda1")))' before.json

# --- dry run: diffs, nothing written
S0=$(sum mbr.img)
"$MIGRATOR" patch --dry-run mbr.img >dry.txt 2>dry.err
check "dry-run: exit 0" test $? = 0
check "dry-run: image unchanged (sha256)" test "$S0" = "$(sum mbr.img)"
check "dry-run: unified diff of fstab" grep -q "^--- mbr.img1:/etc/fstab" dry.txt
check "dry-run: fstab line -/+" grep -qx "+UUID=$ROOTUUID	/	ext4	errors=remount-ro 0 1" dry.txt
check "dry-run: swap by UUID" grep -qx "+UUID=$SWAPUUID none swap sw 0 0" dry.txt
check "dry-run: grub.cfg root=UUID=" grep -q "^+	linux /boot/vmlinuz-$KVER root=UUID=$ROOTUUID ro quiet" dry.txt
check "dry-run: device.map removal diff" grep -q '^+++ /dev/null' dry.txt
check "dry-run: summary line" grep -q '^[1-9][0-9]* changes planned, [0-9]* programs to run, nothing written$' dry.txt
# the printed diff applies with patch(1) to a copy of the original fstab
in_image mbr.img cp "$MNT/etc/fstab" fstab.orig
awk '/^would /{p=0} /^would rewrite mbr.img1:\/etc\/fstab:/{p=1; next} p' dry.txt >fstab.diff
check "dry-run: the fstab diff applies with patch(1)" patch -s fstab.orig fstab.diff
check "dry-run: patched copy has UUID=" grep -q "^UUID=$ROOTUUID" fstab.orig
S0=$(sum mbr.img)   # in_image mounted it read-write
"$MIGRATOR" patch --dry-run -J mbr.img >dry.json 2>/dev/null
check "dry-run -J: JSON with a diff per change" \
	jqe '.["dry-run"] == true and (.changes | length) >= 6 and all(.changes[]; .diff | startswith("--- "))' dry.json
check "dry-run -J: image unchanged (sha256)" test "$S0" = "$(sum mbr.img)"

# --- patch
"$MIGRATOR" patch -J mbr.img >p1.json 2>p1.err
check "patch: exit 0" test $? = 0
check "patch: system found" jqe '.system.device == "mbr.img1" and .system.name == "Debian GNU/Linux 12 (bookworm)"' p1.json
check "patch: every change applied" jqe '.summary.failed == 0 and .summary.applied == .summary.changes and .summary.changes >= 6' p1.json
check "patch: JSON lists fstab, default/grub, grub.cfg, device.map, udev rules, netplan, sources.list" \
	jqe '[.changes[].path] as $p | ["/etc/fstab", "/etc/default/grub", "/boot/grub/grub.cfg", "/boot/grub/device.map",
	"/etc/udev/rules.d/70-persistent-net.rules", "/etc/netplan/50-cloud-init.yaml", "/etc/apt/sources.list"] | all(. as $x | $p | index($x))' p1.json
check "patch: skipped steps are reported" jqe 'any(.skipped[]; .step == "initrd" or .step == "grub.cfg")' p1.json
check_files() {
	grep -qx "UUID=$ROOTUUID	/	ext4	errors=remount-ro 0 1" "$MNT/etc/fstab" &&
	grep -qx "UUID=$SWAPUUID none swap sw 0 0" "$MNT/etc/fstab" &&
	grep -qx "/dev/sda1	/	ext4	errors=remount-ro 0 1" "$MNT/etc/fstab.migrator-orig" &&
	grep -qx "GRUB_CMDLINE_LINUX=\"root=UUID=$ROOTUUID\"" "$MNT/etc/default/grub" &&
	grep -q "resume=UUID=$SWAPUUID" "$MNT/etc/default/grub" &&
	grep -q "root=UUID=$ROOTUUID ro quiet" "$MNT/boot/grub/grub.cfg" &&
	test -e "$MNT/boot/grub/grub.cfg.migrator-orig" &&
	test ! -e "$MNT/boot/grub/device.map" && test -e "$MNT/boot/grub/device.map.migrator-orig" &&
	test ! -e "$MNT/etc/udev/rules.d/70-persistent-net.rules" &&
	grep -q '^# deb cdrom:' "$MNT/etc/apt/sources.list" &&
	grep -q '^      # set-name: eth0' "$MNT/etc/netplan/50-cloud-init.yaml" &&
	test "$(stat -c %a "$MNT/etc/fstab")" = "$(stat -c %a "$MNT/etc/fstab.migrator-orig")" &&
	! ls "$MNT"/etc/*.tmp* >/dev/null 2>&1
}
check "patch: files rewritten, backups beside them, removals kept as backups" in_image mbr.img check_files

"$MIGRATOR" verify --json mbr.img >after.json 2>after.err
check "after: verify exit 0" test $? = 0
check "after: verify 0 failures, 0 warnings" test "$(jq '.summary.fail' after.json)/$(jq '.summary.warn' after.json)" = 0/0
check "after: fstab and grub.cfg references pass by UUID" \
	jqe 'any(.checks[]; .check == "ref" and .result == "pass" and (.subject | contains("etc/fstab")) and (.reason | contains("UUID=")))' after.json
check "after: BIOS chain still passes" test "$(jq -r '[.checks[] | select(.check | startswith("bios.")) | .result] | unique | join(",")' after.json)" = pass

# --- idempotent
S1=$(sum mbr.img)
"$MIGRATOR" patch -J mbr.img >p2.json 2>p2.err
check "second patch: exit 0, no change" bash -c 'test $0 = 0 && jq -e ".summary.changes == 0" p2.json >/dev/null' $?
check "second patch: image unchanged (sha256)" test "$S1" = "$(sum mbr.img)"
"$MIGRATOR" patch mbr.img >p2.txt 2>&1
check "second patch text: 0 changes" grep -q '^0 changes applied, 0 failed$' p2.txt

# --- an immutable fstab, and a symlink out of the image
rm -f fs.ext4 fs.swap
check "build second image" bios_image imm.img
setup_traps() {
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], "security.selinux", b"system_u:object_r:etc_t:s0\0")' "$MNT/etc/fstab" &&
	chown 123:456 "$MNT/etc/apt/sources.list" &&
	chattr +i "$MNT/etc/fstab" &&
	printf 'crypt1 /dev/sda3 none luks\n' >"$SCRATCH/host-crypttab" &&
	ln -s "$SCRATCH/host-crypttab" "$MNT/etc/crypttab"
}
check "chattr +i etc/fstab, etc/crypttab -> a file outside the image" in_image imm.img setup_traps
"$MIGRATOR" patch -J imm.img >imm.json 2>imm.err
check "immutable: exit 0, reported" bash -c 'test $0 = 0 && jq -e "any(.changes[]; .path == \"/etc/fstab\" and .immutable and .applied)" imm.json >/dev/null' $?
imm_ok() { grep -q "^UUID=" "$MNT/etc/fstab" && lsattr -d "$MNT/etc/fstab" | grep -q '^[^ ]*i'; }
check "immutable: fstab rewritten and immutable again" in_image imm.img imm_ok
label_ok() {
	python3 -c 'import os, sys; sys.exit(os.getxattr(sys.argv[1], "security.selinux") != b"system_u:object_r:etc_t:s0\0")' "$MNT/etc/fstab" &&
	grep -q '^# deb cdrom' "$MNT/etc/apt/sources.list" && test "$(stat -c %u:%g "$MNT/etc/apt/sources.list")" = 123:456
}
check "rewritten files keep their SELinux label and owner" in_image imm.img label_ok
in_image imm.img chattr -i "$MNT/etc/fstab"
check "symlink out of the image: not followed, reported" jqe 'any(.skipped[]; .reason | contains("symlink"))' imm.json
check "symlink out of the image: target untouched" grep -qx 'crypt1 /dev/sda3 none luks' host-crypttab

# --- a dracut system (RHEL-like): BLS entry, ifcfg, an initrd without virtio;
# its "dracut" is a busybox script that installs an initrd with virtio, so
# the chroot step runs for real on a tiny static root
rhel_image() {
	local img=$1
	truncate -s 64M "$img"
	printf 'label: dos\ntype=83, bootable\n' | sfdisk -q "$img"
	mkfs_file fs.ext4 "$(part_size "$img" 1)" ext4 -L root && put_fs "$img" 1 fs.ext4 || return 1
	mount_part "$img" 1 || return 1
	mkdir -p "$MNT"/{bin,dev,proc,sys,run,tmp,usr/bin,usr/lib/fake,boot/loader/entries,etc/dracut.conf.d,etc/sysconfig/network-scripts}
	cp /bin/busybox "$MNT/bin/busybox"
	printf 'PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"\nID=rhel\n' >"$MNT/etc/os-release"
	printf '/dev/vda1 / ext4 defaults 0 1\n' >"$MNT/etc/fstab"
	printf 'title RHEL\nlinux /boot/vmlinuz-%s\ninitrd /boot/initramfs-%s.img\noptions root=/dev/vda1 ro\n' "$KVER" "$KVER" \
		>"$MNT/boot/loader/entries/test.conf"
	printf 'DEVICE=eth0\nHWADDR=52:54:00:12:34:56\nBOOTPROTO=dhcp\n' >"$MNT/etc/sysconfig/network-scripts/ifcfg-eth0"
	echo "not a kernel" >"$MNT/boot/vmlinuz-$KVER"
	initrd "$MNT/boot/initramfs-$KVER.img" nvme
	initrd "$MNT/usr/lib/fake/virtio.img" virtio_blk virtio_pci
	printf '#!/bin/busybox sh\necho "dracut $*"\n/bin/busybox cp /usr/lib/fake/virtio.img /boot/initramfs-%s.img\n' "$KVER" \
		>"$MNT/usr/bin/dracut"
	chmod +x "$MNT/usr/bin/dracut"
	umount_part
}
rm -f fs.ext4
check "build a dracut system image (busybox as its dracut)" rhel_image rhel.img
"$MIGRATOR" patch --dry-run -J --target-bus=virtio rhel.img >rd.json 2>rd.err
check "dracut dry-run: creates 90-migrator.conf (diff from /dev/null), plans dracut" \
	jqe 'any(.changes[]; .action == "create" and .path == "/etc/dracut.conf.d/90-migrator.conf" and
	(.diff | startswith("--- /dev/null")) and (.diff | contains("+add_drivers+=\" virtio_pci virtio_blk virtio_scsi \""))) and
	[.steps[].command] == ["/usr/bin/dracut -f --regenerate-all"]' rd.json
check "dracut dry-run: BLS options and ifcfg HWADDR planned" \
	jqe '[.changes[].path] | index("/boot/loader/entries/test.conf") and index("/etc/sysconfig/network-scripts/ifcfg-eth0")' rd.json
"$MIGRATOR" patch -J --target-bus=virtio rhel.img >rp.json 2>rp.err
check "dracut patch: exit 0, dracut ran in the chroot" \
	bash -c 'test $0 = 0 && jq -e "any(.steps[]; .ran and .status == 0 and (.output | contains(\"dracut -f --regenerate-all\")))" rp.json >/dev/null' $?
check "dracut patch: no mount left behind" not grep -q migrator-fs /proc/self/mounts
"$MIGRATOR" verify --json --target-bus=virtio rhel.img >rv.json 2>/dev/null
check "dracut patch: verify finds virtio in the new initrd, BLS root= passes" \
	jqe 'any(.checks[]; .check == "initrd.drivers" and .result == "pass") and
	any(.checks[]; .check == "ref" and .result == "pass" and (.subject | contains("loader/entries")))' rv.json
"$MIGRATOR" patch -J --target-bus=virtio rhel.img >rp2.json 2>/dev/null
check "dracut patch again: nothing to change or run" jqe '.summary.changes == 0 and .summary.steps == 0' rp2.json

# --- errors
truncate -s 16M empty.img
printf 'label: dos\ntype=83\n' | sfdisk -q empty.img
mkfs_file fs.e 15M ext4 && put_fs empty.img 1 fs.e
"$MIGRATOR" patch empty.img >none.txt 2>none.err
check "no installed system: exit 1 with a reason" bash -c 'test $0 = 1 && grep -q "no installed system" none.err' $?
"$MIGRATOR" patch --network=bogus mbr.img >/dev/null 2>usage.err
check "bad --network: exit 2" test $? = 2
"$MIGRATOR" patch >/dev/null 2>usage.err
check "no disk: exit 2" test $? = 2
"$MIGRATOR" patch --help >help.txt
check "--help: exit 0, usage on stdout" bash -c 'test $0 = 0 && grep -q "^Usage: migrator patch" help.txt' $?
done_testing
