# dosfstools: sbin/mkfs.fat and sbin/fsck.fat for the rescue system (file-level
# copy recreates FAT filesystems, ESPs above all, with the source's volume id and
# label), static, -Os. Code-page conversion uses musl's iconv.
deps=
build() {
	local os="${CFLAGS/-O2/-Os}" ld="$LDFLAGS -Wl,--gc-sections"
	CFLAGS="$os" LDFLAGS="$ld" conf --disable-rpath
	make -j"$NPROC" -C src mkfs.fat fsck.fat
	install -D -m 755 -t "$DESTDIR/sbin" src/mkfs.fat src/fsck.fat
}
