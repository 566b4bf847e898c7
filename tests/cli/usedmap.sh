#!/bin/bash
# migrator usedmap on real mke2fs images (ext2 1 KiB, ext3, ext4 default —
# flex_bg, 64bit, metadata_csum, uninit groups —, without flex_bg, 4 KiB
# blocks, meta_bg, sparse_super2, uninit_bg crc16), half full of random
# files with some deleted, in a GPT disk, an MBR disk with a logical
# partition and on a whole disk. The proof: overwrite every range it calls
# free with 0xFF junk, then e2fsck -fn must be clean and every file must read
# back unchanged; and the free bytes equal dumpe2fs's free blocks. Controls
# show the checks can fail: junk in a used block is caught.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
for t in mke2fs debugfs e2fsck dumpe2fs python3 jq sfdisk; do
	command -v "$t" >/dev/null || { echo "needs $t"; exit 77; }
done

LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
BIOSBOOT=21686148-6449-6E6F-744E-656564454649
SWAP=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F

# tree/: ~10 MiB of random files (fixed seed); keep/: what stays after the
# files named in del.cmd are removed from each filesystem.
python3 - <<'EOF'
import os, random
r = random.Random(20240601)
deleted = []
for i in range(48):
    d = 'tree/d%d' % (i % 4) if i % 3 else 'tree'
    os.makedirs(d, exist_ok=True)
    size = r.choice([0, 1, 700, 4096, 5000, 70000, 200000, 600000])
    p = '%s/f%02d' % (d, i)
    with open(p, 'wb') as f:
        f.write(r.randbytes(size))
    if i % 5 == 2:
        deleted.append(p[len('tree'):])
with open('del.cmd', 'w') as f:
    for p in deleted:
        f.write('rm %s\n' % p)
EOF
cp -a tree keep
sed -n 's/^rm //p' del.cmd | while read -r p; do rm "keep$p"; done

# mkext FILE SIZE TYPE [MKE2FS ARGS...]: a populated filesystem with holes
mkext() {
	local f=$1 size=$2 type=$3; shift 3
	rm -f "$f"; truncate -s "$size" "$f"
	mke2fs -q -F -t "$type" "$@" -d tree "$f" >/dev/null 2>&1 &&
		debugfs -w -f del.cmd "$f" >/dev/null 2>&1
}

# junk IMG JSON OUT: a copy of IMG with every free range overwritten by 0xFF
junk() {
	cp --sparse=always "$1" "$3"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
with open(sys.argv[2], "r+b") as f:
    for r in j["free-ranges"]:
        f.seek(r["offset"]); n = r["length"]
        while n:
            k = min(n, 1 << 20); f.write(b"\xff" * k); n -= k
' "$2" "$3"
}

# extract IMG START SIZE OUT: one partition as its own file
extract() {
	dd if="$1" of="$4" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" \
		conv=sparse status=none
}

# same_files FS: every file of keep/ reads back identical from FS, nothing more
same_files() {
	rm -rf dump; mkdir dump
	debugfs -R "rdump / dump" "$1" >/dev/null 2>&1
	diff -r -x lost+found keep dump >diff.txt 2>&1 || { diag "$(head -5 diff.txt)"; return 1; }
}

fsck_clean() {
	e2fsck -fn "$1" >fsck.txt 2>&1 || { diag "$(head -8 fsck.txt)"; return 1; }
}

