#!/bin/bash
# migrator layout: the probe against blkid -p, dumpe2fs and xfs_db on images
# built here (GPT: BIOS boot, ESP, swap, ext4 root 30% full; MBR: ext4,
# xfs, a logical swap); the plan (grow, shrink to half, too small: refused
# with the numbers and nothing written); --apply onto an image file and a
# loop device: the same PTUUID, PARTUUIDs, types, names, UUIDs, labels and
# ext4 features, e2fsck clean; refusals (source, in use, not empty) leave
# the target unchanged.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
for t in sfdisk mke2fs dumpe2fs e2fsck mkswap mkfs.vfat jq blkid losetup python3; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP needs $t"; exit 0; }
done
M=$MIGRATOR
BIOSBOOT=21686148-6449-6E6F-744E-656564454649
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
SWAP=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
ROOT=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709
ROOT_UUID=6a1c0000-0000-4000-8000-0000000000a1
SWAP_UUID=11111111-2222-4333-8444-555555555555

# The GPT source: 3 GiB; root 2.8 GiB, 30% used: small files and one big
# file whose blocks are allocated by debugfs' fallocate (fast, no data).
truncate -s 3G src.img
printf 'label: gpt\nsize=1M, type=%s\nsize=64M, type=%s, name="EFI System"\nsize=128M, type=%s, name=swap\ntype=%s, name=root, attrs="LegacyBIOSBootable"\n' \
	$BIOSBOOT $ESP $SWAP $ROOT | sfdisk -q src.img
mkfs_file esp.fs 64M vfat -i 1234ABCD -n ESP && put_fs src.img 2 esp.fs
mkfs_file sw.fs 128M swap -L swap0 -U $SWAP_UUID && put_fs src.img 3 sw.fs
mkdir -p tree/sub
for i in $(seq 1 300); do head -c $((i * 150)) /dev/urandom >tree/sub/f$i; done
root_sectors=$(part_field src.img 4 size)
# part_loop IMG N [losetup options]: a loop device over partition N (no copy)
part_loop() {
	local img=$1 n=$2; shift 2
	losetup -f --show "$@" -o $(( $(part_field "$img" "$n" start) * 512 )) \
		--sizelimit $(( $(part_field "$img" "$n" size) * 512 )) "$img"
}
root_loop=$(part_loop src.img 4) || { echo "1..0 # SKIP no loop devices"; exit 0; }
mke2fs -q -F -t ext4 -L rootfs -U $ROOT_UUID -d tree "$root_loop"
printf 'write /dev/null big\nfallocate /big 0 190000\n' | debugfs -w -f - "$root_loop" >/dev/null 2>&1
dumpe2fs -h "$root_loop" 2>/dev/null >root.dumpe2fs
losetup -d "$root_loop"
rm -rf tree esp.fs sw.fs
# fp FILE: a fingerprint of a sparse file: its data extents and their bytes
# (holes read as zeros; hashing only the data keeps this fast)
fp() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
h = hashlib.sha256(); fd = os.open(sys.argv[1], os.O_RDONLY); end = os.fstat(fd).st_size; off = 0
while off < end:
    try:
        off = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    hole = os.lseek(fd, off, os.SEEK_HOLE)
    os.lseek(fd, off, os.SEEK_SET); n = hole - off
    while n:
        b = os.read(fd, min(n, 1 << 22))
        if b.count(0) != len(b):
            h.update(off.to_bytes(8, "little")); h.update(b)
        off += len(b); n -= len(b)
print(end, h.hexdigest())
PY
}
src_sha=$(fp src.img)

