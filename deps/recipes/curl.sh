# curl: libcurl.a, libcurl.pc — HTTP and HTTPS only, GnuTLS, zlib and zstd
# content encodings, CA bundle at the path the rescue system ships.
deps="gnutls28 zlib libzstd"
build() {
	# Debian's flavour patches (last in the series) rename the library to
	# libcurl-gnutls / libcurl-nss for its other binary packages: undo them.
	patch -R -p1 <debian/patches/99_nss.patch
	patch -R -p1 <debian/patches/90_gnutls.patch
	# A bare --with-gnutls: with a path, configure skips pkg-config and fails to
	# link gnutls' static dependencies.
	conf --with-gnutls --with-zlib --with-zstd \
		--with-ca-bundle="$CA_BUNDLE" --without-ca-path \
		--disable-ftp --disable-file --disable-ldap --disable-ldaps \
		--disable-rtsp --disable-dict --disable-telnet --disable-tftp \
		--disable-pop3 --disable-imap --disable-smb --disable-smtp \
		--disable-gopher --disable-mqtt --disable-manual --disable-ntlm-wb \
		--without-brotli --without-libpsl --without-libidn2 --without-librtmp \
		--without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-quiche \
		--without-libssh2 --without-libssh --without-wolfssh --without-hyper \
		--without-libgsasl --without-zsh-functions-dir --without-fish-functions-dir
	make -C lib -j"$NPROC"
	make -C lib install
	make -C include install
	make install-pkgconfigDATA
}
