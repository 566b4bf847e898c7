#!/bin/sh
# mkinitrd.sh OUT.cpio.zst: the smoke-test initramfs -- a static /init that
# prints MIGRATOR-READY and powers off (init.c), plus efivarfs.ko from the
# host's Debian kernel when there is one (Debian builds efivarfs as a module).
#
#   CC=gcc KMOD=/lib/modules/<version>/kernel/fs/efivarfs/efivarfs.ko mkinitrd.sh OUT
set -eu
export LC_ALL=C
out=$1
here=$(cd "$(dirname "$0")" && pwd)
: "${SOURCE_DATE_EPOCH:=315532800}"
if [ -z "${KMOD+x}" ]; then
	KMOD=$(ls -1v /lib/modules/*/kernel/fs/efivarfs/efivarfs.ko 2>/dev/null | tail -n 1)
fi

root=$(mktemp -d "$(dirname "$out")/.initrd.XXXXXX")
trap 'rm -rf "$root" "$out.tmp"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$root"
mkdir -p "$root/dev" "$root/proc" "$root/sys"
${CC:-gcc} -static -Os -s -Wall -Wextra -o "$root/init" "$here/init.c"
[ -z "$KMOD" ] || cp "$KMOD" "$root/efivarfs.ko"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) |
	zstd -q -19 -o "$out.tmp" -f
mv "$out.tmp" "$out"
