#!/bin/bash
# The file-level copy's archive (migrator archive, lib/fsarchive): a tree on
# a real ext4 filesystem with every kind of file and attribute goes through
# `archive --create | archive --extract` onto a second ext4 filesystem; the
# two trees' mtree manifests (bsdtar, field by field, with SHA-256 of the
# contents), extended attributes (getfattr) and ACLs (getfacl) must be equal.
# Then hostile archives (../, absolute names, a symlink then a file through
# it) are refused with nothing written outside the target.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
command -v bsdtar >/dev/null && command -v setfacl >/dev/null && command -v getfattr >/dev/null || {
	echo "1..0 # SKIP needs bsdtar (libarchive-tools), setfacl (acl), getfattr (attr)"; exit 0; }

mounts=()
cleanup() {
	for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT
mkfs_mount() { # IMG DIR
	truncate -s 256M "$1" && mkfs.ext4 -q -F "$1" && mkdir -p "$2" && mount -o loop "$1" "$2" && mounts+=("$2")
}
mkfs_mount src.img src || { echo "Bail out! cannot make and mount an ext4 image"; exit 1; }
mkfs_mount dst.img dst || { echo "Bail out! cannot make and mount an ext4 image"; exit 1; }

# --- the source tree ------------------------------------------------------
(
	set -e
	cd src
	mkdir -p dir/sub empty etc
	printf 'hello\n' >dir/file
	head -c 300000 /dev/urandom >dir/random
	# hard links: three names, one inode
	printf 'linked\n' >dir/hl1 && ln dir/hl1 dir/sub/hl2 && ln dir/hl1 hl3
	# sparse: 64 MiB with two islands of data
	truncate -s 64M sparse && printf 'island1' | dd of=sparse bs=1 seek=$((8 << 20)) conv=notrunc status=none
	printf 'island2' | dd of=sparse bs=1 seek=$((40 << 20)) conv=notrunc status=none
	# a 255-byte name and a path of over 4000 bytes
	long=$(printf 'n%.0s' {1..255}); printf 'long\n' >"$long"
	seg=$(printf 'd%.0s' {1..200}); p=deep
	for i in $(seq 1 20); do p="$p/$seg$i"; done
	mkdir -p "$p" && printf 'deep\n' >"$p/leaf"
	echo "$p/leaf" >../deep-path
	# names that are not UTF-8
	printf 'latin1\n' >"$(printf 'caf\xe9')" && mkdir "$(printf 'dir-\xff\xfe')"
	printf 'x\n' >"$(printf 'dir-\xff\xfe')/$(printf '\x01ctl\x7f')"
	# owners, modes, nanosecond times, suid, sticky
	printf 'own\n' >owned && chown 1234:5678 owned && chmod 0640 owned
	printf '#!/bin/sh\n' >suid && chmod 4755 suid
	chmod 1777 empty && chmod 2750 dir/sub && chgrp 5678 dir/sub
	touch -h -d '2001-02-03 04:05:06.123456789' owned
	# extended attributes: user (text and binary), trusted, SELinux, a capability
	setfattr -n user.comment -v 'a comment' dir/file
	setfattr -n user.bin -v 0x00ff10 dir/file
	setfattr -n trusted.note -v t dir/random
	setfattr -n security.selinux -v 'system_u:object_r:bin_t:s0' suid
	setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' etc
	printf 'ping\n' >ping && chmod 0755 ping && setcap cap_net_raw+ep ping
	# POSIX ACLs: on a file, on a dir (access + default); the file made
	# before the default ACL must not inherit it on the target either
	setfacl -m u:1234:rwx,g:5678:r,m:rwx dir/file
	printf 'pre\n' >dir/sub/pre
	setfacl -m u:1001:rx dir/sub && setfacl -d -m u:1001:rwx,g::r-x dir/sub
	# device nodes, a FIFO, a socket (skipped), symlinks (a loop, dangling, absolute)
	mknod null c 1 3 && mknod loopdev b 7 200 && chmod 0600 loopdev
	mkfifo fifo
	python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'
	ln -s loop2 loop1 && ln -s loop1 loop2 && ln -s nowhere dangling && ln -s /etc/passwd abs
	touch -h -d '1999-12-31 23:59:59.5' loop1
	# an inode flag (nodump)
	printf 'nodump\n' >nodump && chattr +d nodump
	touch -d '2010-01-01 00:00:00.000000001' dir
) || { echo "Bail out! cannot build the source tree"; exit 1; }
check "the source tree holds a socket" test -S src/sock

run() { "$@" >out.txt 2>err.txt; }
clean_log() { not grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' err.txt; }

"$MIGRATOR" archive --create src --json >a.pax 2>err.txt
check "archive --create: exit 0" test $? -eq 0 || diag "$(cat err.txt)"
check "no sanitizer report (create)" clean_log
check "the socket is counted as skipped" grep -q '"sockets_skipped":1' err.txt
check "the archive is pax (bsdtar lists it)" bsdtar -tf a.pax >/dev/null
check "sparse file: its holes are not in the archive" test "$(stat -c %s a.pax)" -lt $((8 << 20))
"$MIGRATOR" archive --extract dst --json <a.pax 2>err.txt
check "archive --extract: exit 0" test $? -eq 0 || diag "$(cat err.txt)"
check "no sanitizer report (extract)" clean_log

mtree() { # DIR: the manifest, sorted, without the socket
	(cd "$1" && bsdtar --format=mtree \
		--options='!all,type,mode,uid,gid,size,time,link,nlink,device,flags,sha256' -cf - .) |
		grep -av ' type=socket' | LC_ALL=C sort
}
# "FILE\tATTR=VALUE" lines of a getfattr/getfacl dump, sorted
blocks() { LC_ALL=C awk '/^# file: /{f=substr($0,9);next} /^$/{next} {print f "\t" $0}' | LC_ALL=C sort; }
xattrs() { (cd "$1" && getfattr -R -h -d -m - -e hex . 2>/dev/null) | blocks; }
acls() { # (the socket is not carried: left out)
	(cd "$1" && getfacl -R -P . 2>/dev/null) | grep -av '^# owner\|^# group\|^# flags' | blocks |
		grep -av "^sock$(printf '\t')"
}

mtree src >src.mtree; mtree dst >dst.mtree
check "mtree manifests are equal, field by field" diff -u src.mtree dst.mtree
diff -u src.mtree dst.mtree | head -20 | while read -r l; do diag "$l"; done
check "the manifest covers every file (>= 30 lines)" test "$(wc -l <src.mtree)" -ge 30
xattrs src >src.xattr; xattrs dst >dst.xattr
check "extended attributes are equal (getfattr -d -m -)" diff -u src.xattr dst.xattr
diff -u src.xattr dst.xattr | head -20 | while read -r l; do diag "$l"; done
check "... and include the SELinux label and the capability" \
	test "$(grep -c 'security.selinux\|security.capability' dst.xattr)" -eq 3
acls src >src.acl; acls dst >dst.acl
check "ACLs are equal (getfacl -R)" diff -u src.acl dst.acl
diff -u src.acl dst.acl | head -20 | while read -r l; do diag "$l"; done
check "... including a default ACL" grep -q 'default:user:1001:rwx' dst.acl
check "the file made before the default ACL has none on the target" \
	test -z "$(getfacl -s dst/dir/sub/pre 2>/dev/null)"
check "the sparse file stays sparse" test "$(du -k dst/sparse | cut -f1)" -lt 1024
check "the capability works as one (getcap)" grep -q 'cap_net_raw[=+]ep' <(getcap dst/ping)
check "the socket is not on the target" test ! -e dst/sock
check "the 4000-byte path is there" test "$(cat "dst/$(cat deep-path)")" = deep
check "hard links share one inode" test -n "$(stat -c %i dst/dir/hl1)" -a "$(stat -c %i dst/dir/hl1)" = "$(stat -c %i dst/hl3)"
check "the nodump flag is kept (lsattr)" grep -q d <(lsattr -d dst/nodump 2>/dev/null | cut -d' ' -f1)

# --- hostile archives -----------------------------------------------------
mkdir outside
hostile() { # NAME: an archive with the entries the python below makes for NAME
	python3 - "$1" "$SCRATCH/outside" >"h-$1.tar" <<'PY'
import io, sys, tarfile
kind, outside = sys.argv[1], sys.argv[2]
t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|', format=tarfile.PAX_FORMAT)
def reg(name, data=b'pwned\n'):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
def sym(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
reg('ok-first')
if kind == 'dotdot':
    reg('../outside/dotdot')
elif kind == 'abs':
    reg(outside + '/abs')
elif kind == 'symlink':
    sym('evil', outside)
    reg('evil/through')
elif kind == 'hardlink':
    i = tarfile.TarInfo('hl'); i.type = tarfile.LNKTYPE; i.linkname = '../outside/x'; t.addfile(i)
t.close()
PY
}
for k in dotdot abs symlink hardlink; do
	hostile "$k"
	rm -rf "h-$k" && mkdir "h-$k"
	"$MIGRATOR" archive --extract "h-$k" <"h-$k.tar" 2>err.txt
	rc=$?
	check "hostile archive ($k): refused (exit 1)" test $rc -eq 1
	check "hostile archive ($k): the reason names the entry" grep -q 'refused entry' err.txt ||
		diag "$(cat err.txt)"
	check "hostile archive ($k): nothing outside the target" test -z "$(ls -A outside)"
done
check "a stream that is not an archive is refused" not "$MIGRATOR" archive --extract h-abs 2>/dev/null < <(head -c 4096 /dev/urandom)
check "usage: --create and --extract together" test "$("$MIGRATOR" archive -c a -x b >/dev/null 2>&1; echo $?)" = 2

done_testing
