# nettle: libnettle.a, libhogweed.a, nettle.pc, hogweed.pc. --enable-fat picks
# AES-NI, SHA-NI and PCLMUL code at run time.
deps=gmp
build() {
	conf --libdir=/lib --enable-fat --disable-documentation --disable-openssl
	# configure appends -ggdb3 and warnings to CFLAGS; use ours.
	make -j"$NPROC" CFLAGS="$CFLAGS" libnettle.a libhogweed.a
	make install-headers install-static install-pkgconfig
}
