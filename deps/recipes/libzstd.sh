# libzstd: libzstd.a, libzstd.pc. The multithreaded variant (ZSTD_c_nbWorkers
# works; musl has pthreads in libc), at upstream's -O3: migrator's stream codec.
deps=
build() {
	make -C lib -j"$NPROC" libzstd.a-mt-release libzstd.pc PREFIX=/ CFLAGS="$CFLAGS -O3"
	make -C lib install-static install-includes install-pc PREFIX=/
}
