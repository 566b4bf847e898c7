# initramfs/ — the rescue initramfs, packed reproducibly (initramfs/pack.sh).
#
#   $(INITRAMFS)          custom-kernel flavour: no modules (drivers built in)
#   $(INITRAMFS_DISTRO)   distro flavour: + the modules of initramfs/modules-distro
#                         from $(DISTRO_KMOD_DIR), for $(DISTRO_KERNEL)
#   make initramfs        both
#
# What goes in is data: initramfs/contents (both flavours) and
# initramfs/modules-distro. Each archive has a neighbour NAME.list: the expanded
# list, i.e. exactly what went in.

INITRAMFS := $(B)/initramfs/rescue.cpio.zst
INITRAMFS_DISTRO := $(B)/initramfs/rescue-distro.cpio.zst
MKCPIO := $(B)/host/mkcpio

# Debian's signed kernel (package linux-image-amd64) and its module tree.
DISTRO_KVER ?= $(notdir $(lastword $(sort $(wildcard /lib/modules/*-amd64))))
DISTRO_KMOD_DIR ?= /lib/modules/$(DISTRO_KVER)
DISTRO_KERNEL ?= /boot/vmlinuz-$(DISTRO_KVER)

INITRAMFS_MIGRATOR ?= $(MUSL_MIGRATOR)
INITRAMFS_BUSYBOX ?= $(SYSROOT)/bin/busybox
# The static filesystem tools deps/build.sh installs (sfdisk, mke2fs, mkfs.fat, ...).
INITRAMFS_SBIN ?= $(SYSROOT)/sbin
# The bundle deps/build.sh compiled into curl and GnuTLS, shipped at the same path.
INITRAMFS_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
INITRAMFS_ZSTD_LEVEL ?= 19
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

INITRAMFS_DATA := initramfs/pack.sh initramfs/contents initramfs/udhcpc.script \
	$(wildcard initramfs/etc/*)
INITRAMFS_PACK = mkdir -p $(@D) && initramfs/pack.sh -o $@ -L $@.list -M $(MKCPIO) \
	-t $(SOURCE_DATE_EPOCH) -l $(INITRAMFS_ZSTD_LEVEL) \
	-D MIGRATOR=$(INITRAMFS_MIGRATOR) -D BUSYBOX=$(INITRAMFS_BUSYBOX) -D SBIN=$(INITRAMFS_SBIN) \
	-D CA_BUNDLE=$(INITRAMFS_CA_BUNDLE)

$(MKCPIO): initramfs/mkcpio.c
	@mkdir -p $(@D)
	$(HOST_CC) $(STD) $(WARN) -O2 -o $@.tmp $< && mv $@.tmp $@

# pack.sh writes $@.tmp and renames it.
$(INITRAMFS): $(INITRAMFS_DATA) $(MKCPIO) $(INITRAMFS_MIGRATOR) $(SYSROOT_STAMP)
	$(INITRAMFS_PACK)

$(INITRAMFS_DISTRO): $(INITRAMFS_DATA) initramfs/modules-distro $(MKCPIO) \
		$(INITRAMFS_MIGRATOR) $(SYSROOT_STAMP) $(DISTRO_KMOD_DIR)/modules.dep
	$(INITRAMFS_PACK) -k $(DISTRO_KMOD_DIR) -m initramfs/modules-distro

.PHONY: initramfs
initramfs: $(INITRAMFS) $(INITRAMFS_DISTRO)
ALL += $(INITRAMFS) $(INITRAMFS_DISTRO)
