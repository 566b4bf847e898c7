#!/bin/bash
# deps/build.sh — the static musl sysroot, built from Debian source packages.
#
#   deps/build.sh           reuse the cached sysroot or build it; point $B/sysroot at it
#   deps/build.sh --job P   (internal) build package P in the current work dir
#
# Environment: CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/migrator), B (default
# build), NPROC (default nproc), DEPS_JOBS (packages built at once, default 2).
#
# Flow: cache key → cache hit: symlink and exit. Otherwise, under a lock: fetch every
# package of deps/versions into $CACHE/src (apt-get source, SHA-256 checked against
# the .dsc), unpack with dpkg-source -x (Debian patches applied), run
# deps/recipes/NAME.sh for each in dependency order (several at once), self-test the
# result, and rename the work dir to $CACHE/sysroot-KEY.
#
# A recipe defines `deps` (packages it needs) and `build` (run in the unpacked source
# with `set -ex`). It sees: SYSROOT (what earlier packages installed: search here),
# DESTDIR (install here; the driver keeps include/, lib/*.a, lib/pkgconfig/*.pc,
# bin/busybox and sbin/* — the rescue system's static filesystem tools —, makes the
# .pc files relocatable, strips the programs and merges it into SYSROOT), CC,
# CFLAGS, CPPFLAGS, LDFLAGS, PKG_CONFIG, PKG_CONFIG_LIBDIR, NPROC, and `conf`
# (./configure with the options every autoconf package gets).
set -euo pipefail
unset MAKEFLAGS MFLAGS MAKELEVEL PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR \
	CFLAGS CPPFLAGS CXXFLAGS LDFLAGS LIBS CC CXX CPP DESTDIR

exec 3>&2
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$TOP/deps/build.sh
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/migrator}
B=${B:-build}
NPROC=${NPROC:-$(nproc)}
DEPS_JOBS=${DEPS_JOBS:-2}
# Paths the initramfs ships; compiled into gnutls and curl.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export TOP CACHE NPROC CA_BUNDLE

say()  { printf 'deps: %s\n' "$*" >&2; }
die()  { say "$*"; exit 1; }
# Loud, to the terminal (fd 3) as well as the log; repeated at the end of the build.
warn() {
	local msg
	msg=$(printf '\ndeps: ******** WARNING ********\n'; printf 'deps: %s\n' "$@"
		printf 'deps: ***************************\n\n')
	echo "$msg" >&2
	echo "$msg" >&3
	[[ -z ${WORK:-} ]] || echo "$msg" >>"$WORK/warnings"
}

