#!/bin/bash
# Readiness findings visible at the partition level, each on an image made to
# have exactly that problem, and absent where the problem is absent.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
BOOTIMG=/usr/lib/grub/i386-pc/boot.img   # GRUB's real boot sector (grub-pc-bin)
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
BIOSBOOT=21686148-6449-6E6F-744E-656564454649

# grub_mbr IMG LBA: install GRUB's boot.img code (first 440 bytes) pointing at LBA
grub_mbr() {
	dd if="$BOOTIMG" of="$1" bs=440 count=1 conv=notrunc status=none
	printf "$(printf '%016x' "$2" | sed -E 's/(..)(..)(..)(..)(..)(..)(..)(..)/\\x\8\\x\7\\x\6\\x\5\\x\4\\x\3\\x\2\\x\1/')" |
		dd of="$1" bs=1 seek=$((0x5c)) conv=notrunc status=none
}
codes() { jq -r "[.blockdevices[$1].warnings[].code] | join(\",\")" out.json; }

truncate -s 32M nobb.img
printf 'label: gpt\ntype=%s\n' $LINUX | sfdisk -q nobb.img
grub_mbr nobb.img 34
inventory_json nobb.img
check "GRUB on GPT without BIOS boot partition: warned" test "$(codes 0)" = grub-gpt-no-bios-boot
check "GRUB boot.img recognised, core.img LBA read" \
	test "$(jq -c '.blockdevices[0].boot | [.["grub-boot-img"], .["grub-core-lba"]]' out.json)" = "[true,34]"

truncate -s 32M withbb.img
printf 'label: gpt\nsize=1M, type=%s\ntype=%s\n' $BIOSBOOT $LINUX | sfdisk -q withbb.img
grub_mbr withbb.img 2048
inventory_json withbb.img
check "GRUB on GPT with BIOS boot partition: no warning" test "$(codes 0)" = ""

truncate -s 32M noesp.img
printf 'label: gpt\ntype=%s\n' $LINUX | sfdisk -q noesp.img
inventory_json noesp.img
check "GPT without boot code or ESP: warned" test "$(codes 0)" = gpt-no-esp

truncate -s 32M mbrgrub.img
printf 'label: dos\ntype=83\n' | sfdisk -q mbrgrub.img
grub_mbr mbrgrub.img 1
inventory_json mbrgrub.img
check "GRUB on MBR: no warning" test "$(codes 0)" = ""

mkfs_file whole.img 16M ext4
inventory_json whole.img
check "filesystem on the whole disk: warned" test "$(codes 0)" = no-partition-table

# the same filesystem UUID on two disks (a cloned disk left attached)
truncate -s 32M a.img
printf 'label: gpt\ntype=%s\n' $LINUX | sfdisk -q a.img
mkfs_file fs.ext4 16M ext4 -U 11111111-2222-3333-4444-555555555555 && put_fs a.img 1 fs.ext4
cp a.img b.img
sfdisk -q --disk-id b.img 9F2D0C1A-0000-4000-8000-000000000001
sfdisk -q --part-uuid b.img 1 9F2D0C1A-0000-4000-8000-000000000002
inventory_json a.img b.img
check "duplicate filesystem UUID across disks: warned once, naming both" \
	test "$(jq -r '[.warnings[] | select(.code=="duplicate-uuid") | .message] | join("|")' out.json)" = \
	"UUID=11111111-2222-3333-4444-555555555555 is on 2 devices (a.img1, b.img1): references to it are ambiguous"
inventory_json a.img a.img
check "duplicate PARTUUID (the same disk twice) also warned" \
	test "$(jq '[.warnings[] | select(.code=="duplicate-uuid")] | length' out.json)" = 2

# two signatures in one place: ext4 with a stale FAT boot sector in front
mkfs_file amb.img 16M ext4
mkfs_file fat.img 16M vfat
dd if=fat.img of=amb.img bs=512 count=1 conv=notrunc status=none
blkid -p amb.img >/dev/null 2>&1; blkid_rc=$?
inventory_json amb.img
check "ambivalent probe (blkid -p exit $blkid_rc): warned with both types" \
	test "$(jq -r '.blockdevices[0] | "\(.fstype) \(.signatures|sort|join(",")) \([.warnings[].code]|join(","))"' out.json)" = \
	"null ext4,vfat ambivalent"

# our own media is marked as the rescue medium
truncate -s 32M rescue.img
printf 'label: gpt\ntype=%s, name=MIGRATOR\n' $LINUX | sfdisk -q rescue.img
inventory_json rescue.img nobb.img
check "rescue medium marked, other disks not" \
	test "$(jq -c '[.blockdevices[]["rescue-medium"]]' out.json)" = "[true,false]"
# a GPT-hybrid ISO seen through a CD drive's 2048-byte sectors: its GPT is
# laid out for 512-byte sectors, which is by design, not damage
mkdir isodir; echo data >isodir/file
mkfs_file esp.img 1M vfat
xorriso -as mkisofs -quiet -o hybrid.iso -V TESTISO -partition_offset 16 \
	-append_partition 2 0xef esp.img -appended_part_as_gpt isodir 2>/dev/null
cd_dev=$(losetup -f --show -r --sector-size 2048 hybrid.iso)
"$MIGRATOR" inventory --json "$cd_dev" >out.json 2>err.txt; rc=$?
losetup -d "$cd_dev"
check "hybrid ISO on 2048-byte sectors: exit 0, noted as gpt-512, no error" \
	test "$rc $(jq -r '[.blockdevices[0].warnings[] | select(.code=="gpt-512" or .severity=="error") | .code] | join(",")' out.json)" = "0 gpt-512"
done_testing
