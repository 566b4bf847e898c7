# libarchive: libarchive.a, libarchive.pc — tar/pax/cpio/zip/iso readers and
# writers with gzip, zstd and xz filters. Library only. xattrs come from musl's
# libc; no ACL library, no XML (xar), no crypto (zip encryption, mtree digests),
# no bzip2/lz4/lzo/b2.
deps="zlib libzstd xz-utils"
build() {
	conf --disable-maintainer-mode --disable-bsdtar --disable-bsdcpio \
		--disable-bsdcat --disable-acl --enable-xattr --with-zlib --with-zstd \
		--with-lzma --without-bz2lib --without-libb2 --without-lz4 --without-lzo2 \
		--without-cng --without-openssl --without-nettle --without-mbedtls \
		--without-xml2 --without-expat
	make -j"$NPROC" libarchive.la
	make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
	# musl has iconv in libc. Debian's iconv-pkgconfig.patch fixes configure.ac,
	# but configure is not regenerated (no maintainer mode): apply its effect.
	sed -i -E '/^Requires.private:/s/ ?\biconv\b//' "$DESTDIR"/lib/pkgconfig/libarchive.pc
}
