# util-linux: libblkid.a, libfdisk.a, libuuid.a and their .pc files; no programs.
deps=
build() {
	# Debian's patches touch configure.ac and Makemodule.am (for programs we do
	# not build) and the package has no maintainer mode: mark the shipped
	# generated files up to date so make does not rerun autotools.
	touch aclocal.m4 configure Makefile.in config.h.in
	conf --disable-all-programs --enable-libblkid --enable-libfdisk \
		--enable-libuuid --disable-nls --disable-bash-completion \
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
}
