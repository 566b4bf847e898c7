# migrator — the one top-level Makefile. Start here.
#
#   make            the rescue media and the static migrator (all artefacts under build/)
#   make sysroot    static musl sysroot from Debian source packages (cached)
#   make migrator   build/musl/migrator, static, stripped
#   make check      host unit + CLI tests (ASan/UBSan build), then the QEMU smoke tests
#   make clean      remove build/ (the cache outside the clone stays)
#
# Each directory brings its own rules in a fragment included below; this file
# holds only what they share. Builds write $@.tmp and rename it into place.

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SUFFIXES:
.DELETE_ON_ERROR:

# Downloads and finished builds that outlive the clone, keyed by version/recipe hash.
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/migrator
B := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
NPROC := $(shell nproc)

WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
	-Werror=implicit-function-declaration -Werror=int-conversion \
	-Werror=format-security -Werror=incompatible-pointer-types
STD := -std=gnu11 -D_GNU_SOURCE -DMIGRATOR_VERSION='"$(VERSION)"'

# Host build: what the unit tests run, with the sanitizers on.
HOST_CC ?= gcc
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_CFLAGS := $(STD) $(WARN) -g -O1 $(SAN)
HOST_LDFLAGS := $(SAN)

ALL :=
CHECK_UNIT :=
CHECK_QEMU :=

include deps/deps.mk
include init/init.mk          # before migrator.mk: it reads INIT_SRCS
include migrator/migrator.mk
include initramfs/initramfs.mk
-include kernel-config/kernel.mk
-include image/image.mk
include tests/tests.mk
include tests/fuzz/fuzz.mk
-include qemu-tests/qemu-tests.mk

all: $(ALL)

# After every fragment: they append to CHECK_UNIT and CHECK_QEMU.
check: check-unit fuzz-smoke $(CHECK_QEMU)

# Host packages (apt-get); a quick no-op when everything is present.
.PHONY: host-setup
host-setup:
	deps/host-setup.sh

.PHONY: clean
clean:
	rm -rf $(B)
