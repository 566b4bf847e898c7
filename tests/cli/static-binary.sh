#!/bin/bash
# The shipped binary: static, runs in an empty chroot, and says exactly what
# the host (glibc, ASan) build says about the same disk image.
. "$(dirname "$0")/lib.sh"
: "${MIGRATOR_STATIC:?set MIGRATOR_STATIC to build/musl/migrator}"
cd "$SCRATCH" || exit 1

check "static binary exists" test -x "$MIGRATOR_STATIC"
check "file(1) says statically linked" grep -q "statically linked" <<<"$(file -L "$MIGRATOR_STATIC")"

truncate -s 64M disk.img
printf 'label: gpt\nsize=1M, type=21686148-6449-6E6F-744E-656564454649\nsize=16M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n' |
	sfdisk -q disk.img
mkfs_file fs.vfat 16M vfat -n ESP && put_fs disk.img 2 fs.vfat
mkfs_file fs.ext4 40M ext4 -L root && put_fs disk.img 3 fs.ext4

mkdir -p root
cp "$MIGRATOR_STATIC" root/migrator
cp disk.img root/disk.img
chroot root /migrator inventory --json /disk.img >static.json 2>static.err
check "runs in an empty chroot (exit 0)" test $? -eq 0
json_ok() { jq -e . "$1" >/dev/null; }
check "its JSON parses" json_ok static.json
# same path in both runs: compare whole documents
"$MIGRATOR" inventory --json "$SCRATCH/root/disk.img" | sed 's#'"$SCRATCH"'/root##g' >host.json
check "static (musl) and host (glibc) builds agree on every field" diff -u host.json static.json
chroot root /migrator --version >ver.txt 2>&1
check "--version in the chroot" grep -q '^migrator ' ver.txt
chroot root /migrator inventory /nonexistent >err.txt 2>&1
check "error message in the chroot" grep -q "nonexistent: No such file or directory" err.txt
size=$(stat -c %s "$MIGRATOR_STATIC")
diag "static migrator: $size bytes (stripped)"
done_testing