jqe() { jq -e "$@" >/dev/null; }
sb_field() { dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"; }

# check_image IMG NAME: usedmap, junk, then for every ext area: status,
# free bytes against dumpe2fs, e2fsck -fn and the files of the junked copy
check_image() {
	local img=$1 name=$2 n i
	"$MIGRATOR" usedmap -J "$img" >"$name.json" 2>err.txt
	check "$name: usedmap exit 0, no sanitizer report" \
		test $? -eq 0 -a ! -s err.txt
	junk "$img" "$name.json" "$name.junk"
	n=$(jq '.areas | length' "$name.json")
	for ((i = 0; i < n; i++)); do
		local a; a=$(jq -c ".areas[$i]" "$name.json")
		local t; t=$(jq -r '.fstype // "-"' <<<"$a")
		local what="$name: area $i ($t, partn $(jq -r .partn <<<"$a"))"
		case $t in ext2|ext3|ext4) ;; *)
			check "$what: not ext, nothing free" test "$(jq .free <<<"$a")" = 0
			continue ;;
		esac
		local start size; start=$(jq .start <<<"$a"); size=$(jq .size <<<"$a")
		extract "$img" "$start" "$size" orig.fs
		extract "$name.junk" "$start" "$size" junk.fs
		check "$what: mapped" test "$(jq -r .status <<<"$a")" = mapped
		local want=$(($(sb_field orig.fs 'Free blocks') * $(sb_field orig.fs 'Block size')))
		local got; got=$(jq .free <<<"$a")
		check "$what: free bytes ($got) = dumpe2fs free blocks × block size ($want)" test "$got" = "$want"
		check "$what: something is free" test "$got" -gt 0
		check "$what: junked copy passes e2fsck -fn" fsck_clean junk.fs
		check "$what: junked copy has every file unchanged" same_files junk.fs
	done
}

# -- a GPT disk with every variant
truncate -s 330M gpt.img
{ printf 'label: gpt\n'; printf '%s\n' "size=1M, type=$BIOSBOOT" \
	"size=40M, type=$LINUX" "size=32M, type=$LINUX" "size=32M, type=$LINUX" \
	"size=32M, type=$LINUX" "size=40M, type=$LINUX" "size=8M, type=$SWAP" \
	"size=32M, type=$LINUX" "size=32M, type=$LINUX" "size=32M, type=$LINUX" \
	"size=32M, type=$LINUX"; } | sfdisk -q gpt.img
mkext p2 40M ext4 && put_fs gpt.img 2 p2                           # default: flex_bg, 64bit, metadata_csum
mkext p3 32M ext2 -b 1024 && put_fs gpt.img 3 p3
mkext p4 32M ext3 && put_fs gpt.img 4 p4
mkext p5 32M ext4 -O ^flex_bg && put_fs gpt.img 5 p5
mkext p6 40M ext4 -b 4096 -g 2048 && put_fs gpt.img 6 p6          # 4 KiB blocks, 5 groups
mkfs_file p7 8M swap && put_fs gpt.img 7 p7
mkext p8 32M ext4 -O meta_bg,^resize_inode && put_fs gpt.img 8 p8
mkext p9 32M ext4 -O sparse_super2 && put_fs gpt.img 9 p9
mkext p10 32M ext4 -O ^metadata_csum,uninit_bg && put_fs gpt.img 10 p10
mkext p11 32M ext4 -O ^64bit -b 2048 && put_fs gpt.img 11 p11
check_image gpt.img gpt
check "gpt: BLOCK_UNINIT groups were computed (default ext4, crc16 uninit_bg)" \
	jqe '[.areas[] | select(.partn == 2 or .partn == 10) | .["groups-uninit"] > 0] == [true, true]' gpt.json
check "gpt: no group was distrusted (computed bitmaps agree with the descriptors)" \
	jqe '[.areas[] | select(.status == "mapped") | .["groups-distrusted"]] | add == 0' gpt.json
check "gpt: nothing free outside the ext partitions (BIOS boot, swap, tables, gaps)" \
	test "$(jq '[.areas[] | select(.status != "mapped") | .free] | add' gpt.json)" = 0
check "gpt: free ranges lie inside mapped areas" jqe '
	[.areas[] | select(.status == "mapped") | [.start, .start + .size]] as $a
	| all(.["free-ranges"][]; . as $r | any($a[]; .[0] <= $r.offset and $r.offset + $r.length <= .[1]))' gpt.json