# --- the probe ---
"$M" layout -J src.img >l.json
check "layout -J: exit 0, JSON" jq -e . l.json >/dev/null
eqf() { # what expected actual
	if [ "${2,,}" = "${3,,}" ]; then return 0; fi
	diag "$1: expected '$2', got '$3'"; return 1
}
probe_ok() {
	local bad=0 i p start size off
	eqf ptuuid "$(blkid_val src.img PTUUID)" "$(jq -r .ptuuid l.json)" || bad=1
	eqf pttype gpt "$(jq -r .pttype l.json)" || bad=1
	for i in 1 2 3 4; do
		p=".partitions[$((i - 1))]"
		start=$(part_field src.img $i start); size=$(part_field src.img $i size)
		off=(-O $((start * 512)) -S $((size * 512)) src.img)
		eqf "p$i start" $((start * 512)) "$(jq -r "$p.start" l.json)" || bad=1
		eqf "p$i size" $((size * 512)) "$(jq -r "$p.size" l.json)" || bad=1
		eqf "p$i partuuid" "$(part_field src.img $i uuid)" "$(jq -r "$p.partuuid" l.json)" || bad=1
		eqf "p$i type" "$(part_field src.img $i type)" "$(jq -r "$p.parttype" l.json)" || bad=1
		eqf "p$i fstype" "$(blkid_val "${off[@]}" TYPE)" "$(jq -r "$p.fstype // empty" l.json)" || bad=1
		eqf "p$i uuid" "$(blkid_val "${off[@]}" UUID)" "$(jq -r "$p.uuid // empty" l.json)" || bad=1
		eqf "p$i label" "$(blkid_val "${off[@]}" LABEL)" "$(jq -r "$p.label // empty" l.json)" || bad=1
	done
	eqf methods "raw raw recreate files" "$(jq -r '[.partitions[].method] | join(" ")' l.json)" || bad=1
	eqf partlabel "EFI System" "$(jq -r '.partitions[1].partlabel' l.json)" || bad=1
	eqf attrs "LegacyBIOSBootable" "$(jq -r '.partitions[3].partflags' l.json)" || bad=1
	val() { sed -n "s/^$1:[[:space:]]*//p" root.dumpe2fs; }
	local bs blocks free
	bs=$(val "Block size"); blocks=$(val "Block count"); free=$(val "Free blocks")
	eqf "ext4 features" "$(val "Filesystem features" | tr ' ' '\n' | grep -v needs_recovery | sort | xargs)" \
		"$(jq -r '.partitions[3].features' l.json | tr , '\n' | sort | xargs)" || bad=1
	eqf "ext4 block size" "$bs" "$(jq -r '.partitions[3]."fs-block-size"' l.json)" || bad=1
	eqf "ext4 inode size" "$(val "Inode size")" "$(jq -r '.partitions[3]."inode-size"' l.json)" || bad=1
	eqf "ext4 inodes" "$(val "Inode count")" "$(jq -r '.partitions[3].inodes' l.json)" || bad=1
	eqf "ext4 used bytes" $(((blocks - free) * bs)) "$(jq -r '.partitions[3].fsused' l.json)" || bad=1
	eqf "used known" true "$(jq -r '.partitions[3]."fsused-known"' l.json)" || bad=1
	return $bad
}
check "the probe matches blkid -p, sfdisk and dumpe2fs field by field" probe_ok
check "the source was not written" test "$(fp src.img)" = "$src_sha"
used=$(jq -r '.partitions[3].fsused' l.json)
diag "root: $((used >> 20)) MiB used of $((root_sectors / 2048)) MiB"
check "the source's root is 28-32% used" test $((used * 100 / (root_sectors * 512))) -ge 28 -a $((used * 100 / (root_sectors * 512))) -le 32

"$M" layout src.img >l.txt
check "human output lists the partitions" grep -q "^4 *files .* ext4 " l.txt

# --- the plan ---
"$M" layout --plan --target-size 6G -J src.img >grow.json
check "plan for 6 GiB: root grown to the disk's end, the others kept" \
	test "$(jq -r '[.partitions[] | .grown] | join(" ")' grow.json)" = "false false false true" -a \
	"$(jq -r '.partitions[3].start + .partitions[3].size' grow.json)" = $((6144 * 1048576 - 1048576)) -a \
	"$(jq -r '.partitions[1].size' grow.json)" = $((64 << 20))
"$M" layout --plan --target-size 1536M -J src.img >half.json
check "plan for half the size (30% used): fits, root shrunk" \
	test "$(jq -r '.partitions[3].shrunk' half.json)" = true
"$M" layout --plan --target-size 1G src.img >small.out 2>small.err
rc=$?
check "plan for 1 GiB: refused (exit 1)" test $rc -eq 1
check "with the numbers: needed and available bytes" \
	grep -qE "needs .* \([0-9]+ bytes: .* in use plus margins.*the target has 1.0 GiB \(1073741824 bytes\)" small.err
"$M" layout --plan --target-size 1G --target-sector 4096 src.img >s4k.out 2>&1
check "4 KiB-sector target: refused for the FAT ESP (a byte copy would not mount)" \
	grep -q "partition 2 is FAT made for 512-byte sectors" s4k.out

# --- --from-json: the round trip through the file form ---
"$M" layout --from-json l.json -J >l2.json
check "layout --from-json reproduces the JSON" cmp -s <(jq -S 'del(.source)' l.json) <(jq -S 'del(.source)' l2.json)
jq '.partitions[3].start = 1048576' l.json >bad.json
"$M" layout --from-json bad.json >bad.out 2>&1
rc=$?
check "an overlapping layout is refused (exit 1, clear message)" \
	test $rc -eq 1 -a "$(cat bad.out)" = "migrator: bad.json: not a layout: bad JSON or a value out of range"

