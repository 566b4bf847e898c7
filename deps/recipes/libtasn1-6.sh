# libtasn1: libtasn1.a, libtasn1.pc (for gnutls). Library only.
deps=
build() {
	conf --disable-doc --disable-valgrind-tests
	make -C lib -j"$NPROC"
	make -C lib install
}
