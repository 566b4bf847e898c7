# qemu-tests/ — black-box tests of the rescue media under QEMU (TCG), as TAP.
#   make check-qemu     the smoke tests of every boot path (qemu-tests/smoke.sh)
# Serial logs: $(B)/qemu-tests/logs/NAME.log, kept.

QEMU_SMOKE_DEPS = media $(KERNEL_IMAGE) $(INITRAMFS)

.PHONY: check-qemu
check-qemu: $(QEMU_SMOKE_DEPS)
	B=$(abspath $(B)) TEST_TIMEOUT=1800 tests/run.sh qemu-tests/smoke.sh

CHECK_QEMU += check-qemu

# The README's main job: build the media and run the demo under QEMU.
.PHONY: demo
demo: media
	B=$(abspath $(B)) qemu-tests/demo.sh
