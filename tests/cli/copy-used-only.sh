#!/bin/bash
# send --used-only: blocks an ext4 filesystem marks free are not sent. The
# target holds every used block byte for byte (the free ones read as zeros),
# e2fsck -fn is clean on it, and fewer bytes travel than without the flag.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

# An ext4 partition whose free space holds old data: files written, then
# some deleted (debugfs rm frees the blocks and leaves their bytes).
mkdir -p files
for i in 1 2 3 4 5 6; do head -c 6M /dev/urandom >files/f$i; done
mkfs_file fs.img 64M ext4 -d files -L usedonly
for i in 2 4 6; do debugfs -w -R "rm f$i" fs.img >/dev/null 2>&1; done
truncate -s 96M src.img
printf 'label: gpt\nsize=64M, name=root\nsize=16M, name=swap\n' | sfdisk -q src.img
put_fs src.img 1 fs.img
head -c 8M /dev/urandom | dd of=src.img bs=1M seek=$(( $(sector_of src.img 2) / 2048 + 2 )) conv=notrunc status=none
src_sha=$(sha256sum <src.img)

"$MIGRATOR" send --to "file://$SCRATCH/all.img" src.img >all.out 2>&1
"$MIGRATOR" send --used-only --to "file://$SCRATCH/used.img" src.img >used.out 2>&1
check "send --used-only: exit 0" test $? -eq 0
check "it says what it skipped" grep -q "partition 1 (ext4): .* free, not sent" used.out
wire() { grep -o '[0-9.]* MiB on the wire' "$1" | cut -d' ' -f1; }
diag "on the wire: $(wire all.out) MiB without, $(wire used.out) MiB with --used-only"
check "fewer bytes on the wire than without --used-only (by the deleted 18 MiB)" \
	awk -v a="$(wire all.out)" -v u="$(wire used.out)" 'BEGIN{exit !(a - u > 15)}'

# Expected target: the source with every free range zeroed.
"$MIGRATOR" usedmap -J src.img >map.json
cp src.img expect.img
python3 - map.json expect.img <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
with open(sys.argv[2], "r+b") as f:
    for r in m["free-ranges"]:
        f.seek(r["offset"]); f.write(b"\0" * r["length"])
PY
check "usedmap found free ranges" test "$(jq '."free-ranges" | length' map.json)" -gt 0
check "the target equals the source with the free blocks zeroed" cmp -s used.img expect.img
check "... and it differs from the source (free blocks did hold data)" not cmp -s used.img src.img
start=$(sector_of used.img 1)
dd if=used.img of=p1.img bs=512 skip="$start" count=$((64 * 2048)) status=none
check "e2fsck -fn on the target's filesystem is clean" e2fsck -fn p1.img
for i in 1 3 5; do
	debugfs -R "dump f$i out$i" p1.img >/dev/null 2>&1
	check "file f$i is intact on the target" cmp -s out$i files/f$i
done
check "the source is unchanged" test "$(sha256sum <src.img)" = "$src_sha"
done_testing
