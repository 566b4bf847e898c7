# mimalloc: libmimalloc.a — the allocator the static migrator links in place of
# musl's (--whole-archive, so it overrides malloc/free/calloc/realloc/...).
# Why: musl's mallocng gives memory back with madvise() on nearly every free of
# a TLS record buffer (~4 calls per 16 KiB record received: 130,000 calls per
# GiB); mimalloc keeps it. bench/blockcopy.sh shows the difference. One
# translation unit (src/static.c), as upstream's docs suggest for static use.
deps=
build() {
	$CC $CFLAGS -DNDEBUG -DMI_MALLOC_OVERRIDE -DMI_DEBUG=0 -Iinclude -c src/static.c -o mimalloc.o
	mkdir -p "$DESTDIR/lib" "$DESTDIR/include"
	ar rcs "$DESTDIR/lib/libmimalloc.a" mimalloc.o
	cp include/mimalloc.h "$DESTDIR/include/"
}
