# Rescue kernel, custom flavour (kernel-config/README.md).
#
#   make kernel          $(KERNEL_IMAGE) and $(KERNEL_CONFIG), from Debian's
#                        linux-source-6.1 and rescue.miniconfig; cached in
#                        $(CACHE)/kernel-<key>/, so a rebuild is instant
#   make kernel-smoke    boots it under QEMU/TCG for every disk controller,
#                        NIC and firmware it must support (TAP)

KERNEL_DIR := $(B)/kernel
KERNEL_IMAGE := $(KERNEL_DIR)/bzImage
KERNEL_CONFIG := $(KERNEL_DIR)/config

.PHONY: kernel kernel-smoke kernel-always
kernel: $(KERNEL_IMAGE)

# build.sh knows from its cache key whether anything must be built (the key
# includes the package and compiler versions, which make cannot see), and
# replaces the outputs only when their content changed: so it always runs.
kernel-always:
$(KERNEL_IMAGE): kernel-always
	JOBS=$(NPROC) kernel-config/build.sh $(KERNEL_DIR) $(CACHE)
$(KERNEL_CONFIG): $(KERNEL_IMAGE)

kernel-smoke: $(KERNEL_IMAGE)
	kernel-config/smoke-test.sh -k $(KERNEL_IMAGE)

CHECK_QEMU += kernel-smoke
