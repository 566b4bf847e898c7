#!/bin/bash
# migrator usedmap on real XFS filesystems (mkfs.xfs, filled through the
# kernel, some files deleted, unmounted cleanly). The proof: the free bytes
# equal what xfs_db's freesp counts (less the AG free-list blocks, which stay
# used), and after every range called free is overwritten with 0xFF junk,
# xfs_repair -n is clean and every file reads back unchanged (a control
# shows that junk in a used block is caught). Refusals: a dirty log (the
# filesystem shut down before unmount) refuses the whole filesystem, until
# xfs_repair -L or a mount and unmount make it clean again; a
# damaged AGF, a damaged bnobt block or an AGF free count that disagrees
# with its btree keeps that AG used and says why.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
for t in mkfs.xfs xfs_db xfs_repair xfs_io python3 jq sfdisk mount umount; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP needs $t"; exit 77; }
done
mkdir -p mnt
MNT=$SCRATCH/mnt
trap 'umount "$MNT" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

jqe() { jq -e "$@" >/dev/null; }
# unmount DIR...: umount, retried while something else holds the mount busy
unmount() {
	local d
	for d; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			umount "$d" 2>/dev/null && break
			mountpoint -q "$d" || break
			sleep 0.5
		done
		! mountpoint -q "$d" || { diag "cannot unmount $d"; return 1; }
	done
}
xdb() { xfs_db -r "$@" 2>/dev/null; }
sbv() { xdb -c 'sb 0' -c "p $2" "$1" | sed 's/.* = //'; }
agfv() { xdb -c "agf $2" -c "p $3" "$1" | sed 's/.* = //'; }
# expected_free FS: free bytes by xfs_db: freesp's total less the AGFL blocks
expected_free() {
	local total agc fl=0 i
	total=$(xdb -c 'freesp -s' "$1" | sed -n 's/^total free blocks //p')
	agc=$(sbv "$1" agcount)
	for ((i = 0; i < agc; i++)); do fl=$((fl + $(agfv "$1" $i flcount))); done
	echo $(((total - fl) * $(sbv "$1" blocksize)))
}
# flip FILE OFFSET: invert one byte
flip() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}
# junk IMG JSON OUT [OFFSET LENGTH]: IMG with every free range (and the extra one) set to 0xFF
junk() {
	cp --sparse=always "$1" "$3"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
rs = [(r["offset"], r["length"]) for r in j["free-ranges"]]
if len(sys.argv) > 3: rs.append((int(sys.argv[3]), int(sys.argv[4])))
with open(sys.argv[2], "r+b") as f:
    for o, n in rs:
        f.seek(o)
        while n:
            k = min(n, 1 << 20); f.write(b"\xff" * k); n -= k
' "$2" "$3" "${@:4}"
}
same_files() { # FS: every file of keep/ reads back identical, nothing more
	mount -o loop,ro,nouuid "$1" "$MNT" || return 1
	diff -r keep "$MNT" >diff.txt 2>&1; local rc=$?
	unmount "$MNT"
	[ $rc = 0 ] || diag "$(head -3 diff.txt)"
	return $rc
}
repair_clean() {
	xfs_repair -n -f "$1" >repair.txt 2>&1 || { diag "$(head -5 repair.txt)"; return 1; }
}
area() { jq -c '.areas[0]' "$1"; }

# -- a v5 XFS filled to 3/4 of its free space with random files, a third deleted
mkfs_file fs.img 320M xfs -L usedxfs
mount -o loop fs.img "$MNT" || { echo "1..0 # SKIP cannot mount xfs"; exit 77; }
avail=$(df -B1 --output=avail "$MNT" | tail -1)
python3 - "$MNT" "$avail" <<'EOF'
import os, random, sys
mnt, avail = sys.argv[1], int(sys.argv[2])
r = random.Random(20261122)
target, used, i = avail * 3 // 4, 0, 0
while used < target:
    d = os.path.join(mnt, 'd%d' % (i % 5))
    os.makedirs(d, exist_ok=True)
    size = min(r.choice([0, 900, 4096, 70000, 600000, 3 << 20, 9 << 20]), target - used)
    with open(os.path.join(d, 'f%03d' % i), 'wb') as f:
        f.write(os.urandom(size))
    used += size; i += 1
os.sync()   # on disk before the deletes, so freed blocks keep old bytes
for k in range(0, i, 3):
    os.unlink(os.path.join(mnt, 'd%d' % (k % 5), 'f%03d' % k))