# Everything that decides the sysroot's content; hashed into the cache key.
key_inputs() {
	local f
	for f in deps/versions deps/build.sh deps/recipes/*.sh; do
		printf '== %s\n' "$f"
		cat "$TOP/$f"
	done
	gcc --version | head -n 1
	dpkg-query -W -f '${Package} ${Version}\n' musl-dev musl-tools linux-libc-dev binutils
}

# $B/sysroot → $1 (atomic), and $B/sysroot.stamp (for make) when it is out of date.
link_sysroot() {
	local root=$1 key=$2 stamp=$B/sysroot.stamp
	mkdir -p "$B"
	if [[ -e $B/sysroot && ! -L $B/sysroot ]]; then
		die "$B/sysroot exists and is not a symlink; remove it"
	fi
	if [[ $(readlink "$B/sysroot" || true) != "$root" ]]; then
		ln -sfn "$root" "$B/sysroot.tmp"
		mv -T "$B/sysroot.tmp" "$B/sysroot"
	fi
	if [[ ! -f $stamp || $(<"$stamp") != "$key" ||
		-n $(find deps/versions deps/build.sh deps/recipes -newer "$stamp" -print -quit) ]]; then
		echo "$key" >"$stamp.tmp"
		mv "$stamp.tmp" "$stamp"
	fi
}

# ---------------------------------------------------------------- sources

# Versions of source package $1 in the apt index, one a line.
archive_versions() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -u
}

newest() {
	local v best=
	for v; do
		if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	echo "$best"
}

# SHA-256 of NAME_VER.dsc as the (signed) apt index lists it; empty if unknown.
index_dsc_sha256() {
	local name=$1 ver=$2
	apt-cache showsrc --only-source "$name" 2>/dev/null | awk -v ver="$ver" -v f="$3" '
		/^Version: / { cur = ($2 == ver) }
		/^Checksums-Sha256:/ { sha = 1; next }
		/^[^ ]/ { sha = 0 }
		cur && sha && $3 == f && length($1) == 64 { print $1; exit }'
}

# Checks every file a .dsc names against its Checksums-Sha256 field.
verify_dsc() {
	local dsc=$1 list
	list=$(awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
		f && NF == 3 { print $1 "  " $3 }' "$dsc")
	[[ -n $list ]] || { echo "$dsc: no Checksums-Sha256 field"; return 1; }
	(cd "$(dirname "$dsc")" && sha256sum --strict -c <<<"$list")
}

# fetch NAME PIN: downloads (or reuses) the source and checks it. Prints
# "VERSION DSC-PATH". Falls back to the archive's current version, loudly, when the
# pinned one is gone.
fetch() {
	local name=$1 pin=$2 ver=$2 known cur dsc sha want src=$CACHE/src
	dsc_path() { echo "$src/${1}_${2#*:}.dsc"; }
	if [[ ! -f $(dsc_path "$name" "$ver") ]] || ! verify_dsc "$(dsc_path "$name" "$ver")" >&2; then
		rm -f "$(dsc_path "$name" "$ver")"
		known=$(archive_versions "$name")
		if ! grep -qxF -- "$pin" <<<"$known" && [[ $(id -u) == 0 ]]; then
			echo "$name $pin not in the apt index: apt-get update" >&2
			apt-get update -qq >&2 || true
			known=$(archive_versions "$name")
		fi
		[[ -n $known ]] || { echo "$name: no source package in the apt index (deb-src entry missing? run deps/host-setup.sh)" >&2; return 1; }
		if ! grep -qxF -- "$pin" <<<"$known"; then
			# shellcheck disable=SC2086
			cur=$(newest $known)
			warn "$name $pin (deps/versions) is no longer in Debian's archive." \
				"Building the archive's current version $cur instead; manifest.txt records it." \
				"Update deps/versions to silence this."
			ver=$cur
		fi
		if [[ ! -f $(dsc_path "$name" "$ver") ]]; then
			(cd "$src" && apt-get source --download-only "$name=$ver") >&2
		fi
	fi
	dsc=$(dsc_path "$name" "$ver")
	verify_dsc "$dsc" >&2 || { echo "$name: source files do not match $dsc" >&2; return 1; }
	sha=$(sha256sum "$dsc" | cut -d' ' -f1)
	want=$(index_dsc_sha256 "$name" "$ver" "${dsc##*/}")
	if [[ -n $want && $want != "$sha" ]]; then
		echo "$dsc: SHA-256 $sha, apt index says $want" >&2
		return 1
	fi
	echo "${dsc##*/}: sha256 $sha${want:+ (matches the apt index)}" >&2
	echo "$ver $dsc"
}

# ---------------------------------------------------------------- one package

# The build environment every recipe gets (also used for the self-test).
musl_env() {
	export SYSROOT=$1
	export CC="musl-gcc -isystem $SYSROOT/kinclude"
	export CFLAGS="-O2 -fstack-protector-strong -ffunction-sections -fdata-sections"
	export CPPFLAGS="-I$SYSROOT/include"
	export LDFLAGS="-L$SYSROOT/lib -static"
	export PKG_CONFIG="pkg-config --static"
	export PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig
}

# shellcheck disable=SC2317  # called by the recipes
conf() {
	./configure --host=x86_64-linux-musl --prefix=/ --sysconfdir=/etc \
		--localstatedir=/var --disable-shared --enable-static \
		--disable-dependency-tracking "$@"
}

# Rewrites a staged .pc file so it works wherever the sysroot lives: prefix is
# found from the file's own location, and the absolute paths that configure wrote
# for prefix=/ become ${prefix}-relative.
relocate_pc() {
	# shellcheck disable=SC2016  # ${pcfiledir} and ${prefix} are pkg-config's
	sed -E -i \
		-e 's|^prefix=.*|prefix=${pcfiledir}/../..|' \
		-e '/^prefix=/!s|^([A-Za-z_]+)=/+$|\1=${prefix}|' \
		-e '/^prefix=/!s|^([A-Za-z_]+)=/+([^/])|\1=${prefix}/\2|' "$1"
	if grep -nE -- '(^[A-Za-z_]+=|[[:space:]]-[IL])/' "$1"; then
		echo "$1: absolute path left"
		return 1
	fi
}

