#!/bin/bash
# initramfs/pack.sh — pack the rescue initramfs reproducibly.
#
#   initramfs/pack.sh -o OUT.cpio.zst [-c CONTENTS] [-D VAR=VALUE]...
#                     [-k MODULE_DIR -m MODULE_LIST] [-t EPOCH] [-l LEVEL]
#                     [-M MKCPIO] [-L LIST_OUT]
#
#   -c  the contents list (default initramfs/contents; format in that file)
#   -D  replaces @VAR@ in it (MIGRATOR, BUSYBOX, CA_BUNDLE, ...)
#   -k  distro flavour: a kernel module tree (/lib/modules/6.1.0-N-amd64) ...
#   -m  ... and the file naming the modules to take (initramfs/modules-distro);
#       their dependencies (modules.dep) and soft dependencies come along,
#       depmod -b rebuilds the index for the smaller tree
#   -t  mtime of every entry (default $SOURCE_DATE_EPOCH, else 0)
#   -l  zstd level (default 19; 20-22 use --ultra)
#   -M  the mkcpio binary (built from initramfs/mkcpio.c)
#   -L  also write the expanded list there (what exactly went in)
#
# Same inputs, same bytes: entries sorted, fixed mtimes, root-owned, inode
# numbers by position (mkcpio), single-threaded zstd of a file of known size.
# Relative paths (arguments and list) are relative to the top of the tree.
# Writes OUT.tmp and renames it into place.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"

out= contents=initramfs/contents kdir= modlist= level=19 list_out=
epoch=${SOURCE_DATE_EPOCH:-0}
mkcpio=build/host/mkcpio
declare -a defs=()

die() { echo "pack.sh: $*" >&2; exit 1; }
warn() { echo "pack.sh: warning: $*" >&2; }

while getopts 'o:c:D:k:m:t:l:M:L:' opt; do
	case $opt in
	o) out=$OPTARG ;;
	c) contents=$OPTARG ;;
	D) [[ $OPTARG == [A-Z_]*=* ]] || die "-D wants VAR=VALUE, not '$OPTARG'"
	   defs+=("$OPTARG") ;;
	k) kdir=${OPTARG%/} ;;
	m) modlist=$OPTARG ;;
	t) epoch=$OPTARG ;;
	l) level=$OPTARG ;;
	M) mkcpio=$OPTARG ;;
	L) list_out=$OPTARG ;;
	*) die "usage: see the head of $0" ;;
	esac
done
[[ -n $out ]] || die "-o OUT is required"
[[ -f $contents ]] || die "no contents list $contents"
[[ -x $mkcpio ]] || die "no mkcpio at $mkcpio (make $mkcpio)"
[[ $epoch =~ ^[0-9]+$ ]] || die "bad epoch '$epoch'"
[[ $level =~ ^[0-9]+$ ]] && ((level >= 1 && level <= 22)) || die "bad zstd level '$level'"
if [[ -n $kdir || -n $modlist ]]; then
	[[ -n $kdir && -n $modlist ]] || die "-k and -m go together"
	[[ -f $kdir/modules.dep ]] || die "$kdir has no modules.dep"
	[[ -f $modlist ]] || die "no module list $modlist"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pack.XXXXXX")
trap 'rm -rf "$work"' EXIT
list=$work/list

