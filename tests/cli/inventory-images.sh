#!/bin/bash
# migrator inventory on disk images of every layout we expect in the field:
# each field must equal what blkid -p and sfdisk --json report, the output must
# parse as JSON, and the image must be byte-identical afterwards.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

gpt_script() { printf 'label: gpt\n'; printf '%s\n' "$@"; }
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
BIOSBOOT=21686148-6449-6E6F-744E-656564454649
SWAP=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F

# -- MBR: ext4 (boot flag), swap, extended with a logical vfat
truncate -s 64M mbr.img
printf 'label: dos\nlabel-id: 0x1234abcd\nsize=20M, type=83, bootable\nsize=8M, type=82\ntype=5\nsize=16M, type=c\n' | sfdisk -q mbr.img
mkfs_file fs.ext4 20M ext4 -L mbr-root && put_fs mbr.img 1 fs.ext4
mkfs_file fs.swap 8M swap -L mbr-swap && put_fs mbr.img 2 fs.swap
mkfs_file fs.vfat 16M vfat -n LOGICAL && put_fs mbr.img 5 fs.vfat

# -- GPT with every filesystem kind
truncate -s 128M gpt.img
gpt_script "size=20M, type=$LINUX, name=ext4" "size=20M, type=$LINUX, name=btrfs" \
	"size=8M, type=$SWAP, name=swap" "size=16M, type=$LINUX, name=\"data vfat\"" \
	"size=16M, type=$LINUX, name=luks" "size=16M, type=$LINUX, name=lvm" \
	"size=16M, type=$LINUX, name=md" | sfdisk -q gpt.img
mkfs_file fs.ext4 20M ext4 -L root && put_fs gpt.img 1 fs.ext4
mkfs_file fs.btrfs 20M btrfs -L btr && put_fs gpt.img 2 fs.btrfs
mkfs_file fs.swap 8M swap && put_fs gpt.img 3 fs.swap
mkfs_file fs.vfat 16M vfat -n DATA && put_fs gpt.img 4 fs.vfat
mkfs_file fs.luks 16M luks && put_fs gpt.img 5 fs.luks
mkfs_file fs.lvm 16M lvm && put_fs gpt.img 6 fs.lvm
mkfs_file fs.md 16M md 5a1d0e3e-4c39-4b2d-9a53-0e6f1b2c3d4e 0f0e0d0c-0b0a-0908-0706-050403020100 'host:md0' &&
	put_fs gpt.img 7 fs.md

# -- XFS needs 300 MiB (mkfs.xfs minimum); sparse
truncate -s 320M xfs.img
gpt_script "type=$LINUX, name=xfs" | sfdisk -q xfs.img
mkfs_file fs.xfs 300M xfs -L xfsroot && put_fs xfs.img 1 fs.xfs

# -- GPT with BIOS boot partition + ESP + root (what a dual-firmware install looks like)
truncate -s 64M biosesp.img
gpt_script "size=1M, type=$BIOSBOOT" "size=16M, type=$ESP, name=\"EFI system partition\"" \
	"type=$LINUX, name=root" | sfdisk -q biosesp.img
mkfs_file fs.vfat 16M vfat -n ESP && put_fs biosesp.img 2 fs.vfat
mkfs_file fs.ext4 40M ext4 && put_fs biosesp.img 3 fs.ext4

# -- hybrid MBR (sgdisk -h): GPT plus MBR entries for partition 3
cp biosesp.img hybrid.img
sgdisk -h 3:EE hybrid.img >/dev/null  # (with -q, sgdisk 1.0.9 writes nothing)

# -- an empty disk, and a filesystem straight on a disk
truncate -s 16M empty.img
mkfs_file whole.img 16M ext4 -L wholedisk
mkfs_file wholefat.img 16M vfat -n WHOLEFAT    # its boot sector ends in 55AA too

for img in mbr gpt xfs biosesp hybrid empty whole wholefat; do
	before=$(sha256sum <"$img.img")
	check "$img: fields equal blkid -p and sfdisk --json" compare_with_reference "$img.img"
	"$MIGRATOR" inventory "$img.img" >human.txt 2>&1
	check "$img: human output, exit 0" test $? -eq 0
	check "$img: image unchanged (sha256)" test "$before" = "$(sha256sum <"$img.img")"
done

# Specific facts a reader relies on
inventory_json mbr.img
check "mbr: boot flag on partition 1" test "$(jq '.blockdevices[0].children[0].bootable' out.json)" = true
check "mbr: extended partition is a container" \
	test "$(jq '.blockdevices[0].children[2].container' out.json)" = true
check "mbr: logical partition is number 5" test "$(jq '.blockdevices[0].children[3].partn' out.json)" = 5
inventory_json gpt.img
check "gpt: LUKS shown as crypto_LUKS" test "$(jq -r '.blockdevices[0].children[4].fstype' out.json)" = crypto_LUKS
check "gpt: LVM PV shown as LVM2_member" test "$(jq -r '.blockdevices[0].children[5].fstype' out.json)" = LVM2_member
check "gpt: MD member with its array UUID and member UUID_SUB" \
	test "$(jq -r '.blockdevices[0].children[6] | "\(.fstype) \(.uuid) \(.["uuid-sub"])"' out.json)" = \
	"linux_raid_member 5a1d0e3e-4c39-4b2d-9a53-0e6f1b2c3d4e 0f0e0d0c-0b0a-0908-0706-050403020100"
check "gpt: swap shown as swap" test "$(jq -r '.blockdevices[0].children[2].fstype' out.json)" = swap
inventory_json biosesp.img
check "biosesp: BIOS boot partition 1, ESP 2" \
	test "$(jq -c '.blockdevices[0].boot | [.["bios-boot-partn"], .["esp-partn"]]' out.json)" = "[1,2]"
check "biosesp: no readiness warnings" test "$(jq '.blockdevices[0].warnings | length' out.json)" = 0
inventory_json hybrid.img
check "hybrid: hybrid MBR reported" test "$(jq '.blockdevices[0].boot["hybrid-mbr"]' out.json)" = true
inventory_json empty.img
check "empty: no table, no signature, no children" \
	test "$(jq -c '.blockdevices[0] | [.pttype, .fstype, (.children|length)]' out.json)" = '[null,null,0]'
# several images at once, in order
inventory_json mbr.img gpt.img empty.img
check "three images in one run, in order" \
	test "$(jq -c '[.blockdevices[].name]' out.json)" = '["mbr.img","gpt.img","empty.img"]'
done_testing