# Keeps what the sysroot ships, fixes it, merges it into SYSROOT.
stage_to_sysroot() {
	local d=$1 f
	rm -rf "${d:?}"/{share,etc,var,libexec,usr}
	find "$d/bin" -mindepth 1 ! -name busybox -delete 2>/dev/null || true
	find "$d/lib" -maxdepth 1 \( -name '*.la' -o -name '*.so*' \) -delete 2>/dev/null || true
	for f in "$d"/lib/pkgconfig/*.pc; do
		[[ -e $f ]] && relocate_pc "$f"
	done
	for f in "$d"/lib/*.a; do
		[[ -e $f ]] && strip --strip-debug "$f"
	done
	# Programs for the rescue initramfs: static regular files, stripped.
	for f in "$d"/sbin/*; do
		[[ -e $f ]] || continue
		[[ -f $f && ! -L $f ]] || { echo "$f: not a regular file"; return 1; }
		strip --strip-all "$f"
		file -b "$f" | grep -q 'statically linked' || { echo "$f is not static"; return 1; }
	done
	f=$(cd "$d" && { find . ! -type d | grep -vE '^\./(include/.*|lib/[^/]+\.a|lib/pkgconfig/[^/]+\.pc|bin/busybox|sbin/[^/]+)$' || true; })
	[[ -z $f ]] || { echo "unexpected files installed:"; echo "$f"; return 1; }
	(cd "$d" && find . ! -type d | sort)
	cp -a "$d/." "$SYSROOT/"
}

# --job NAME: unpack and build one package; run by the scheduler in its own session.
build_job() {
	local name=$1 work=$WORK
	musl_env "$work/sysroot"
	export DESTDIR=$work/stage/$name
	echo "== $name ${VER:?}, $(date -u '+%F %T') UTC"
	cd "$work/src"
	dpkg-source -x "${DSC:?}" "$name"
	cd "$name"
	SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -STimestamp)
	export SOURCE_DATE_EPOCH
	mkdir -p "$DESTDIR"
	(
		PS4='+ [${SECONDS}s] '
		set -x
		# shellcheck disable=SC1090
		. "$TOP/deps/recipes/$name.sh"
		build
	)
	echo "== installed"
	stage_to_sysroot "$DESTDIR"
	# Built and merged: free the disk now rather than all at the end.
	cd "$work"
	rm -rf "src/$name" "$DESTDIR"
}

# ---------------------------------------------------------------- the whole sysroot

declare -A ver_of dsc_of pin_of deps_of state secs pid_of
order=()

kill_jobs() {
	local p
	for p in "${!pid_of[@]}"; do
		kill -TERM -- "-${pid_of[$p]}" 2>/dev/null || true
	done
}

fail_pkg() {
	local name=$1 log=$LOGS/$1.log
	kill_jobs
	say "$name failed — see $log"
	tail -n 30 "$log" | sed 's/^/  | /' >&2
	exit 1
}

# Runs the recipes, DEPS_JOBS at a time, each once all its deps are built.
schedule() {
	local p d ready running=0 done_pid rc t0=$T0
	declare -A started_at job_of
	for p in "${order[@]}"; do state[$p]=pending; done
	while :; do
		for p in "${order[@]}"; do
			((running < DEPS_JOBS)) || break
			[[ ${state[$p]} == pending ]] || continue
			ready=1
			for d in ${deps_of[$p]}; do
				[[ -n ${state[$d]:-} ]] || die "$p needs $d, which deps/versions does not list"
				[[ ${state[$d]} == built ]] || ready=0
			done
			((ready)) || continue
			VER=${ver_of[$p]} DSC=${dsc_of[$p]} setsid "$BASH" "$SELF" --job "$p" >>"$LOGS/$p.log" 2>&1 &
			pid_of[$p]=$!
			job_of[$!]=$p
			started_at[$p]=$SECONDS
			state[$p]=running
			running=$((running + 1))
			say "[$((SECONDS - t0))s] $p ${ver_of[$p]}: building"
		done
		((running > 0)) || break
		rc=0
		wait -n -p done_pid || rc=$?
		p=${job_of[$done_pid]}
		unset "pid_of[$p]"
		running=$((running - 1))
		((rc == 0)) || fail_pkg "$p"
		state[$p]=built
		secs[$p]=$((SECONDS - started_at[$p]))
		say "[$((SECONDS - t0))s] $p: done in ${secs[$p]}s"
	done
	for p in "${order[@]}"; do
		[[ ${state[$p]} == built ]] || die "$p never became buildable (dependency cycle?)"
	done
}

# Kernel headers for musl-gcc, which passes -nostdinc: searched after musl's own.
make_kinclude() {
	local k=$1/kinclude
	mkdir -p "$k"
	ln -s /usr/include/linux /usr/include/asm-generic /usr/include/mtd "$k/"
	ln -s "/usr/include/$(gcc -dumpmachine)/asm" "$k/asm"
}

# Accepts the sysroot only if the .pc files resolve and the self-test, linked
# statically against it, runs — here and in an empty chroot.
check_sysroot() {
	local root=$1 t=$WORK/selftest pcs="libcurl libmicrohttpd gnutls blkid fdisk uuid libarchive liblzma libzstd zlib"
	local libs ldd
	(
		musl_env "$root"
		cd "$root"
		if find . -name '*.so*' -o -name '*.la' | grep .; then
			echo "shared libraries or .la files in the sysroot"
			exit 1
		fi
		# shellcheck disable=SC2086
		libs=$($PKG_CONFIG --libs $pcs)
		echo "pkg-config --static --libs $pcs:"
		echo "  $libs"
		if grep -Eq -- '-latomic|-liconv|-lgnutls-|-lcurl-|/usr/lib' <<<"$libs"; then
			echo "unexpected library in the link line"
			exit 1
		fi
		mkdir -p "$t/root"
		# shellcheck disable=SC2086,SC2046
		$CC -std=gnu11 -Wall -Wextra -Werror -O2 -static \
			$($PKG_CONFIG --cflags $pcs) -o "$t/selftest" "$TOP/deps/selftest.c" $libs \
			-Wl,--gc-sections
		strip -o "$t/root/selftest" "$t/selftest"
		ldd=$(file -b "$t/root/selftest")
		echo "selftest: $ldd"
		echo "selftest: $(stat -c %s "$t/root/selftest") bytes stripped"
		grep -q 'statically linked' <<<"$ldd" || { echo "selftest is not static"; exit 1; }
		"$t/selftest"
		echo "-- in an empty chroot:"
		if [[ $(id -u) == 0 ]]; then
			chroot "$t/root" /selftest
		else
			unshare -r chroot "$t/root" /selftest
		fi
	)
}

busybox_applets() {
	local a list missing=
	list=$("$1" --list)
	for a in sh mount umount ip udhcpc fdisk dd vi less wget modprobe insmod cpio mdev \
		switch_root poweroff reboot; do
		grep -qx "$a" <<<"$list" || missing="$missing $a"
	done
	echo "busybox: $(wc -l <<<"$list") applets, $(stat -c %s "$1") bytes"
	[[ -z $missing ]] || { echo "busybox lacks:$missing"; return 1; }
	file -b "$1" | grep -q 'statically linked' || { echo "busybox is not static"; return 1; }
}

# The filesystem tools of the rescue system, tried on image files: each creates or
# checks what file-level copy needs (same UUIDs and labels), and blkid reads it back.
# (Called in an || list, where set -e does not apply: every step checks itself.)
rescue_tools() {
	local s=$1 t=$WORK/tools p got want
	tool() { "$s/$1" "${@:2}" || { echo "tools: failed: sbin/$*"; return 1; }; }
	for p in sfdisk mkswap blkid wipefs mke2fs e2fsck tune2fs resize2fs mkfs.fat fsck.fat; do
		[[ -x $s/$p ]] || { echo "tools: sbin/$p missing"; return 1; }
	done
	mkdir -p "$t"
	truncate -s 64M "$t/disk" "$t/ext4" "$t/fat" "$t/swap"
	printf 'label: gpt\nsize=16M, type=uefi\ntype=linux\n' | tool sfdisk -q "$t/disk" || return 1
	tool sfdisk -d "$t/disk" | grep -q 'type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B' ||
		{ echo "tools: sfdisk -d does not show the ESP"; return 1; }
	tool mke2fs -q -t ext4 -U 3f1e2d4c-0000-4000-8000-00000000e4e4 -L tools-ext4 \
		-b 4096 -I 256 -O ^metadata_csum "$t/ext4" || return 1
	tool e2fsck -fn "$t/ext4" >/dev/null || return 1
	tool tune2fs -L tools-ext4b "$t/ext4" >/dev/null || return 1
	truncate -s 96M "$t/ext4"
	tool resize2fs "$t/ext4" >/dev/null 2>&1 || return 1
	tool e2fsck -fn "$t/ext4" >/dev/null || return 1
	tool mkfs.fat -i 1234ABCD -n TOOLS-FAT "$t/fat" >/dev/null || return 1
	tool fsck.fat -n "$t/fat" >/dev/null || return 1
	tool mkswap -U 3f1e2d4c-0000-4000-8000-000000005a5a -L tools-swap "$t/swap" >/dev/null 2>&1 || return 1
	tool wipefs "$t/swap" | grep -q swap || { echo "tools: wipefs does not see the swap signature"; return 1; }
	got=$(for p in ext4 fat swap; do
		tool blkid -p -o export "$t/$p" | grep -E '^(TYPE|UUID|LABEL)=' | sort | tr '\n' ' '
	done)
	want='LABEL=tools-ext4b TYPE=ext4 UUID=3f1e2d4c-0000-4000-8000-00000000e4e4 '
	want+='LABEL=TOOLS-FAT TYPE=vfat UUID=1234-ABCD '
	want+='LABEL=tools-swap TYPE=swap UUID=3f1e2d4c-0000-4000-8000-000000005a5a '
	[[ $got == "$want" ]] || { echo "tools: blkid says '$got', expected '$want'"; return 1; }
	echo "tools: $(cd "$s" && echo *) ($(cat "$s"/* | wc -c) bytes): ok"
	rm -rf "$t"
}

build_sysroot() {
	local key=$1 root=$2 t0 name pin line got sha t
	for t in musl-gcc dpkg-source apt-get pkg-config make autoreconf; do
		command -v "$t" >/dev/null || die "$t missing: run deps/host-setup.sh (as root)"
	done
	mkdir -p "$CACHE/src"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		say "waiting for another sysroot build (lock $CACHE/.lock)"
		flock 9
	fi
	if [[ -d $root ]]; then link_sysroot "$root" "$key"; return; fi
	t0=$SECONDS
	T0=$t0

	WORK=$CACHE/work-$key
	LOGS=$CACHE/logs/$key
	export WORK LOGS
	# Under the lock, any work dir is what a failed or killed build left.
	rm -rf "$CACHE"/work-* "$LOGS"
	mkdir -p "$WORK"/{src,stage,sysroot/include,sysroot/lib/pkgconfig,sysroot/bin} "$LOGS"
	trap 'kill_jobs; exit 130' INT TERM
	say "building the sysroot $key (logs: $LOGS/)"

	while read -r name pin; do
		order+=("$name")
		pin_of[$name]=$pin
		# shellcheck disable=SC1090
		deps_of[$name]=$(deps=; . "$TOP/deps/recipes/$name.sh"; echo "$deps")
	done < <(grep -vE '^[[:space:]]*(#|$)' "$TOP/deps/versions")

	for name in "${order[@]}"; do
		got=$(fetch "$name" "${pin_of[$name]}" 2>>"$LOGS/$name.log") || fail_pkg "$name"
		ver_of[$name]=${got%% *}
		dsc_of[$name]=${got#* }
	done
	say "[$((SECONDS - t0))s] sources fetched and checked"

	make_kinclude "$WORK/sysroot"
	schedule

	check_sysroot "$WORK/sysroot" >"$LOGS/selftest.log" 2>&1 || fail_pkg selftest
	busybox_applets "$WORK/sysroot/bin/busybox" >>"$LOGS/selftest.log" 2>&1 || fail_pkg selftest
	rescue_tools "$WORK/sysroot/sbin" >>"$LOGS/selftest.log" 2>&1 || fail_pkg selftest
	sed -n -e 's/^selftest: ok$/&, here and in an empty chroot/' -e 's/^\(selftest\|busybox\|tools\): /deps: &/p' \
		"$LOGS/selftest.log" | uniq >&2

	{
		echo "# migrator static musl sysroot $key, built $(date -u '+%F %T') UTC in $((SECONDS - t0))s"
		echo "# $(gcc --version | head -n 1); musl $(dpkg-query -W -f '${Version}' musl-dev)"
		echo "# package version dsc-sha256 build-seconds"
		for name in "${order[@]}"; do
			sha=$(sha256sum "${dsc_of[$name]}" | cut -d' ' -f1)
			line="$name ${ver_of[$name]} $sha ${secs[$name]}"
			[[ ${ver_of[$name]} == "${pin_of[$name]}" ]] || line="$line # pinned ${pin_of[$name]}, gone from the archive"
			echo "$line"
		done
	} >"$WORK/sysroot/manifest.txt"
	cp "$WORK/selftest/selftest" "$LOGS/selftest"
	[[ ! -f $WORK/warnings ]] || cp "$WORK/warnings" "$LOGS/warnings"

	mv -T "$WORK/sysroot" "$root"
	rm -rf "$WORK"
	link_sysroot "$root" "$key"
	say "sysroot ready in $((SECONDS - t0))s: $root"
	[[ ! -f $LOGS/warnings ]] || cat "$LOGS/warnings" >&2
}

main() {
	local key root
	if [[ ${1:-} == --job ]]; then
		build_job "$2"
		return
	fi
	cd "$TOP"
	key=$(key_inputs | sha256sum | cut -c1-16)
	root=$CACHE/sysroot-$key
	if [[ -d $root ]]; then
		link_sysroot "$root" "$key"
		return
	fi
	build_sysroot "$key" "$root"
}

main "$@"
exit
