# Shared by mkiso.sh and mkdisk.sh (sourced; POSIX sh plus `local`): GRUB
# images, FAT images, fixed identifiers, templating. Nothing here touches a
# block device: every image is a regular file, filled with mtools and dd.

# shellcheck shell=sh disable=SC3043,SC2034 # `local`; variables used by the sourcing scripts
set -eu
export LC_ALL=C TZ=UTC

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)

GRUB_PC_DIR=${GRUB_PC_DIR:-/usr/lib/grub/i386-pc}
GRUB_EFI_DIR=${GRUB_EFI_DIR:-/usr/lib/grub/x86_64-efi}
# Secure Boot chain, all signed by Microsoft (shim) or Debian (GRUB, kernel).
SHIM_EFI=${SHIM_EFI:-/usr/lib/shim/shimx64.efi.signed}
MOKMANAGER_EFI=${MOKMANAGER_EFI:-/usr/lib/shim/mmx64.efi.signed}
GRUB_SIGNED_EFI=${GRUB_SIGNED_EFI:-/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}

# GRUB modules built into our own images; nothing is loaded from the medium.
# normal: menu and script; linux: the loader (initrd too); search: checks
# the boot device by UUID, finds the medium when the firmware does not say;
# serial+terminal: the serial console; test+echo: grub.cfg; regexp+smbios:
# the SMBIOS command-line override; part_*: name the ESP GRUB came from;
# biosdisk / efi_gop: disks under BIOS, the framebuffer the kernel inherits
# under UEFI (no screen output from the kernel without it).
GRUB_MODULES_COMMON="normal linux search serial terminal test echo regexp smbios part_gpt part_msdos"
GRUB_MODULES_PC="biosdisk"
GRUB_MODULES_EFI="efi_gop"

# Reproducible builds: every date, id and GUID derives from this.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$IMAGE_DIR" log -1 --format=%ct 2>/dev/null || true)
fi
# FAT cannot store dates before 1980.
[ "${SOURCE_DATE_EPOCH:-0}" -ge 315532800 ] || SOURCE_DATE_EPOCH=315532800
export SOURCE_DATE_EPOCH

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

need() {
	for f in "$@"; do
		[ -r "$f" ] || die "cannot read $f"
	done
}

# hexid NAME: 32 hex digits, a stable function of the build date and NAME.
hexid() {
	printf 'migrator:%s:%s' "$SOURCE_DATE_EPOCH" "$1" | sha256sum | cut -c1-32
}

# guid NAME: an RFC 4122 (version 4 layout) GUID derived from hexid NAME.
guid() {
	local h v
	h=$(hexid "$1")
	v=$(printf '%x' $(( (0x$(echo "$h" | cut -c17) & 3) | 8 )))
	echo "$(echo "$h" | cut -c1-8)-$(echo "$h" | cut -c9-12)-4$(echo "$h" | cut -c14-16)-$v$(echo "$h" | cut -c18-20)-$(echo "$h" | cut -c21-32)"
}

# tree_kib DIR: total size of the files under DIR in KiB, each rounded up
# to a 4 KiB cluster.
tree_kib() {
	find "$1" -type f -exec stat -c %s {} + |
		awk '{ t += 4 * int(($1 + 4095) / 4096) } END { print t + 0 }'
}

# subst IN OUT VAR=VALUE...: copy IN to OUT replacing @VAR@ with VALUE.
subst() {
	local in="$1" out="$2" kv k v
	shift 2
	cp "$in" "$out.sub"
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		v=$(printf '%s' "$v" | sed 's/[\\&|]/\\&/g')
		sed -i "s|@$k@|$v|g" "$out.sub"
	done
	! grep -n '@[A-Z_]*@' "$out.sub" >&2 || die "$in: unreplaced placeholder"
	mv "$out.sub" "$out"
}

