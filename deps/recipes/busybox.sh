# busybox: bin/busybox, static — defconfig plus CONFIG_STATIC=y. The driver checks
# that it has the applets the rescue system needs.
deps=
build() {
	# Its own flags, not the libraries'.
	unset CFLAGS CPPFLAGS LDFLAGS
	mkdir out
	make O=out defconfig
	sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' out/.config
	make O=out oldconfig </dev/null
	grep -qx 'CONFIG_STATIC=y' out/.config
	make O=out -j"$NPROC" CC="$CC" HOSTCC=gcc KCONFIG_NOTIMESTAMP=1 busybox
	install -D -m 755 out/busybox "$DESTDIR/bin/busybox"
}
