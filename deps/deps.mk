# deps/deps.mk — the static musl sysroot (deps/build.sh; see deps/README.md).
#
#   make sysroot     build it, or reuse $(CACHE)/sysroot-KEY (instant)
#
# For the rules that build static binaries:
#   $(MUSL_CC)          musl-gcc plus the kernel headers musl-gcc's -nostdinc hides
#   $(MUSL_PKG_CONFIG)  pkg-config that sees only the sysroot's .pc files, --static
#   $(SYSROOT_STAMP)    depend on it: newer whenever build/sysroot changes
#
# e.g.  $(MUSL_CC) -static -o $@ $^ $$($(MUSL_PKG_CONFIG) --cflags --libs blkid fdisk)

SYSROOT := $(B)/sysroot
SYSROOT_STAMP := $(B)/sysroot.stamp
MUSL_CC := musl-gcc -isystem $(SYSROOT)/kinclude
MUSL_PKG_CONFIG := PKG_CONFIG_LIBDIR=$(SYSROOT)/lib/pkgconfig pkg-config --static

DEPS_RUN := CACHE='$(CACHE)' B='$(B)' NPROC='$(NPROC)' deps/build.sh

.PHONY: sysroot
sysroot:
	$(DEPS_RUN)

$(SYSROOT_STAMP): deps/versions deps/build.sh $(wildcard deps/recipes/*.sh)
	$(DEPS_RUN)