# -- MBR: ext2 primary, ext4 in a logical partition
truncate -s 80M mbr.img
printf 'label: dos\nsize=32M, type=83\ntype=5\nsize=32M, type=83\n' | sfdisk -q mbr.img
mkext m1 32M ext2 && put_fs mbr.img 1 m1
mkext m5 32M ext4 && put_fs mbr.img 5 m5
check_image mbr.img mbr
check "mbr: the logical partition is mapped as number 5" \
	test "$(jq -c '[.areas[] | select(.status == "mapped") | .partn]' mbr.json)" = "[1,5]"

# -- a whole-disk ext4, 4 KiB blocks and several groups
mkext whole.img 64M ext4 -b 4096 -g 4096
check_image whole.img whole
check "whole: one area, partn null" test "$(jq -c '[.areas[] | .partn]' whole.json)" = "[null]"

# -- written by the kernel (allocations, uninit groups initialised, deletes)
if mkdir -p mnt && truncate -s 64M kern.img && mke2fs -q -F -t ext4 kern.img &&
	mount -o loop kern.img mnt 2>/dev/null; then
	cp -a tree/. mnt/ && sed -n 's/^rm //p' del.cmd | while read -r p; do rm "mnt$p"; done
	umount mnt
	check_image kern.img kern
else
	ok "kernel-written ext4 # SKIP cannot loop-mount here"
fi

# -- controls: the checks above can fail
off=$(( $(debugfs -R "bmap /f00 0" whole.img 2>/dev/null) * 4096 ))
cp whole.img ctl.img
printf '\377%.0s' $(seq 4096) | dd of=ctl.img bs=1 seek="$off" conv=notrunc status=none
check "control: junk in a used data block changes a file" not same_files ctl.img
itab=$(dumpe2fs whole.img 2>/dev/null | sed -n 's/^ *Inode table at \([0-9]*\)-.*/\1/p' | head -1)
cp whole.img ctl.img
printf '\377%.0s' $(seq 4096) | dd of=ctl.img bs=4096 seek="$itab" conv=notrunc status=none
check "control: junk in the inode table fails e2fsck -fn" not fsck_clean ctl.img
check "control: usedmap never calls those blocks free" \
	jqe --argjson d "$off" --argjson i "$((itab * 4096))" \
	'all(.["free-ranges"][]; (.offset > $d or .offset + .length <= $d) and (.offset > $i or .offset + .length <= $i))' whole.json

# -- a filesystem that needs journal recovery is refused and fully used
cp whole.img recover.img
debugfs -w -R 'feature needs_recovery' recover.img >/dev/null 2>&1
"$MIGRATOR" usedmap -J recover.img >recover.json 2>err.txt
check "recover: exit 0" test $? -eq 0
check "recover: refused, nothing free, reason says recovery" \
	jqe '.free == 0 and .areas[0].status == "refused" and (.areas[0].reason | test("recovery"))' recover.json
"$MIGRATOR" usedmap recover.img >human.txt 2>&1
check "recover: human output names the reason" grep -q 'refused: the journal needs recovery' human.txt

# -- errors recorded: refused too
cp whole.img errors.img
debugfs -w -R 'ssv state 3' errors.img >/dev/null 2>&1
"$MIGRATOR" usedmap -J errors.img >errors.json
check "errors: refused, nothing free" jqe '.free == 0 and .areas[0].status == "refused"' errors.json

# -- the human output and the CLI shape
"$MIGRATOR" usedmap gpt.img >human.txt 2>&1
check "human: exit 0, totals line" grep -q "^gpt.img: 346030080 bytes, .* free" human.txt
"$MIGRATOR" usedmap >/dev/null 2>err.txt
check "no argument: exit 2 and --help hint" test $? -eq 2 -a -n "$(grep -- --help err.txt)"
"$MIGRATOR" usedmap nope.img >/dev/null 2>err.txt
check "missing file: exit 1, named" test $? -eq 1 -a -n "$(grep 'nope.img: No such file' err.txt)"
"$MIGRATOR" usedmap --help >help.txt
check "--help: exit 0, on stdout" grep -q '^Usage: migrator usedmap' help.txt

done_testing
