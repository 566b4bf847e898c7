# qemu-tests/ — black-box tests of the rescue media under QEMU (TCG), as TAP.
#   make check-qemu     the smoke tests of every boot path and of the rescue
#                       system's filesystem tools (qemu-tests/smoke.sh; one case:
#                       B=$PWD/build qemu-tests/smoke.sh fs-tools)
#   make check-e2e      end-to-end migrations of Debian servers (qemu-tests/migrate.sh)
#   make check-e2e-quick   the part of check-e2e that `make check` runs
# Serial logs: $(B)/qemu-tests/logs/NAME.log, kept.

QEMU_SMOKE_DEPS = media $(KERNEL_IMAGE) $(INITRAMFS)

.PHONY: check-qemu
check-qemu: $(QEMU_SMOKE_DEPS)
	B=$(abspath $(B)) TEST_TIMEOUT=1800 tests/run.sh qemu-tests/smoke.sh

CHECK_QEMU += check-qemu

# The README's main job: build the media, then migrate a Debian server under
# QEMU and boot the copy (qemu-tests/demo.sh).
.PHONY: demo
demo: media
	B=$(abspath $(B)) qemu-tests/demo.sh

# End-to-end migrations (issue 5): a real Debian 12 server, built once with
# debootstrap and cached (qemu-tests/fixtures/mk-debian.sh), copied between two
# rescue VMs by send/receive, verified, then booted alone on other hardware.
#   make check-e2e                      every scenario of qemu-tests/migrate.sh
#   make check-e2e E2E_CASES="bios"     some of them
E2E_CASES ?=
.PHONY: check-e2e e2e-fixtures
e2e-fixtures:
	qemu-tests/fixtures/mk-debian.sh bios >/dev/null
	qemu-tests/fixtures/mk-debian.sh uefi >/dev/null

check-e2e: media e2e-fixtures
	B=$(abspath $(B)) E2E_CASES="$(E2E_CASES)" TEST_VERBOSE=1 TEST_TIMEOUT=3600 tests/run.sh qemu-tests/migrate.sh

# The part of it in `make check` (what CI runs): the BIOS migration and the
# wrong token. Measured on 2 cores under TCG: about 10 minutes on a fresh
# machine (debootstrap about 5 of them, then cached), about 4 once cached.
# `make check E2E_CHECK_CASES=` leaves it out (e.g. without a Debian mirror).
E2E_CHECK_CASES ?= bios wrong-token
.PHONY: check-e2e-quick
check-e2e-quick: media
ifneq ($(strip $(E2E_CHECK_CASES)),)
	qemu-tests/fixtures/mk-debian.sh bios >/dev/null
	B=$(abspath $(B)) E2E_CASES="$(E2E_CHECK_CASES)" TEST_TIMEOUT=1800 tests/run.sh qemu-tests/migrate.sh
endif

CHECK_QEMU += check-e2e-quick