# --- apply onto an image file: half the source's size ---
truncate -s 1536M t.img
"$M" layout --apply t.img src.img >apply.out 2>&1
check "apply onto a 1.5 GiB image (half the source, 30% used): exit 0" test $? -eq 0 || diag "$(cat apply.out)"
same_table() { # TARGET
	local bad=0 i
	eqf label-id "$(sfdisk -d src.img | sed -n 's/^label-id: //p')" "$(sfdisk -d "$1" | sed -n 's/^label-id: //p')" || bad=1
	for i in 1 2 3 4; do
		for f in uuid type name; do
			eqf "p$i $f" "$(part_field src.img $i $f 2>/dev/null)" "$(part_field "$1" $i $f 2>/dev/null)" || bad=1
		done
		[ $i -le 3 ] && { eqf "p$i size" "$(part_field src.img $i size)" "$(part_field "$1" $i size)" || bad=1; }
		eqf "p$i start aligned" 0 $(( $(part_field "$1" $i start) % 2048 )) || bad=1
	done
	eqf attrs LegacyBIOSBootable "$(part_field "$1" 4 attrs)" || bad=1
	return $bad
}
same_fs() { # TARGET
	local bad=0 s l
	s=$(part_field "$1" 3 start)
	eqf "swap uuid" $SWAP_UUID "$(blkid_val -O $((s * 512)) "$1" UUID)" || bad=1
	eqf "swap label" swap0 "$(blkid_val -O $((s * 512)) "$1" LABEL)" || bad=1
	l=$(part_loop "$1" 4 -r) || return 1
	eqf "root uuid" $ROOT_UUID "$(blkid_val "$l" UUID)" || bad=1
	eqf "root label" rootfs "$(blkid_val "$l" LABEL)" || bad=1
	eqf "root type" ext4 "$(blkid_val "$l" TYPE)" || bad=1
	dumpe2fs -h "$l" 2>/dev/null >new.dumpe2fs
	for k in "Filesystem features" "Block size" "Inode size"; do
		eqf "$k" "$(grep "^$k:" root.dumpe2fs)" "$(grep "^$k:" new.dumpe2fs)" || bad=1
	done
	eqf "root fills the partition" $(( $(part_field "$1" 4 size) * 512 )) \
		$(( $(sed -n 's/^Block count:[[:space:]]*//p' new.dumpe2fs) * 4096 )) || bad=1
	e2fsck -fn "$l" >fsck.txt 2>&1 || { diag "$(tail -3 fsck.txt)"; bad=1; }
	losetup -d "$l"
	return $bad
}
check "the target's table: same PTUUID, PARTUUIDs, types, names, attributes; fixed sizes kept" same_table t.img
check "the target's filesystems: same UUIDs, labels, ext4 features, block and inode size; fsck clean" same_fs t.img
check "the root partition fits the used bytes plus the margin" \
	test $(( $(part_field t.img 4 size) * 512 )) -ge $((used + used * 15 / 100 + (64 << 20)))
check "the source was not written" test "$(fp src.img)" = "$src_sha"

# --- refusals leave the target as it was ---
t_sha=$(fp t.img)
"$M" layout --apply t.img src.img >again.out 2>&1
rc=$?
check "a target holding a table is refused without --allow-overwrite (exit 1)" \
	test $rc -eq 1 -a "$(fp t.img)" = "$t_sha"
check "it says what is there" grep -q "is not empty (gpt partition table.*allow-overwrite" again.out
# --allow-overwrite with --backup-dir: the old table's sectors are saved
# first, and dd puts the old table back
sfdisk -q --disk-id t.img 01234567-89AB-4CDE-8F01-23456789ABCD >/dev/null 2>&1
sfdisk -d t.img >t-before.dump
mkdir -p bk
"$M" layout --apply t.img --allow-overwrite --new-uuids --backup-dir bk src.img >over.out 2>&1
check "--allow-overwrite --new-uuids: exit 0" test $? -eq 0 || diag "$(cat over.out)"
tsize=$(stat -c %s t.img)
check "the first and the last MiB were saved" \
	test -s bk/migrator-t.img-0x00000000.bak -a -s "bk/$(printf 'migrator-t.img-0x%08x.bak' $((tsize - 1048576)))"
check "--new-uuids: the root has a fresh UUID" \
	test "$(blkid_val -O $(( $(part_field t.img 4 start) * 512 )) t.img UUID)" != $ROOT_UUID
