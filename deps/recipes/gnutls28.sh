# gnutls28: libgnutls.a, gnutls.pc — the one TLS library (curl's backend and
# libmicrohttpd's). Library only: no tools, docs, tests, C++, guile, NLS, p11-kit,
# TPM, IDN, DANE, certificate compression. PSK stays on (libmicrohttpd uses it).
deps="gmp nettle libtasn1-6"
build() {
	# Debian's security patches add a gnulib module (gl/Makefile.am,
	# m4/gnulib-comp.m4), so regenerate the build system as debian/rules does:
	# drop the bundled gettext-0.20 m4 files, autoreconf without gtk-doc.
	rm -f $(grep -rl gettext-0.20 m4/)
	GTKDOCIZE=true autoreconf -fi
	# gnutls.pc would list -latomic, found in glibc's libatomic: musl's
	# __atomic_load_4 needs no library.
	conf ac_cv_search___atomic_load_4="none required" \
		--disable-maintainer-mode --disable-tools --disable-doc --disable-tests \
		--disable-full-test-suite --disable-valgrind-tests --disable-cxx \
		--disable-guile --disable-nls --disable-rpath --disable-libdane \
		--without-p11-kit --without-tpm --without-tpm2 --without-idn \
		--without-zlib --without-brotli --without-zstd \
		--with-included-unistring --enable-psk-authentication \
		--with-default-trust-store-file="$CA_BUNDLE"
	make -C gl -j"$NPROC"
	make -C lib -j"$NPROC"
	make -C lib install
}
