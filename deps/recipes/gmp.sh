# gmp: libgmp.a, gmp.pc (for nettle's public-key code). --enable-fat: the rescue
# system runs on unknown CPUs, so pick the mpn code at run time instead of tuning
# for the build machine. gmp chooses its own CFLAGS.
deps=
build() {
	# The dfsg tarball has no doc/. Debian's Exclude-doc-Makefile.patch drops it
	# from Makefile.am and configure.ac; do the same to the generated files
	# instead of running autoreconf.
	sed -i 's/^\(SUBDIRS = .*\) doc$/\1/' Makefile.in
	sed -i 's| doc/Makefile||; /"doc\/Makefile")/d' configure
	# gmp.h records CC (__GMP_CC): plain musl-gcc keeps the build path out of it.
	CC=musl-gcc CFLAGS='' conf --enable-fat --disable-cxx
	make -j"$NPROC"
	make install
}
