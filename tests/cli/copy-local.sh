#!/bin/bash
# Block copy without a network: to a raw image file, to a .mig stream file
# and back with `receive --from`, and to a block device. Corrupt and
# truncated .mig files are refused with the offset, and the corrupt chunk is
# never written.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

mk_copy_source src.img
src_sha=$(sha256sum <src.img)
run() { "$MIGRATOR" "$@" >out.txt 2>&1; }
clean_log() { not grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' out.txt; }

run send -q --to "file://$SCRATCH/raw.img" src.img
check "send to a raw image file: exit 0" test $? -eq 0
check "raw image equals the source" test "$(sha256sum <raw.img)" = "$src_sha"
check "raw image is sparse (zeros are holes)" test "$(du -k raw.img | cut -f1)" -lt 70000
check "the summary counts data and zeros" grep -q "MiB data, .* zero or unused" out.txt
check "no sanitizer report" clean_log

run send -q --to "file://$SCRATCH/raw.img" src.img
check "an existing non-empty target is refused without --allow-overwrite" grep -q "is not empty (gpt partition table.*--allow-overwrite" out.txt
run send -q --allow-overwrite --to "file://$SCRATCH/raw.img" src.img
check "with --allow-overwrite it is replaced" test $? -eq 0 -a "$(sha256sum <raw.img)" = "$src_sha"

run send -q --to "file://$SCRATCH/s.mig" src.img
check "send to a .mig file: exit 0" test $? -eq 0
check "the .mig is compressed (smaller than the data)" test "$(stat -c %s s.mig)" -lt 50000000
check "no partial file left" test ! -e s.mig.partial
run receive -q --from s.mig --map "0=$SCRATCH/from-mig.img"
check "receive --from the .mig: exit 0" test $? -eq 0
check "its target equals the source" test "$(sha256sum <from-mig.img)" = "$src_sha"
check "the receiver reports the digest match" grep -q "digest matches" out.txt
rm -f then.img
run receive -q --from s.mig --map "0=$SCRATCH/then.img" --then verify
check "receive --then verify: verify runs on the received disk" grep -q "^receive: then: migrator verify $SCRATCH/then.img$" out.txt
check "... and its result decides the exit status" grep -q "^receive: then: migrator verify: exit status [01]$" out.txt
check "--then: an unknown step is a usage error" not "$MIGRATOR" receive --from s.mig --then frobnicate 2>/dev/null
check "--then: the unknown step is named" grep -q "unknown step 'frobnicate'" <("$MIGRATOR" receive --from s.mig --then frobnicate 2>&1)
run receive -q --from s.mig --map "0=$SCRATCH/then-bus.img" --then verify --target-bus virtio
check "receive --target-bus: passed to the --then steps" \
	grep -q "^receive: then: migrator verify --target-bus=virtio $SCRATCH/then-bus.img$" out.txt
"$MIGRATOR" receive --from s.mig --target-bus pata >out.txt 2>&1
check "--target-bus: an unknown bus is a usage error (exit 2)" test $? -eq 2
check "... naming it" grep -q "target-bus 'pata'" out.txt
"$MIGRATOR" receive --from s.mig --target-bus nvme >out.txt 2>&1
check "--target-bus without --then: a usage error" test $? -eq 2
"$MIGRATOR" send --stall-timeout 2 --to "file://$SCRATCH/x.mig" src.img >out.txt 2>&1
check "send --stall-timeout below 5 s: a usage error" test $? -eq 2
"$MIGRATOR" receive --listen 127.0.0.1:0 --stall-timeout 99999 >out.txt 2>&1
check "receive --stall-timeout above 3600 s: a usage error" test $? -eq 2
run receive -q --from s.mig --map "sda=$SCRATCH/x.img"
check "--map names an unknown source disk: refused" grep -q "no --map names source disk 0" out.txt

# Flip one bit in the payload of the second data chunk.
python3 - s.mig >flip.txt <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
pos, data = 0, 0
while pos < len(b):
    typ, blen = b[pos + 4], struct.unpack_from('<I', b, pos + 8)[0]
    if typ == 3:
        kind, off, length, plen = struct.unpack_from('<IQII', b, pos + 20)
        if kind == 0:
            data += 1
            if data == 2:
                b[pos + 16 + 56 + plen // 2] ^= 1
                print(off, length)
                break
    pos += 16 + blen
open(sys.argv[1] + '.bad', 'wb').write(b)
PY
read -r bad_off bad_len <flip.txt
cp s.mig.bad flipped.mig
run receive -q --from flipped.mig --map "0=$SCRATCH/flip.img"
rc=$?
check "a flipped bit in the .mig: exit 1" test $rc -eq 1
check "the error names the corrupt chunk's offset" grep -q "chunk at offset $bad_off .*corrupt" out.txt
check "the corrupt chunk was never written" zero_range_ok flip.img "$bad_off" "$bad_len"
check "no sanitizer report" clean_log

head -c $(( $(stat -c %s s.mig) - 100 )) s.mig >trunc.mig
run receive -q --from trunc.mig --map "0=$SCRATCH/trunc.img"
check "a truncated .mig: exit 1, says truncated" test $? -eq 1 -a -n "$(grep -i truncated out.txt)"
head -c 1000 /dev/urandom >junk.mig
run receive -q --from junk.mig --map "0=$SCRATCH/junk.img"
check "random bytes as a .mig: exit 1, corrupt record at offset 0" grep -q "corrupt record at stream offset 0" out.txt
check "nothing created for it" test ! -e junk.img

# To a block device.
truncate -s 128M dev.img
loop=$(losetup -f --show dev.img)
run send -q --to "$loop" src.img
check "send to a block device: exit 0" test $? -eq 0
check "the block device equals the source" test "$(head -c 128M "$loop" | sha256sum)" = "$src_sha"
lsrc=$(losetup -f --show -r src.img)
run send -q --allow-overwrite --to "$lsrc" "$lsrc"
check "a source disk as its own target: refused" grep -q "is a source disk of this copy" out.txt
losetup -d "$loop" "$lsrc"

truncate -s 64M small.img
run send -q --to "file://$SCRATCH/small.img" src.img
check "a target smaller than the source: refused with both sizes" grep -q "small.img is too small: 64.0 MiB .* the source disk is 128.0 MiB" out.txt
check "the small target is unchanged" test "$(sha256sum <small.img)" = "$(head -c 64M /dev/zero | sha256sum)"
check "the source is unchanged" test "$(sha256sum <src.img)" = "$src_sha"
done_testing