check "the apply replaced the table (another disk id)" not cmp -s t-before.dump <(sfdisk -d t.img)
for f in bk/*.bak; do
	off=${f##*-0x}; off=$((16#${off%.bak}))
	dd if="$f" of=t.img bs=1M seek=$off oflag=seek_bytes conv=notrunc status=none
done
check "restoring the backup gives the old table back" cmp -s t-before.dump <(sfdisk -d t.img)

truncate -s 1G small.img
"$M" layout --apply small.img src.img >small2.out 2>&1
rc=$?
check "a too small target is refused before any write (exit 1, still zeros)" \
	test $rc -eq 1 -a "$(fp small.img)" = "$(fp /dev/null | sed 's/^0/1073741824/')"
"$M" layout --apply src.img src.img >self.out 2>&1
check "the source itself is refused" test $? -eq 1 -a "$(fp src.img)" = "$src_sha"

# a missing mkfs tool is found before the first write
PATH=/nonexistent "$M" layout --apply new.img --target-size 2G src.img >nopath.out 2>&1
rc=$?
check "a missing mkswap/mke2fs is refused before anything is created" \
	test $rc -eq 1 -a ! -e new.img
check "it names the tool" grep -q "needs mkswap, which is not on PATH" nopath.out

# an unknown partition: refused, or kept empty with --skip-unknown (its old
# bytes cleared at both ends, so no stale signature shows through)
truncate -s 64M unk.img
printf 'label: gpt\nsize=32M, name=root\nsize=16M, name=junk\n' | sfdisk -q unk.img
mkfs_file u1.fs 32M ext4 -L uroot && put_fs unk.img 1 u1.fs
dd if=/dev/urandom of=unk.img bs=1M count=16 seek=$(( $(part_field unk.img 2 start) / 2048 )) conv=notrunc status=none
"$M" layout --plan --target-size 128M unk.img >unk.out 2>&1
check "an unrecognised partition is refused without --skip-unknown" \
	grep -q "partition 2 holds nothing it recognises" unk.out
python3 -c 'import sys; open(sys.argv[1], "wb").write(b"\xff" * (128 << 20))' ff.img
"$M" layout --apply ff.img --skip-unknown unk.img >unk2.out 2>&1
check "--skip-unknown: apply succeeds" test $? -eq 0 || diag "$(cat unk2.out)"
s2=$(( $(part_field ff.img 2 start) * 512 )); n2=$(( $(part_field ff.img 2 size) * 512 ))
check "the skipped partition keeps its size and reads zeros at both ends" \
	test $n2 -eq $((16 << 20)) -a "$(zero_range_ok ff.img $s2 1048576 && zero_range_ok ff.img $((s2 + n2 - 1048576)) 1048576 && echo y)" = y

# --- apply onto a loop device (a larger disk: root grows) ---
truncate -s 4G big.img
loop=$(losetup -f --show big.img) || loop=
if [ -n "$loop" ]; then
	# held open O_EXCL (as a mount would): refused as in use
	python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); print("held", flush=True); time.sleep(30)' "$loop" >held.txt &
	holder=$!
	for _ in $(seq 50); do [ -s held.txt ] && break; sleep 0.1; done
	"$M" layout --apply "$loop" src.img >busy.out 2>&1
	rc=$?
	kill $holder 2>/dev/null; wait $holder 2>/dev/null
	check "a loop device in use is refused (exit 1)" test $rc -eq 1
	check "it says so" grep -q "is in use" busy.out
	"$M" layout --apply "$loop" src.img >loop.out 2>&1
	check "apply onto a 4 GiB loop device: exit 0" test $? -eq 0 || diag "$(cat loop.out)"
	losetup -d "$loop"
	check "the loop target's table matches" same_table big.img
	check "the loop target's filesystems match; root grown, fsck clean" same_fs big.img
	check "root reaches the end of the disk (less the backup GPT)" \
		test $(( ($(part_field big.img 4 start) + $(part_field big.img 4 size)) * 512 )) -eq $((4096 * 1048576 - 1048576))
else
	diag "no loop device: skipping the loop-device cases"
fi

# --- 512-byte sectors onto a 4 KiB-sector disk (no FAT): planned in bytes,
# the ext4 block size raised from 1 KiB to 4 KiB ---
truncate -s 1G k.img
printf 'label: gpt\nsize=400M, name=root\nsize=64M, type=%s\n' $SWAP | sfdisk -q k.img
l=$(part_loop k.img 1) && mke2fs -q -F -t ext4 -b 1024 -L k1 "$l"; losetup -d "$l"
l=$(part_loop k.img 2) && mkswap -q -L k2 "$l"; losetup -d "$l"
truncate -s 1G k4.img
if L=$(losetup -f --show --sector-size 4096 k4.img 2>/dev/null); then
	"$M" layout --apply "$L" k.img >k4.out 2>&1
	check "apply onto a 4 KiB-sector loop device: exit 0" test $? -eq 0 || diag "$(cat k4.out)"
	k4_ok() {
		local bad=0 l2
		eqf "sector size" 4096 "$(sfdisk -d "$L" | sed -n 's/^sector-size: //p')" || bad=1
		eqf "first partition at 1 MiB" 256 "$(sfdisk --json "$L" | jq '.partitiontable.partitions[0].start')" || bad=1
		l2=$(losetup -f --show -o 1048576 --sizelimit $(( $(sfdisk --json "$L" | jq '.partitiontable.partitions[0].size') * 4096 )) "$L") || return 1
		eqf "ext4 block size" 4096 "$(dumpe2fs -h "$l2" 2>/dev/null | sed -n 's/^Block size:[[:space:]]*//p')" || bad=1
		eqf "label" k1 "$(blkid_val "$l2" LABEL)" || bad=1
		e2fsck -fn "$l2" >fsck4.txt 2>&1 || { diag "$(tail -3 fsck4.txt)"; bad=1; }
		losetup -d "$l2"
		return $bad
	}
	check "the 4 KiB target: table in 4 KiB sectors, ext4 with 4 KiB blocks, fsck clean" k4_ok
	losetup -d "$L"
