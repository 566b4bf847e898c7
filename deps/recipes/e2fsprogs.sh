# e2fsprogs: sbin/mke2fs, sbin/e2fsck, sbin/tune2fs, sbin/resize2fs for the rescue
# system (file-level copy recreates ext2/3/4 with the source's UUID, label,
# features, block and inode size), static, -Os. Uses util-linux's libblkid and
# libuuid; no debugfs, e2image, e4defrag, fuse2fs, uuidd, NLS, tdb (e2undo).
# mke2fs falls back to its built-in mke2fs.conf (Debian's defaults) when
# /etc/mke2fs.conf is absent, as in the rescue system.
deps="util-linux"
build() {
	local os="${CFLAGS/-O2/-Os}" ld="$LDFLAGS -Wl,--gc-sections"
	CFLAGS="$os" LDFLAGS="$ld" conf --disable-nls --disable-rpath \
		--disable-libblkid --disable-libuuid --disable-debugfs --disable-imager \
		--disable-defrag --disable-fuse2fs --disable-uuidd --disable-fsck \
		--disable-e2initrd-helper --disable-tdb --disable-backtrace \
		--disable-bmap-stats --disable-testio-debug
	make -j"$NPROC" libs
	make -j"$NPROC" -C misc mke2fs tune2fs
	make -j"$NPROC" -C e2fsck e2fsck
	make -j"$NPROC" -C resize resize2fs
	install -D -m 755 -t "$DESTDIR/sbin" misc/mke2fs misc/tune2fs e2fsck/e2fsck \
		resize/resize2fs
}
