# util-linux: libblkid.a, libfdisk.a, libuuid.a and their .pc files; and, for the
# rescue system (file-level copy), the programs sbin/sfdisk, sbin/mkswap (BusyBox's
# lacks -U), sbin/blkid (BusyBox's lacks -p/-o/-s) and sbin/wipefs, static, -Os.
deps=
build() {
	# Debian's patches touch configure.ac and Makemodule.am (for programs we do
	# not build) and the package has no maintainer mode: mark the shipped
	# generated files up to date so make does not rerun autotools.
	touch aclocal.m4 configure Makefile.in config.h.in
	# --enable-fdisks=check: sfdisk (fdisk too, unbuilt); cfdisk drops out
	# without ncurses.
	conf --disable-all-programs --enable-libblkid --enable-libfdisk \
		--enable-libuuid --enable-libsmartcols --enable-fdisks=check \
		--enable-blkid --enable-wipefs --disable-nls --disable-bash-completion \
		--disable-asciidoc --disable-poman --without-python --without-systemd \
		--without-udev --without-ncurses --without-ncursesw --without-tinfo \
		--without-readline --without-libz --without-libmagic --without-user \
		--without-btrfs --without-cap-ng --without-econf --without-selinux \
		--without-audit --without-smack --without-utempter --without-cryptsetup
	make -j"$NPROC" libblkid.la libfdisk.la libuuid.la \
		libblkid/blkid.pc libfdisk/fdisk.pc libuuid/uuid.pc
	make install-usrlib_execLTLIBRARIES install-pkgconfigDATA \
		install-nodist_blkidincHEADERS install-uuidincHEADERS \
		install-nodist_fdiskincHEADERS

	# The programs: -Os, unused sections dropped; -all-static makes libtool
	# pass -static to the compiler (LDFLAGS' -static stays with libtool).
	local os="${CFLAGS/-O2/-Os}" ld="$LDFLAGS -Wl,--gc-sections"
	make -j"$NPROC" AM_LDFLAGS=-all-static CFLAGS="$os" LDFLAGS="$ld" sfdisk blkid wipefs
	# mkswap has no configure switch of its own: --disable-all-programs turns it
	# off. Build it as its Makemodule.am does (mkswap.c + lib/ismounted.c,
	# libcommon, libuuid, libblkid).
	# shellcheck disable=SC2086
	$CC $CPPFLAGS -include config.h -Iinclude -Ilibuuid/src -Ilibblkid/src \
		-fsigned-char $os -o mkswap disk-utils/mkswap.c lib/ismounted.c \
		.libs/libcommon.a .libs/libblkid.a .libs/libuuid.a $ld
	install -D -m 755 -t "$DESTDIR/sbin" sfdisk mkswap blkid wipefs
}
