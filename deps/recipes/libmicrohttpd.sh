# libmicrohttpd: libmicrohttpd.a, libmicrohttpd.pc — the HTTPS server of
# `migrator receive`, on GnuTLS. The PostProcessor (form parsing, a CVE history)
# is left out: migrator must not use it.
deps=gnutls28
build() {
	conf --enable-https --with-gnutls --enable-epoll --disable-postprocessor \
		--disable-doc --disable-examples --disable-curl --disable-nls
	make -j"$NPROC"
	make install
}