EOF
cp -a "$MNT" keep
victim=$(find keep -type f -size +100k | sort | head -1); victim=${victim#keep/}
vsect=$(xfs_io -r -c bmap "$MNT/$victim" | sed -n '2s/.*: \([0-9]*\)\.\..*/\1/p')
unmount "$MNT" || { echo "Bail out! cannot unmount the filled filesystem"; exit 1; }

truncate -s 400M disk.img
printf 'label: gpt\nsize=320M, name=data\nsize=16M, name=swap\n' | sfdisk -q disk.img
put_fs disk.img 1 fs.img
p1=$(($(sector_of disk.img 1) * 512))

"$MIGRATOR" usedmap -J disk.img >map.json 2>err.txt
check "usedmap exit 0, no sanitizer report" test $? -eq 0 -a ! -s err.txt
a=$(area map.json)
check "the xfs partition is mapped" test "$(jq -r .status <<<"$a")/$(jq -r .fstype <<<"$a")" = mapped/xfs
want=$(expected_free fs.img); got=$(jq .free <<<"$a")
diag "xfs_db: fdblocks $(sbv fs.img fdblocks), freesp less AGFL = $want bytes; usedmap $got bytes"
check "free bytes ($got) = xfs_db freesp total less AGFL blocks ($want)" test "$got" = "$want"
check "free bytes = sum of agf_freeblks × block size" \
	test "$got" = "$(( $(jq '.["agf-free-blocks"]' <<<"$a") * $(jq '.["block-size"]' <<<"$a") ))"
check "a third deleted: at least 1/5 of the filesystem free" test "$got" -gt $((320 * 1048576 / 5))
check "no AG distrusted, no reason" jqe '.["ags-distrusted"] == 0 and .reason == null' <<<"$a"
check "free ranges lie inside the xfs partition" \
	jqe --argjson s "$p1" '[."free-ranges"[] | .offset >= $s and .offset + .length <= $s + 320*1048576] | all' map.json
check "free ranges ascend and do not touch" \
	jqe '[."free-ranges" | range(1; length) as $i | .[$i].offset > .[$i-1].offset + .[$i-1].length] | all' map.json

junk disk.img map.json junk.img
dd if=junk.img of=junk.fs bs=1M skip=$((p1 >> 20)) count=320 status=none
check "junked copy: xfs_repair -n is clean" repair_clean junk.fs
check "junked copy: every file reads back unchanged" same_files junk.fs
junk disk.img map.json ctl.img $((p1 + vsect * 512)) 4096
dd if=ctl.img of=ctl.fs bs=1M skip=$((p1 >> 20)) count=320 status=none
check "control: junk over a used block ($victim) is caught" not same_files ctl.fs

# -- dirty log: shut down before unmount; the log holds transactions
cp fs.img dirty.img
mount -o loop dirty.img "$MNT" && head -c 2M /dev/urandom >"$MNT/new" && rm -f "$MNT/d1/f001" &&
	xfs_io -x -c 'shutdown -f' "$MNT"; unmount "$MNT"
"$MIGRATOR" usedmap -J dirty.img >dirty.json
a=$(area dirty.json)
check "dirty log: refused, nothing free" jqe '.status == "refused" and .free == 0' <<<"$a"
check "dirty log: the reason says the log needs recovery" jqe '.reason | test("log needs recovery")' <<<"$a"
"$MIGRATOR" usedmap dirty.img >dirty.txt
check "dirty log: the human output gives the reason" grep -q 'xfs  refused: .*log needs recovery' dirty.txt

# ... made clean again: by xfs_repair -L (a new, higher cycle, CRC-less
# unmount record, a zeroed window, old blocks after it), or by mounting
# (the kernel replays the log) and unmounting
cp dirty.img zeroed.img
xfs_repair -L zeroed.img >/dev/null 2>&1
"$MIGRATOR" usedmap -J zeroed.img >zeroed.json
check "after xfs_repair -L: mapped, free = xfs_db freesp less AGFL" \
	jqe --argjson w "$(expected_free zeroed.img)" '.areas[0] | .status == "mapped" and .free == $w' zeroed.json
mount -o loop dirty.img "$MNT" && unmount "$MNT"
"$MIGRATOR" usedmap -J dirty.img >replayed.json
check "after replay by the kernel: mapped, free = xfs_db freesp less AGFL" \
	jqe --argjson w "$(expected_free dirty.img)" '.areas[0] | .status == "mapped" and .free == $w' replayed.json

bs=$(sbv fs.img blocksize); agb=$(sbv fs.img agblocks); ss=$(sbv fs.img sectsize)
all=$got
ag_free() { echo $(( $(agfv fs.img "$1" freeblks) * bs )); }

# -- a byte flipped in AG 1's AGF: AG 1 kept used, the rest mapped
cp fs.img agf.img
flip agf.img $((agb * bs + ss + 100))
"$MIGRATOR" usedmap -J agf.img >agf.json
a=$(area agf.json)
check "damaged AGF: still mapped, one AG distrusted" jqe '.status == "mapped" and .["ags-distrusted"] == 1' <<<"$a"
check "damaged AGF: the reason names AG 1" jqe '.reason | test("AG 1: AGF checksum mismatch")' <<<"$a"
check "damaged AGF: free = all less AG 1's free" test "$(jq .free <<<"$a")" = $((all - $(ag_free 1)))

# -- a byte flipped in AG 2's bnobt root
cp fs.img bt.img
flip bt.img $(((2 * agb + $(agfv fs.img 2 bnoroot)) * bs + 200))
"$MIGRATOR" usedmap -J bt.img >bt.json
a=$(area bt.json)
check "damaged bnobt block: AG 2 distrusted, reason given" \
	jqe '.status == "mapped" and .["ags-distrusted"] == 1 and (.reason | test("AG 2: bnobt block .*checksum"))' <<<"$a"
check "damaged bnobt block: free = all less AG 2's free" test "$(jq .free <<<"$a")" = $((all - $(ag_free 2)))

# -- AG 3's AGF claims one free block too many (checksum recomputed by xfs_db)
cp fs.img cnt.img
xfs_db -x -c 'agf 3' -c "write freeblks $(( $(agfv fs.img 3 freeblks) + 1 ))" cnt.img >/dev/null 2>&1
"$MIGRATOR" usedmap -J cnt.img >cnt.json
a=$(area cnt.json)
check "AGF count off by one: AG 3 distrusted, the counts shown" \
	jqe '.["ags-distrusted"] == 1 and (.reason | test("AG 3: the bnobt holds [0-9]+ free blocks, the AGF [0-9]+"))' <<<"$a"
check "AGF count off by one: free = all less AG 3's free" test "$(jq .free <<<"$a")" = $((all - $(ag_free 3)))

# -- a broken superblock checksum: refused as a whole
cp fs.img sb.img
flip sb.img 300
"$MIGRATOR" usedmap -J sb.img >sb.json
check "damaged superblock: refused" \
	jqe '.areas[0] | .status == "refused" and .free == 0 and (.reason | test("superblock checksum"))' sb.json

# -- a byte flipped inside the kernel's unmount record: its CRC fails
cp fs.img ur.img
ls=$(sbv fs.img logstart); agl=$(sbv fs.img agblklog)
logoff=$(( ((ls >> agl) * agb + (ls & ((1 << agl) - 1))) * bs ))
head=$(jq '.areas[0]["log-head"]' map.json)
flip ur.img $((logoff + (head - 1) * 512 + 200))
"$MIGRATOR" usedmap -J ur.img >ur.json
check "damaged unmount record: refused, nothing free" \
	jqe '.areas[0] | .status == "refused" and .free == 0 and (.reason | test("checksum is wrong: log needs recovery"))' ur.json

# -- v5 fresh from mkfs: mkfs's unmount record has no CRC and its tail at itself
mkfs_file fresh.img 320M xfs
"$MIGRATOR" usedmap -J fresh.img >fresh.json
check "fresh v5: mapped, free = xfs_db freesp less AGFL" \
	jqe --argjson w "$(expected_free fresh.img)" '.areas[0] | .status == "mapped" and .free == $w' fresh.json

# -- other geometries, written through the kernel: log stripe unit (padded
# unmount records), 4 KiB sectors (AGF CRC over 4 KiB), 1 KiB blocks,
# rmapbt and reflink
for opts in "-l su=64k" "-s size=4096" "-b size=1024" "-m rmapbt=1,reflink=1"; do
	mkfs_file var.img 320M xfs $opts >/dev/null 2>&1 || { diag "mkfs.xfs $opts failed"; continue; }
	mount -o loop var.img "$MNT" && head -c 12M /dev/urandom >"$MNT/a" && head -c 3M /dev/urandom >"$MNT/b" &&
		sync && rm "$MNT/a"; unmount "$MNT"
	"$MIGRATOR" usedmap -J var.img >var.json
	check "mkfs.xfs $opts: mapped, free = xfs_db freesp less AGFL" \
		jqe --argjson w "$(expected_free var.img)" '.areas[0] | .status == "mapped" and .free == $w' var.json
done

# -- v4 (no CRCs), fresh from mkfs: mkfs's own unmount record, ABTB btrees
if mkfs_file v4.img 320M xfs -m crc=0 >/dev/null 2>&1; then
	"$MIGRATOR" usedmap -J v4.img >v4.json
	check "v4: mapped, free = xfs_db freesp less AGFL" \
		jqe --argjson w "$(expected_free v4.img)" '.areas[0] | .status == "mapped" and .free == $w' v4.json
fi
done_testing