# early_cfg OUT VAR=VALUE...: grub/early.cfg, templated, without comments:
# GRUB runs an embedded config before normal mode's parser is there, and
# that one knows no comments.
early_cfg() {
	local out="$1"
	shift
	subst "$IMAGE_DIR/grub/early.cfg" "$out.in" "$@"
	grep -v '^[[:space:]]*#' "$out.in" >"$out"
	rm -f "$out.in"
}

# grub_image FORMAT PREFIX EARLY_CFG OUT MODULES...
grub_image() {
	local fmt="$1" prefix="$2" cfg="$3" out="$4" dir
	shift 4
	case $fmt in
	i386-pc*) dir=$GRUB_PC_DIR ;;
	*) dir=$GRUB_EFI_DIR ;;
	esac
	grub-mkimage -O "$fmt" -d "$dir" -p "$prefix" -c "$cfg" -o "$out" "$@"
}

# fat_image IMG SIZE_KIB LABEL VOLID SRC_DIR [MKFS_OPTION...]
# A FAT file system holding SRC_DIR's tree, files and directories in sorted
# order, all dated SOURCE_DATE_EPOCH (mtools honours it; mkfs --invariant
# fixes the rest), so the same inputs give the same bytes.
fat_image() {
	local img="$1" size="$2" label="$3" volid="$4" src="$5" p
	shift 5
	rm -f "$img"
	mkfs.vfat --invariant -i "$volid" -n "$label" "$@" -C "$img" "$size" >/dev/null
	(cd "$src" && find . -mindepth 1 | sort) | while read -r p; do
		p=${p#./}
		if [ -d "$src/$p" ]; then
			mmd -i "$img" "::/$p"
		else
			mcopy -m -i "$img" "$src/$p" "::/$p"
		fi
	done
}

# put_le FILE OFFSET NBYTES VALUE: store VALUE little-endian at OFFSET.
put_le() {
	local s='' i=0
	while [ "$i" -lt "$3" ]; do
		s="$s$(printf '\\%03o' $(( ($4 >> (8 * i)) & 255 )))"
		i=$((i + 1))
	done
	# shellcheck disable=SC2059 # $s is the escapes built above
	printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# date_tree DIR: every file and directory dated SOURCE_DATE_EPOCH.
date_tree() {
	find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# parse_media_args EXT "$@": the options mkiso.sh and mkdisk.sh share, into
# sb, kernel, initrd, out, conf, version; checks the inputs exist.
parse_media_args() {
	local ext=$1 opt
	shift
	sb=0 kernel='' initrd='' out='' conf=$IMAGE_DIR/migrator.conf.sample version=unknown
	OPTIND=1
	while getopts sk:i:o:c:V: opt; do
		case $opt in
		s) sb=1 ;;
		k) kernel=$OPTARG ;;
		i) initrd=$OPTARG ;;
		o) out=$OPTARG ;;
		c) conf=$OPTARG ;;
		V) version=$OPTARG ;;
		*) kernel='' ;;
		esac
	done
	if [ -z "$kernel" ] || [ -z "$initrd" ] || [ -z "$out" ]; then
		echo "usage: ${0##*/} [-s] -k KERNEL -i INITRAMFS -o OUT.$ext [-c CONF] [-V VERSION]" >&2
		exit 2
	fi
	need "$kernel" "$initrd" "$conf"
}

# stage_boot_tree DIR: what every medium's data filesystem carries (the
# kernel, the initramfs, the menu, the sample migrator.conf), from the
# variables parse_media_args set.
stage_boot_tree() {
	mkdir -p "$1/boot/grub"
	cp "$kernel" "$1/boot/vmlinuz"
	cp "$initrd" "$1/boot/initramfs.cpio.zst"
	cp "$conf" "$1/migrator.conf.sample"   # inactive until copied to migrator.conf
	subst "$IMAGE_DIR/grub/grub.cfg" "$1/boot/grub/grub.cfg" VERSION="$version"
}
