# init/ — PID 1 of the rescue system (contract: init/init.h). It is not a
# program of its own: INIT_SRCS are compiled into the static migrator binary
# (migrator/migrator.mk), whose main() calls init_main() when invoked as
# "init"; the initramfs links /init -> /bin/migrator.
#
#   INIT_SRCS   every init/*.c
#   INIT_PKGS   pkg-config names init needs on top of libmigrator's
#               (libcurl for metadata.c, blkid for confsrc.c)
#
# Host unit tests of the pure parts (ASan/UBSan), each linking only the
# init/*.c it needs, are appended to CHECK_UNIT.

INIT_SRCS := $(sort $(wildcard init/*.c))
INIT_PKGS := libcurl blkid

INIT_TESTS := test-init-config test-init-ipconf test-init-parsers
INIT_TEST_BINS := $(INIT_TESTS:%=$(B)/host/tests/%)
CHECK_UNIT += $(INIT_TEST_BINS)

$(B)/host/tests/test-init-config: init/config.c
$(B)/host/tests/test-init-ipconf: init/ipconf.c
$(B)/host/tests/test-init-parsers: init/console.c init/firmware.c init/loop.c \
	init/metadata.c init/modalias.c init/mounts.c init/uevent.c init/util.c \
	migrator/lib/fileio.c
INIT_TEST_LIBS_test-init-parsers = $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

$(INIT_TEST_BINS): $(B)/host/tests/%: tests/unit/%.c tests/unit/tap.h $(wildcard init/*.h)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -Iinit -Itests/unit -o $@.tmp $(filter %.c,$^) \
		$(HOST_LDFLAGS) $(INIT_TEST_LIBS_$*) && mv $@.tmp $@

.PHONY: check-init
check-init: $(INIT_TEST_BINS)
	tests/run.sh $^
