#!/bin/sh
# Builds the rescue kernel (custom flavour, no modules) from Debian's
# linux-source-6.1 and caches the result.
#
#   kernel-config/build.sh OUTDIR [CACHE]
#
# OUTDIR receives bzImage, config and System.map; each is replaced (via a temp
# name) only when its content changed, so make's dependents are not rebuilt
# needlessly. The log of a real build is OUTDIR/build.log; on failure its tail
# is printed.
#
# CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/migrator) holds:
#   kernel-<key>/      finished builds: bzImage, config, System.map, info.
#                      <key> hashes this script, check-config.sh, the
#                      miniconfig, the linux-source package version and the
#                      gcc and binutils versions; a hit costs a few ms.
#   kernel-work/       the unpacked source tree (one, for the installed
#                      package version) and the O= object tree, kept so a
#                      changed miniconfig rebuilds incrementally. Delete it
#                      freely (about 1.5 GB).
#
# Environment: JOBS (default: nproc), KERNEL_TARBALL (default
# /usr/src/linux-source-6.1.tar.xz, from the Debian package linux-source-6.1).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: build.sh OUTDIR [CACHE]" >&2
	exit 2
fi
out=$1
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/migrator}
jobs=${JOBS:-$(nproc)}
pkg=linux-source-6.1
tarball=${KERNEL_TARBALL:-/usr/src/$pkg.tar.xz}
mini=$here/rescue.miniconfig
check=$here/check-config.sh

die() { echo "kernel: $*" >&2; exit 1; }

pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
	die "package $pkg is not installed (deps/host-setup.sh kernel)"
[ -r "$tarball" ] || die "cannot read $tarball"
ccver=$(gcc --version | head -n 1)
ldver=$(ld --version | head -n 1)
key=$({
	cat "$here/build.sh" "$check" "$mini"
	printf '%s\n' "$pkg $pkgver" "$ccver" "$ldver"
} | sha256sum | cut -c 1-16)
result=$cache/kernel-$key

# Copies $1 to $2 unless identical, via a temp name in the target directory.
install_if_changed() {
	if ! cmp -s "$1" "$2"; then
		cp "$1" "$2.tmp"
		mv -f "$2.tmp" "$2"
	fi
}

publish() {
	mkdir -p "$out"
	for f in bzImage config System.map; do
		install_if_changed "$result/$f" "$out/$f"
	done
}

if [ -f "$result/bzImage" ]; then
	publish
	exit 0
fi

mkdir -p "$cache" "$out"
# One builder at a time per cache (clones share kernel-work/).
exec 9>"$cache/kernel-work.lock"
flock 9
if [ -f "$result/bzImage" ]; then # built while we waited
	publish
	exit 0
fi

# Leftovers of interrupted builds.
rm -rf "$cache"/kernel-*.tmp.*

log=$out/build.log
: >"$log"
fail() {
	echo "kernel: $* (last lines of $log follow)" >&2
	tail -n 40 "$log" >&2
	exit 1
}
# Runs a command with its output going to the log only.
run() {
	printf '+ %s\n' "$*" >>"$log"
	"$@" >>"$log" 2>&1 || fail "failed: $*"
}

# The kernel's make must not inherit a parent make's jobserver or a
# cross/LLVM toolchain from the environment.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS CROSS_COMPILE LLVM \
	KCFLAGS KCPPFLAGS KBUILD_OUTPUT ARCH SRCARCH INSTALL_PATH 2>/dev/null || true

work=$cache/kernel-work
src=$work/$pkg-$pkgver
obj=$work/obj
mkdir -p "$work"

if [ ! -f "$src/Makefile" ]; then
	echo "kernel: unpacking $tarball ($pkg $pkgver)"
	# Trees of other package versions are stale now.
	for d in "$work/$pkg"-*; do
		[ -e "$d" ] && rm -rf "$d"
	done
	run mkdir "$src.tmp"
	run tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	run mv "$src.tmp" "$src"
fi
# The object tree is only reusable against the same source tree.
if [ "$(cat "$obj/.migrator-src" 2>/dev/null)" != "$pkg $pkgver" ]; then
	rm -rf "$obj"
	mkdir -p "$obj"
	echo "$pkg $pkgver" >"$obj/.migrator-src"
fi

kmake() {
	# Fixed build identity: the same inputs give the same bzImage.
	run make -C "$src" O="$obj" ARCH=x86_64 \
		KBUILD_BUILD_USER=migrator KBUILD_BUILD_HOST=migrator \
		KBUILD_BUILD_VERSION=1 \
		KBUILD_BUILD_TIMESTAMP="$(date -u -d "@$(stat -c %Y "$tarball")" '+%Y-%m-%d')" \
		"$@"
}

# Kconfig drops requests whose dependencies are unmet without a word, and
# the build may re-evaluate the config: check after expansion and after build.
checkcfg() {
	if ! "$check" "$mini" "$obj/.config" "$src" 2>>"$log"; then
		grep '^check-config:\|^    ' "$log" | tail -n 200 >&2
		die "$(basename "$mini") asks for symbols the kernel config does not have (see above)"
	fi
}

start=$(date +%s)
echo "kernel: configuring ($pkg $pkgver, key $key)"
kmake allnoconfig KCONFIG_ALLCONFIG="$mini"
checkcfg
echo "kernel: building bzImage with -j$jobs (log: $log)"
kmake -j"$jobs" bzImage
checkcfg
secs=$(($(date +%s) - start))

tmp=$result.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/.config" "$tmp/config"
cp "$obj/System.map" "$tmp/System.map"
{
	echo "source: $pkg $pkgver"
	echo "gcc: $ccver"
	echo "ld: $ldver"
	echo "jobs: $jobs"
	echo "seconds: $secs"
	echo "bzImage bytes: $(stat -c %s "$tmp/bzImage")"
} >"$tmp/info"
rm -rf "$result"
mv -T "$tmp" "$result"
echo "kernel: built in ${secs}s, $(stat -c %s "$result/bzImage") bytes: $result/bzImage"
publish
