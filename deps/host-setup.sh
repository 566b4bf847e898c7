#!/bin/sh
# Installs the Debian packages the build and the tests need, and the deb-src
# entry `apt-get source` needs. A quick no-op when everything is present.
#
#   deps/host-setup.sh [GROUP ...]     groups: build test qemu media kernel (default: all)
#
# Runs as root on Debian 12. Never touches the host's boot loader: only the
# *-bin GRUB packages are installed, never grub-pc / grub-efi-amd64.
set -eu

pkgs_build="build-essential musl-tools dpkg-dev pkg-config autoconf automake libtool
 autopoint gettext m4 bison flex gawk python3 cpio zstd xz-utils file ca-certificates
 libblkid-dev libfdisk-dev uuid-dev libarchive-dev libzstd-dev liblzma-dev zlib1g-dev
 libgnutls28-dev libmicrohttpd-dev libcurl4-gnutls-dev"
pkgs_test="clang-14 libclang-rt-14-dev fdisk gdisk e2fsprogs xfsprogs dosfstools btrfs-progs cryptsetup-bin lvm2 mdadm
 jq util-linux kmod socat netcat-openbsd xorriso mtools grub-pc-bin grub-efi-amd64-bin
 grub-efi-amd64-signed shim-signed cpio zstd busybox-static
 openssl debootstrap curl bc time libarchive-tools acl attr libcap2-bin fusefat"
pkgs_kernel="linux-source-6.1 bc libelf-dev libssl-dev dwarves rsync"
pkgs_qemu="qemu-system-x86 qemu-utils ovmf seabios"
pkgs_media="grub-pc-bin grub-efi-amd64-bin grub-efi-amd64-signed shim-signed grub-common
 xorriso mtools linux-image-amd64 debootstrap"

groups=${*:-"build test kernel qemu media"}
want=""
for g in $groups; do
	eval "want=\"\$want \$pkgs_$g\""
done

if [ "$(id -u)" != 0 ]; then
	echo "host-setup: must run as root (installs Debian packages)" >&2
	exit 1
fi

# deb-src entry for `apt-get source`: same archive and suites as the deb entries.
need_update=0
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat > /etc/apt/sources.list.d/migrator-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
# apt-get source needs a Sources index too
[ -n "$(ls /var/lib/apt/lists/*_Sources 2>/dev/null)" ] || need_update=1

[ -z "$missing" ] && [ "$need_update" = 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive
# Keep services from starting inside containers (mdadm, lvm2 ship some).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
if [ -n "$missing" ]; then
	echo "host-setup: installing$missing"
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
