# zlib: libz.a, zlib.pc.
deps=
build() {
	./configure --static --prefix=/
	make -j"$NPROC" libz.a
	make install
}