# --- 1. the contents list with @VAR@ replaced and relative sources made absolute
awk -v top="$TOP" -v defs="$(printf '%s\n' "${defs[@]+"${defs[@]}"}")" '
BEGIN {
	n = split(defs, d, "\n")
	for (i = 1; i <= n; i++) {
		if (d[i] == "") continue
		eq = index(d[i], "=")
		val[substr(d[i], 1, eq - 1)] = substr(d[i], eq + 1)
	}
}
/^[ \t]*(#|$)/ { next }
{
	line = $0
	while (match(line, /@[A-Z_]+@/)) {
		name = substr(line, RSTART + 1, RLENGTH - 2)
		if (!(name in val)) {
			printf "pack.sh: %s line %d: @%s@ has no -D %s=...\n", FILENAME, NR, name, name > "/dev/stderr"
			bad = 1
			break
		}
		line = substr(line, 1, RSTART - 1) val[name] substr(line, RSTART + RLENGTH)
	}
	n = split(line, f, /[ \t]+/)
	if (f[1] == "file" && f[3] !~ /^\//)
		f[3] = top "/" f[3]
	out = f[1]
	for (i = 2; i <= n; i++) out = out " " f[i]
	print out
}
END { exit bad }' "$contents" > "$list.in" || die "cannot expand $contents"

# Sources must exist now, not halfway through mkcpio.
awk '$1 == "file" { print $3 }' "$list.in" | while read -r src; do
	[[ -f $src ]] || die "missing source file: $src"
done

# --- 2. busybox-applets NAME: one symlink per applet not listed otherwise -------
grep -v '^busybox-applets ' "$list.in" > "$list" || true
awk '{ sub(/^\/+/, "", $2); print $2 }' "$list" | sort -u > "$work/names"
while read -r _ name; do
	src=$(awk -v n="$name" '$1 == "file" && $2 == n { print $3 }' "$list")
	[[ -n $src ]] || die "busybox-applets $name: no 'file $name ...' entry"
	"$src" --list-full > "$work/applets" || die "$src --list-full failed"
	sort -u "$work/applets" | while read -r applet; do
		[[ $applet == linuxrc ]] && continue
		grep -qxF "$applet" "$work/names" && continue
		echo "slink /$applet $name 0777 0 0"
	done >> "$list"
done < <(grep '^busybox-applets ' "$list.in")

# --- 3. kernel modules with their dependencies (distro flavour) ---------------
if [[ -n $kdir ]]; then
	kver=$(basename "$kdir")
	stage=$work/modroot
	mdst=$stage/lib/modules/$kver
	# Module names: basename without .ko[.xz|.zst|.gz], '-' as '_'.
	sed 's/#.*//' "$modlist" | tr -s ' \t' '\n\n' | sed '/^$/d' > "$work/wanted"
	awk -v wanted="$work/wanted" -v kdir="$kdir" '
	function norm(p,   b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b); gsub(/-/, "_", b); return b }
	function add(m,   i, n, d) {
		if (m in taken) return
		taken[m] = 1
		print path[m]
		n = split(deps[m], d, " ")
		for (i = 1; i <= n; i++) add(norm(d[i]))
		n = split(soft[m], d, " ")
		for (i = 1; i <= n; i++) resolve(d[i], 1)
	}
	function resolve(name, quiet,   m, i, n, a) {
		m = norm(name)
		if (m in path) { add(m); return }
		if (m in builtin) { if (!quiet) printf "pack.sh: %s is built into the kernel\n", name > "/dev/stderr"; return }
		if (name in amod) {
			n = split(amod[name], a, " ")
			for (i = 1; i <= n; i++) add(a[i])
			return
		}
		if (!quiet) printf "pack.sh: warning: no module %s in %s\n", name, kdir > "/dev/stderr"
	}
	FILENAME ~ /modules\.dep$/ {
		p = $1; sub(/:$/, "", p); m = norm(p)
		path[m] = p
		$1 = ""; deps[m] = $0
		next
	}
	FILENAME ~ /modules\.builtin$/ { builtin[norm($1)] = 1; next }
	FILENAME ~ /modules\.softdep$/ {
		if ($1 != "softdep") next
		m = norm($2)
		for (i = 3; i <= NF; i++) if ($i != "pre:" && $i != "post:") soft[m] = soft[m] " " $i
		next
	}
	FILENAME ~ /modules\.alias$/ {
		if ($1 == "alias" && $2 !~ /[*?[]/) amod[$2] = amod[$2] " " norm($3)
		next
	}
	END {
		while ((getline w < wanted) > 0) resolve(w, 0)
	}' "$kdir/modules.dep" "$kdir/modules.builtin" \
		$( [[ -f $kdir/modules.softdep ]] && echo "$kdir/modules.softdep" ) \
		"$kdir/modules.alias" | sort -u > "$work/modpaths"

	while read -r rel; do
		install -D -m 0644 "$kdir/$rel" "$mdst/$rel"
	done < "$work/modpaths"
	for f in modules.builtin modules.builtin.modinfo; do
		[[ -f $kdir/$f ]] && install -m 0644 "$kdir/$f" "$mdst/$f"
	done
	# Keep modules.order to the modules we took: depmod orders by it.
	grep -xFf "$work/modpaths" "$kdir/modules.order" > "$mdst/modules.order" || true
	depmod -b "$stage" "$kver" || die "depmod -b failed"
	# BusyBox modprobe reads the text files; the .bin indexes are kmod's.
	rm -f "$mdst"/*.bin "$mdst/modules.builtin.modinfo"
	(cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
		echo "file /$f $stage/$f 0644 0 0"
	done >> "$list"
	echo "pack.sh: $(wc -l < "$work/modpaths") modules for $kver" >&2
fi

# --- 4. cpio, then zstd ------------------------------------------------------------
LC_ALL=C sort -k2,2 "$list" > "$list.sorted"
[[ -z $list_out ]] || sed "s|$work/|<staged>/|" "$list.sorted" > "$list_out"
"$mkcpio" -t "$epoch" "$list.sorted" > "$work/initramfs.cpio"
ultra=
((level > 19)) && ultra=--ultra
mkdir -p "$(dirname "$out")"
zstd -q -T1 $ultra -"$level" -f "$work/initramfs.cpio" -o "$out.tmp"
mv -f "$out.tmp" "$out"
echo "pack.sh: $out: $(stat -c %s "$out") bytes ($(stat -c %s "$work/initramfs.cpio") uncompressed, $(wc -l < "$list.sorted") entries)" >&2
