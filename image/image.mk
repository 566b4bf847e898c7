# image/: the rescue media (included by the top-level Makefile).
#
#   make media         everything below, both flavours
#   make media-custom  ISO, rescue disk (raw + qcow2), PXE files: custom kernel
#   make media-sb      Secure Boot ISO and rescue disk: Debian's signed kernel
#   make media-smoke   boot every medium under QEMU (TCG), wait for MIGRATOR-READY
#   make media-standin media + smoke test with stand-ins (Debian's kernel and a
#                      test init that prints the marker and powers off), for
#                      working on image/ before the real kernel/initramfs exist
#
# Inputs, each defaulting to what the other fragments build:
#   IMAGE_KERNEL, IMAGE_INITRAMFS        custom flavour: $(KERNEL_IMAGE), $(INITRAMFS)
#   IMAGE_KERNEL_SB, IMAGE_INITRAMFS_SB  Secure Boot flavour: Debian's signed
#                                        $(DISTRO_KERNEL) and $(INITRAMFS_DISTRO),
#                                        which carries that kernel's modules
#   MIGRATOR_CONF                        the sample migrator.conf put on the media
#   IMAGE_OUT                            output directory, $(B)/image
#   SOURCE_DATE_EPOCH                    every date and id on the media (last commit)
# Override the IMAGE_* names, not KERNEL_IMAGE/INITRAMFS: those are the
# targets of kernel-config/ and initramfs/ rules.

KERNEL_IMAGE ?= $(B)/kernel/bzImage
INITRAMFS ?= $(B)/initramfs/rescue.cpio.zst
INITRAMFS_DISTRO ?= $(B)/initramfs/rescue-distro.cpio.zst
DISTRO_KERNEL ?= $(shell ls -1v /boot/vmlinuz-*-amd64 2>/dev/null | tail -n 1)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 315532800)

IMAGE_OUT ?= $(B)/image
IMAGE_KERNEL ?= $(KERNEL_IMAGE)
IMAGE_INITRAMFS ?= $(INITRAMFS)
IMAGE_KERNEL_SB ?= $(DISTRO_KERNEL)
IMAGE_INITRAMFS_SB ?= $(INITRAMFS_DISTRO)
MIGRATOR_CONF ?= image/migrator.conf.sample

IMAGE_ENV := SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH)
IMAGE_COMMON := image/lib.sh image/grub/early.cfg image/grub/grub.cfg \
	image/grub/sb-bootstrap.cfg $(MIGRATOR_CONF)

IMAGE_CUSTOM := $(IMAGE_OUT)/migrator.iso \
	$(IMAGE_OUT)/migrator-rescue.img $(IMAGE_OUT)/migrator-rescue.qcow2 \
	$(IMAGE_OUT)/pxe/vmlinuz $(IMAGE_OUT)/pxe/initramfs.cpio.zst $(IMAGE_OUT)/pxe/boot.ipxe
IMAGE_SB := $(IMAGE_OUT)/migrator-sb.iso \
	$(IMAGE_OUT)/migrator-rescue-sb.img $(IMAGE_OUT)/migrator-rescue-sb.qcow2

ALL += media

.PHONY: media media-custom media-sb media-smoke media-standin
media: media-custom media-sb
media-custom: $(IMAGE_CUSTOM)
media-sb: $(IMAGE_SB)

# The scripts write $@.tmp and rename it themselves.
$(IMAGE_OUT)/migrator.iso: $(IMAGE_KERNEL) $(IMAGE_INITRAMFS) image/mkiso.sh $(IMAGE_COMMON)
	@mkdir -p $(@D)
	$(IMAGE_ENV) image/mkiso.sh -k $(IMAGE_KERNEL) -i $(IMAGE_INITRAMFS) -c $(MIGRATOR_CONF) -V $(VERSION) -o $@

$(IMAGE_OUT)/migrator-sb.iso: $(IMAGE_KERNEL_SB) $(IMAGE_INITRAMFS_SB) image/mkiso.sh $(IMAGE_COMMON)
	@mkdir -p $(@D)
	$(IMAGE_ENV) image/mkiso.sh -s -k $(IMAGE_KERNEL_SB) -i $(IMAGE_INITRAMFS_SB) -c $(MIGRATOR_CONF) -V $(VERSION) -o $@

$(IMAGE_OUT)/migrator-rescue.img: $(IMAGE_KERNEL) $(IMAGE_INITRAMFS) image/mkdisk.sh $(IMAGE_COMMON)
	@mkdir -p $(@D)
	$(IMAGE_ENV) image/mkdisk.sh -k $(IMAGE_KERNEL) -i $(IMAGE_INITRAMFS) -c $(MIGRATOR_CONF) -V $(VERSION) -o $@

$(IMAGE_OUT)/migrator-rescue-sb.img: $(IMAGE_KERNEL_SB) $(IMAGE_INITRAMFS_SB) image/mkdisk.sh $(IMAGE_COMMON)
	@mkdir -p $(@D)
	$(IMAGE_ENV) image/mkdisk.sh -s -k $(IMAGE_KERNEL_SB) -i $(IMAGE_INITRAMFS_SB) -c $(MIGRATOR_CONF) -V $(VERSION) -o $@

# Compressed qcow2: the raw image is mostly empty file system.
$(IMAGE_OUT)/%.qcow2: $(IMAGE_OUT)/%.img
	qemu-img convert -f raw -O qcow2 -c $< $@.tmp
	mv $@.tmp $@

$(IMAGE_OUT)/pxe/vmlinuz: $(IMAGE_KERNEL)
	@mkdir -p $(@D)
	cp $< $@.tmp
	mv $@.tmp $@

$(IMAGE_OUT)/pxe/initramfs.cpio.zst: $(IMAGE_INITRAMFS)
	@mkdir -p $(@D)
	cp $< $@.tmp
	mv $@.tmp $@

$(IMAGE_OUT)/pxe/boot.ipxe: image/pxe/boot.ipxe
	@mkdir -p $(@D)
	sed 's|@VERSION@|$(VERSION)|g' $< > $@.tmp
	mv $@.tmp $@

# Boots every medium in $(IMAGE_OUT); TAP on stdout, logs of failures kept
# in $(IMAGE_OUT)/smoke/.
media-smoke: media
	image/smoke/smoke.sh $(IMAGE_OUT)

# Stand-ins: Debian's kernel (both flavours) and the test init.
IMAGE_STANDIN := $(B)/image-standin
$(IMAGE_STANDIN)/test-initramfs.cpio.zst: image/smoke/init.c image/smoke/mkinitrd.sh
	@mkdir -p $(@D)
	$(IMAGE_ENV) image/smoke/mkinitrd.sh $@

media-standin: $(IMAGE_STANDIN)/test-initramfs.cpio.zst
	$(MAKE) --no-print-directory media-smoke IMAGE_OUT=$(IMAGE_STANDIN) \
		IMAGE_KERNEL=$(DISTRO_KERNEL) IMAGE_INITRAMFS=$< IMAGE_INITRAMFS_SB=$<
