# xz-utils: liblzma only (liblzma.a, liblzma.pc); no xz/xzdec programs.
deps=
build() {
	conf --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
		--disable-lzma-links --disable-scripts --disable-doc --disable-nls
	make -C src/liblzma -j"$NPROC"
	make -C src/liblzma install
}
