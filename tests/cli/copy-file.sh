#!/bin/bash
# File-level copy (send --mode=file) with re-layout, on images the test
# builds: a 2 GiB GPT disk (BIOS boot, ESP, swap, ext4 root 30% used with
# hard links, xattrs, ACLs, a capability, devices, a FIFO, a socket).
#   - onto 50% of its size: succeeds, e2fsck -fn clean, UUIDs and labels
#     kept, the root's mtree manifest, xattrs and ACLs equal to the source's;
#   - through a .mig file and receive --from --map: the same;
#   - onto a disk smaller than the used bytes: refused before any write
#     (the target's hash is unchanged) with the numbers;
#   - onto a larger disk: the root grows to fill it, fsck clean;
#   - over HTTPS, with a link cut twice (the cut partition is sent again);
#   - onto a block device; an xfs source (xfs_repair clean, same files);
#   - progress counts bytes and files; a block-mode-only reader would stop
#     at the version-2 records (unit test: test-stream).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
command -v bsdtar >/dev/null && command -v setfacl >/dev/null || {
	echo "1..0 # SKIP needs bsdtar (libarchive-tools) and setfacl (acl)"; exit 0; }
mounts=()
loops=()
cleanup() {
	for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

# --- the source disk --------------------------------------------------------
truncate -s 2G src.img
sfdisk -q src.img <<'EOF' || { echo "Bail out! sfdisk"; exit 1; }
label: gpt
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649
size=32MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=EFI
size=32MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root
EOF
start_of() { sfdisk --json "$1" | jq ".partitiontable.partitions[$(($2 - 1))].start"; }
size_of() { sfdisk --json "$1" | jq ".partitiontable.partitions[$(($2 - 1))].size"; }
truncate -s 32M esp.fs && mkfs.vfat -n ESP esp.fs >/dev/null && mmd -i esp.fs ::/EFI && printf 'grub' | mcopy -i esp.fs - ::/EFI/grubx64.efi
truncate -s 32M swap.fs && mkswap -q -L swp swap.fs
truncate -s $(( $(size_of src.img 4) * 512 )) root.fs && mkfs.ext4 -q -L root root.fs
mkdir -p m && mount -o loop root.fs m && mounts+=("$PWD/m") || { echo "Bail out! mount"; exit 1; }
(
	set -e
	cd m
	mkdir -p etc usr/bin var/log home/u dev
	printf 'host\n' >etc/hostname && ln etc/hostname etc/hostname.hl
	setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' etc/hostname
	printf 'ping' >usr/bin/ping && chmod 4755 usr/bin/ping && setcap cap_net_raw+ep usr/bin/ping
	setfacl -m u:1000:rwx home/u && setfacl -d -m u:1000:rwx home/u && chown 1000:1000 home/u
	mknod dev/null c 1 3 && mkfifo var/log/fifo
	python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("var/log/sock")'
	truncate -s 1G var/sparse && printf 'x' | dd of=var/sparse bs=1 seek=$((512 << 20)) conv=notrunc status=none
	head -c 64M /dev/urandom >usr/random
	# most of the 30%: zeros (cheap to send), real blocks in use
	for i in 1 2 3 4 5; do head -c 100M /dev/zero >usr/zero$i; done
	touch -d '2001-02-03 04:05:06.123456789' etc/hostname
)
sync
used_src=$(df -B1 --output=used m | tail -1)
mtree() {
	(cd "$1" && bsdtar --format=mtree \
		--options='!all,type,mode,uid,gid,size,time,link,nlink,device,flags,sha256' -cf - .) |
		grep -av ' type=socket' | LC_ALL=C sort
}
xa() { (cd "$1" && getfattr -R -h -d -m - -e hex . 2>/dev/null) |
	LC_ALL=C awk '/^# file: /{f=substr($0,9);next} /^$/{next} {print f "\t" $0}' | LC_ALL=C sort; }
mtree m >src.mtree; xa m >src.xattr
umount m && mounts=()
dd if=esp.fs of=src.img bs=512 seek="$(start_of src.img 2)" conv=notrunc,sparse status=none
dd if=swap.fs of=src.img bs=512 seek="$(start_of src.img 3)" conv=notrunc,sparse status=none
dd if=root.fs of=src.img bs=512 seek="$(start_of src.img 4)" conv=notrunc,sparse status=none
rm -f root.fs
src_sha=$(sha256sum <src.img)
check "the source is about 30% used" test "$used_src" -gt $((550 << 20)) -a "$used_src" -lt $((700 << 20)) ||
	diag "used: $used_src"

# TARGET PARTNO: mounts the partition read-only at t/, or fails
mount_part() {
	local l; l=$(losetup -f --show -r -o $(( $(start_of "$1" "$2") * 512 )) \
		--sizelimit $(( $(size_of "$1" "$2") * 512 )) "$1") || return 1
	loops+=("$l")
	mkdir -p t && mount -o ro "$l" t && mounts+=("$PWD/t")
}
umount_part() { umount t; mounts=(); losetup -d "${loops[-1]}"; unset 'loops[-1]'; }
fsck_part() { # IMG PARTNO: e2fsck -fn on the partition
	local l rc; l=$(losetup -f --show -r -o $(( $(start_of "$1" "$2") * 512 )) \
		--sizelimit $(( $(size_of "$1" "$2") * 512 )) "$1") || return 1
	e2fsck -fn "$l" >fsck.txt 2>&1; rc=$?
	losetup -d "$l"
	return $rc
}
same_files() { # IMG: the root's manifest and attributes equal the source's
	mount_part "$1" 4 || return 1
	mtree t >dst.mtree; xa t >dst.xattr
	umount_part
	diff -u src.mtree dst.mtree >mtree.diff && diff -u src.xattr dst.xattr >xattr.diff
}
run() { "$MIGRATOR" "$@" >out.txt 2>err.txt; }

# --- smaller: 50% of the source -------------------------------------------
truncate -s 1G half.img
run send --mode=file --dry-run --to "file://$SCRATCH/half.img" src.img
check "--dry-run prints a plan (JSON) and exits 0" eval "jq -e '.plans[0].partitions | length == 4' out.txt >/dev/null" ||
	diag "$(cat err.txt)"
check "--dry-run writes nothing" test "$(sfdisk -d half.img 2>/dev/null | wc -l)" -eq 0
run send --mode=file --to "file://$SCRATCH/half.img" src.img
rc=$?
check "send --mode=file onto half the size: exit 0" test $rc -eq 0 || diag "$(tail -3 err.txt)"
check "the source is unchanged" test "$(sha256sum <src.img)" = "$src_sha"
check "progress JSON lines count files" grep -q '"files":[1-9]' err.txt
check "the summary names entries and files" grep -q 'file-level copy in .* entries, .* files' err.txt
check "the skipped socket is counted" grep -q '1 sockets skipped' err.txt
check "same PTUUID" test "$(blkid -p -o value -s PTUUID src.img)" = "$(blkid -p -o value -s PTUUID half.img)"
check "same PARTUUID of the root" test "$(sfdisk --part-uuid src.img 4)" = "$(sfdisk --part-uuid half.img 4)"
check "the root shrank" test "$(size_of half.img 4)" -lt "$(size_of src.img 4)"
check "e2fsck -fn on the target root is clean" fsck_part half.img 4 || diag "$(tail -5 fsck.txt)"
check "root UUID and label kept" test "$(blkid -p -o value -s UUID -O $(( $(start_of half.img 4) * 512 )) half.img)" = \
	"$(blkid -p -o value -s UUID -O $(( $(start_of src.img 4) * 512 )) src.img)"
check "swap recreated with its UUID and label" test "$(blkid -p -o value -s LABEL -O $(( $(start_of half.img 3) * 512 )) half.img)" = swp
check "the ESP is a byte copy" cmp <(dd if=src.img bs=512 skip="$(start_of src.img 2)" count=65536 status=none) \
	<(dd if=half.img bs=512 skip="$(start_of half.img 2)" count=65536 status=none)
check "mtree manifest and xattrs of the root equal the source's" same_files half.img ||
	diag "$(head -5 mtree.diff xattr.diff 2>/dev/null)"

# --- through a .mig file ----------------------------------------------------
run send --mode=file -q --to "file://$SCRATCH/f.mig" src.img
check "send --mode=file to a .mig file: exit 0" test $? -eq 0 || diag "$(tail -2 err.txt)"
check "the .mig is version 2 from its first record" test "$(od -An -tu1 -j5 -N1 f.mig | tr -d ' ')" = 2
truncate -s 1G fromfile.img
run receive -q --from f.mig --map "0=$SCRATCH/fromfile.img"
check "receive --from the .mig: exit 0" test $? -eq 0 || diag "$(tail -2 err.txt)"
check "its root: fsck clean, the same files" eval 'fsck_part fromfile.img 4 && same_files fromfile.img'

# --- disk to disk: a block device as the target ---------------------------------
truncate -s 1G dev.img
dev=$(losetup -f --show dev.img) && loops+=("$dev")
run send --mode=file -q --to "$dev" src.img
check "send --mode=file --to a block device: exit 0" test $? -eq 0 || diag "$(tail -2 err.txt)"
losetup -d "$dev"; unset 'loops[-1]'
check "its root: fsck clean, the same files" eval 'fsck_part dev.img 4 && same_files dev.img'

# --- too small: below the used bytes -----------------------------------------
truncate -s 512M small.img
small_sha=$(sha256sum <small.img)
run send --mode=file --to "file://$SCRATCH/small.img" src.img
check "a target below the used bytes: refused (exit 1)" test $? -eq 1
check "... with the numbers" grep -q 'too small.*needs.*bytes.*the target has' err.txt || diag "$(cat err.txt)"
check "... before any write (the target's hash is unchanged)" test "$(sha256sum <small.img)" = "$small_sha"

# --- larger: the root grows --------------------------------------------------
truncate -s 3G big.img
run send --mode=file -q --to "file://$SCRATCH/big.img" src.img
check "send --mode=file onto a larger disk: exit 0" test $? -eq 0 || diag "$(tail -2 err.txt)"
end=$(( $(start_of big.img 4) + $(size_of big.img 4) ))
check "the root grew to the disk's end" test $(( (3 << 30) / 512 - end )) -lt 4096
check "its filesystem fills it and e2fsck -fn is clean" fsck_part big.img 4 || diag "$(tail -5 fsck.txt)"
check "its files are the source's" same_files big.img

# --- over HTTPS (the same stream) ----------------------------------------------
echo "test-token-0123456789" >tok
mkdir -p state
receiver() { # ARGS...: `migrator receive --listen` on an ephemeral port; sets PORT PIN
	rm -f info.json
	"$MIGRATOR" receive --listen 127.0.0.1:0 --info-file info.json --state-dir "$SCRATCH/state" \
		--token-file tok "$@" >rx.out 2>rx.err &
	RX_PID=$!
	for _ in $(seq 100); do [ -s info.json ] && break; kill -0 $RX_PID 2>/dev/null || break; sleep 0.1; done
	PORT=$(jq -r .port info.json 2>/dev/null) PIN=$(jq -r .pin info.json 2>/dev/null)
}
receiver_status() {
	for _ in $(seq 600); do kill -0 $RX_PID 2>/dev/null || break; sleep 0.1; done
	kill $RX_PID 2>/dev/null
	wait $RX_PID
}
truncate -s 1G tls.img
receiver --map "0=$SCRATCH/tls.img"
timeout 300 "$MIGRATOR" send --mode=file -q --retries 2 --to "https://127.0.0.1:$PORT" --pin "$PIN" \
	--token-file tok src.img >tx.out 2>&1
check "send --mode=file over HTTPS: exit 0" test $? -eq 0 || diag "$(tail -3 tx.out)"
receiver_status
check "the receiver: exit 0, the file-level digests match" eval 'test $? -eq 0 && grep -q "file-level: .* files); every archive" rx.err' ||
	diag "$(tail -3 rx.err)"
check "the receiver's progress counts files" grep -q '"files":[1-9]' rx.err
check "its root: fsck clean, the same files" eval 'fsck_part tls.img 4 && same_files tls.img'
truncate -s 512M tls-small.img
tls_small_sha=$(sha256sum <tls-small.img)
receiver --map "0=$SCRATCH/tls-small.img"
timeout 120 "$MIGRATOR" send --mode=file -q --retries 2 --to "https://127.0.0.1:$PORT" --pin "$PIN" \
	--token-file tok src.img >tx.out 2>&1
check "over HTTPS, a target below the used bytes: the sender fails" test $? -eq 1
check "... with the receiver's numbers" grep -q 'too small.*needs' tx.out || diag "$(tail -2 tx.out)"
kill $RX_PID 2>/dev/null; wait $RX_PID 2>/dev/null
check "... and the target is untouched" test "$(sha256sum <tls-small.img)" = "$tls_small_sha"

# a link cut twice while the root's archive flows: the partitions already
# complete stay, the root's archive is sent again from its beginning and
# extracted over what the cut attempt left
truncate -s 1G cut.img
receiver --map "0=$SCRATCH/cut.img"
rm -f proxy.port
python3 "$TESTS_DIR/fixtures/cutproxy.py" proxy.port "$PORT" cut 20000000 2 2>proxy.log &
PROXY_PID=$!
for _ in $(seq 50); do [ -s proxy.port ] && break; sleep 0.1; done
timeout 300 "$MIGRATOR" send --mode=file -q --retries 4 --to "https://127.0.0.1:$(cat proxy.port)" --pin "$PIN" \
	--token-file tok src.img >tx.out 2>&1
check "link cut twice: send --mode=file exit 0" test $? -eq 0 || diag "$(tail -3 tx.out)"
receiver_status
check "link cut: the receiver exit 0" test $? -eq 0 || diag "$(tail -3 rx.err)"
kill $PROXY_PID 2>/dev/null; wait $PROXY_PID 2>/dev/null
check "link cut: the proxy cut 2 connections" test "$(grep -c 'cut at' proxy.log)" -eq 2
check "link cut: the sender resumed after the complete partitions" grep -q "partitions complete; resuming with the next" tx.out
check "link cut: the root is fsck clean and holds the same files" eval 'fsck_part cut.img 4 && same_files cut.img' ||
	diag "$(head -5 mtree.diff xattr.diff 2>/dev/null)"

# --- xfs: recreated (mkfs.xfs -m uuid=) and filled the same way ----------------
if command -v mkfs.xfs >/dev/null && command -v xfs_repair >/dev/null; then
	truncate -s 600M xsrc.img
	printf 'label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' |
		sfdisk -q xsrc.img
	truncate -s $(( $(size_of xsrc.img 2) * 512 )) xfs.fs && mkfs.xfs -q -L data xfs.fs
	mkdir -p xm && mount -o loop xfs.fs xm && mounts+=("$PWD/xm")
	mkdir xm/d && printf 'hi\n' >xm/d/f && ln xm/d/f xm/h && setfattr -n user.x -v 1 xm/d/f &&
		setfacl -m u:7:r xm/d/f && head -c 8M /dev/urandom >xm/r && mknod xm/null c 1 3
	mtree xm >xsrc.mtree; xa xm >xsrc.xattr
	umount xm; mounts=()
	dd if=xfs.fs of=xsrc.img bs=512 seek="$(start_of xsrc.img 2)" conv=notrunc,sparse status=none; rm -f xfs.fs
	truncate -s 1G xdst.img
	run send --mode=file -q --to "file://$SCRATCH/xdst.img" xsrc.img
	check "xfs: send --mode=file onto a larger disk: exit 0" test $? -eq 0 || diag "$(tail -2 err.txt)"
	xl=$(losetup -f --show -r -o $(( $(start_of xdst.img 2) * 512 )) --sizelimit $(( $(size_of xdst.img 2) * 512 )) xdst.img)
	loops+=("$xl")
	check "xfs: xfs_repair -n is clean" eval "xfs_repair -n $xl >/dev/null 2>&1"
	check "xfs: UUID and label kept" test "$(blkid -p -o value -s UUID "$xl")" = \
		"$(blkid -p -o value -s UUID -O $(( $(start_of xsrc.img 2) * 512 )) xsrc.img)" -a "$(blkid -p -o value -s LABEL "$xl")" = data
	mkdir -p xt && mount -o ro "$xl" xt && mounts+=("$PWD/xt")
	mtree xt >xdst.mtree; xa xt >xdst.xattr
	umount xt; mounts=(); losetup -d "$xl"; unset 'loops[-1]'
	check "xfs: mtree manifest equal" diff -u xsrc.mtree xdst.mtree
	# XFS shows ACLs twice (system.posix_acl_* and trusted.SGI_ACL_*): compare the POSIX view
	check "xfs: xattrs and the ACL equal" diff <(grep -v SGI_ACL xsrc.xattr) <(grep -v SGI_ACL xdst.xattr)
else
	echo "ok $((TAP_N + 1)) # SKIP no xfsprogs"; TAP_N=$((TAP_N + 1))
fi

# --- misuse -------------------------------------------------------------------
check "--dry-run without --mode=file is a usage error" \
	test "$("$MIGRATOR" send --dry-run --to file:///x.img src.img >/dev/null 2>&1; echo $?)" = 2
check "--used-only with --mode=file is a usage error" \
	test "$("$MIGRATOR" send --mode=file --used-only --to file:///x.img src.img >/dev/null 2>&1; echo $?)" = 2
check "no sanitizer report" not grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' err.txt out.txt rx.err tx.out

done_testing