fi

# --- MBR: ext4, xfs, a logical swap ---
if command -v mkfs.xfs >/dev/null; then
	truncate -s 2G mbr.img
	printf 'label: dos\nlabel-id: 0x5ca1ab1e\nsize=300M, type=83, bootable\nsize=400M, type=83\ntype=5\nsize=100M, type=82\n' | sfdisk -q mbr.img
	mkdir -p t2; head -c 20M /dev/urandom >t2/a
	mkfs_file m1.fs 300M ext4 -L mbrroot -d t2 && put_fs mbr.img 1 m1.fs
	mkfs_file m2.fs 400M xfs -L data -m uuid=7e000000-0000-4000-8000-000000000002 && put_fs mbr.img 2 m2.fs
	mkfs_file m5.fs 100M swap -L sw5 && put_fs mbr.img 5 m5.fs
	"$M" layout -J mbr.img >m.json
	diag "MBR: $(jq -c '[.partitions[] | [.partn, .method, .fstype, .logical]]' m.json)"
	check "MBR probe: methods files, container, files (xfs), recreate; swap is logical" \
		test "$(jq -r '[.partitions[] | .method] | join(" ")' m.json) $(jq -r '.partitions[3].logical' m.json)" = \
		"files files container recreate true"
	xfs_used() { xfs_db -r -c 'sb 0' -c 'p dblocks fdblocks blocksize' m2.fs | awk '{v[$1]=$3} END {printf "%d\n", (v["dblocks"] - v["fdblocks"]) * v["blocksize"]}'; }
	check "xfs used bytes match xfs_db" test "$(jq -r '.partitions[1].fsused' m.json)" = "$(xfs_used)"
	truncate -s 1200M mt.img
	"$M" layout --apply mt.img mbr.img >mapply.out 2>&1
	check "MBR apply onto 1200 MiB: exit 0" test $? -eq 0 || diag "$(cat mapply.out)"
	mbr_ok() {
		local bad=0 s
		eqf label-id 0x5ca1ab1e "$(sfdisk -d mt.img | sed -n 's/^label-id: //p')" || bad=1
		sfdisk -d mt.img | grep -q "mt.img1 : .*bootable" || { diag "partition 1 lost its bootable flag"; bad=1; }
		eqf types "83 83 5 82" "$(sfdisk --json mt.img | jq -r '[.partitiontable.partitions[].type] | join(" ")')" || bad=1
		s=$(part_field mt.img 2 start)
		eqf "xfs uuid" 7e000000-0000-4000-8000-000000000002 "$(blkid_val -O $((s * 512)) mt.img UUID)" || bad=1
		eqf "xfs label" data "$(blkid_val -O $((s * 512)) mt.img LABEL)" || bad=1
		s=$(part_field mt.img 5 start)
		eqf "logical swap label" sw5 "$(blkid_val -O $((s * 512)) mt.img LABEL)" || bad=1
		eqf "logical swap uuid" "$(blkid_val m5.fs UUID)" "$(blkid_val -O $((s * 512)) mt.img UUID)" || bad=1
		return $bad
	}
	check "MBR target: disk id, bootable flag, types, xfs and swap UUIDs and labels kept" mbr_ok
fi

done_testing
