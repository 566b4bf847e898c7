#!/bin/bash
# send --used-only on XFS: the blocks the free-space btrees mark free are not
# sent. The target's filesystem passes xfs_repair -n, every file on it equals
# the source's (both mounted read-only), fewer bytes travel than without the
# flag. An XFS whose log is dirty is sent whole, and the copy says why.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
for t in mkfs.xfs xfs_repair xfs_io python3 jq sfdisk mount umount; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP needs $t"; exit 77; }
done
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
mkdir -p m1 m2
trap 'umount "$SCRATCH/m1" "$SCRATCH/m2" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

# A 320 MiB XFS filled to 3/4 with random files through the kernel, a third
# of them deleted (their blocks keep the old bytes), unmounted cleanly.
mkfs_file fs.img 320M xfs -L usedxfs
mount -o loop fs.img m1 || { echo "1..0 # SKIP cannot mount xfs"; exit 77; }
python3 - m1 "$(df -B1 --output=avail m1 | tail -1)" <<'EOF'
import os, random, sys
mnt, avail = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
target, used, i = avail * 3 // 4, 0, 0
while used < target:
    size = min(r.choice([0, 5000, 200000, 2 << 20, 8 << 20]), target - used)
    with open(os.path.join(mnt, 'f%03d' % i), 'wb') as f:
        f.write(os.urandom(size))
    used += size; i += 1
os.sync()   # on disk before the deletes, so freed blocks keep old bytes
for k in range(0, i, 3):
    os.unlink(os.path.join(mnt, 'f%03d' % k))
EOF
unmount m1 || { echo "Bail out! cannot unmount the filled filesystem"; exit 1; }

truncate -s 352M src.img
printf 'label: gpt\nsize=320M, name=data\n' | sfdisk -q src.img
put_fs src.img 1 fs.img
p1=$(($(sector_of src.img 1) * 512))
src_sha=$(sha256sum <src.img)

"$MIGRATOR" send --to "file://$SCRATCH/all.img" src.img >all.out 2>&1
"$MIGRATOR" send --used-only --to "file://$SCRATCH/used.img" src.img >used.out 2>&1
check "send --used-only: exit 0" test $? -eq 0
check "it says what it skipped" grep -q "partition 1 (xfs): .* free, not sent" used.out
wire() { grep -o '[0-9.]* MiB on the wire' "$1" | cut -d' ' -f1; }
diag "on the wire: $(wire all.out) MiB without, $(wire used.out) MiB with --used-only"
check "fewer bytes on the wire (by the deleted third, over 40 MiB)" \
	awk -v a="$(wire all.out)" -v u="$(wire used.out)" 'BEGIN{exit !(a - u > 40)}'
check "the target differs from the source (free blocks held old data)" not cmp -s used.img src.img
dd if=used.img of=t.fs bs=1M skip=$((p1 >> 20)) count=320 status=none
repair_clean() { xfs_repair -n -f "$1" >repair.txt 2>&1 || { diag "$(head -5 repair.txt)"; return 1; }; }
check "xfs_repair -n on the target's filesystem is clean" repair_clean t.fs
same() {
	mount -o loop,ro,nouuid,offset="$p1",sizelimit=$((320 << 20)) "$1" m1 || return 1
	mount -o loop,ro,nouuid,offset="$p1",sizelimit=$((320 << 20)) "$2" m2 || { unmount m1; return 1; }
	diff -r m1 m2 >diff.txt 2>&1; local rc=$?
	unmount m1 m2
	[ $rc = 0 ] || diag "$(head -3 diff.txt)"
	return $rc
}
check "every file on the target equals the source's" same src.img used.img
check "the source is unchanged" test "$(sha256sum <src.img)" = "$src_sha"

# AG 1's AGF damaged: AG 1 travels whole, the rest still skips free blocks.
cp --sparse=always src.img agf.img
agb=$(xfs_db -r -c 'sb 0' -c 'p agblocks' fs.img | sed 's/.* = //')
bs=$(xfs_db -r -c 'sb 0' -c 'p blocksize' fs.img | sed 's/.* = //')
printf '\377' | dd of=agf.img bs=1 seek=$((p1 + agb * bs + 512 + 100)) conv=notrunc status=none
"$MIGRATOR" send --used-only --to "file://$SCRATCH/agf-t.img" agf.img >agf.out 2>&1
check "damaged AGF: it says which AG travels whole" \
	grep -q "partition 1 (xfs): .* free, not sent; AG 1: AGF checksum mismatch: AG kept used" agf.out
ag1() { dd if="$1" bs="$bs" skip=$((p1 / bs + agb)) count="$agb" status=none | sha256sum; }
check "damaged AGF: AG 1 on the target equals the source's" test "$(ag1 agf-t.img)" = "$(ag1 agf.img)"
check "damaged AGF: still fewer bytes than without --used-only" \
	awk -v a="$(wire all.out)" -v u="$(wire agf.out)" 'BEGIN{exit !(a - u > 10)}'
rm -f agf.img agf-t.img

# The same disk after a shutdown with writes in the log: sent whole.
mount -o loop,offset="$p1",sizelimit=$((320 << 20)) src.img m1 &&
	head -c 1M /dev/urandom >m1/late && xfs_io -x -c 'shutdown -f' m1; unmount m1
"$MIGRATOR" send --used-only --to "file://$SCRATCH/dirty.img" src.img >dirty.out 2>&1
check "dirty log: send --used-only exit 0" test $? -eq 0
check "dirty log: it says the partition is sent whole, and why" \
	grep -q "partition 1 (xfs): sent whole: .*log needs recovery" dirty.out
check "dirty log: the target equals the source byte for byte" cmp -s dirty.img src.img
done_testing
