# tests/ — host unit tests (C, one binary per file, linked against the ASan
# libmigrator) and CLI tests (shell, on disk images they make themselves).
#   make check        unit + CLI tests, then the QEMU tests
#   make check-unit   unit + CLI tests only (seconds)

UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
# tests/unit/test-init-*.c are built by init/init.mk
MIG_UNIT_SRCS := $(filter-out tests/unit/test-init-%,$(UNIT_SRCS))
MIG_UNIT_BINS := $(MIG_UNIT_SRCS:tests/unit/%.c=$(B)/host/tests/%)
CHECK_UNIT += $(MIG_UNIT_BINS)
CLI_TESTS := $(filter-out tests/cli/lib.sh,$(sort $(wildcard tests/cli/*.sh)))

$(B)/host/tests/%: tests/unit/%.c $(HOST_LIB)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_PKG_CFLAGS) -Imigrator/lib -o $@.tmp $< $(HOST_LIB) \
		$(HOST_LDFLAGS) $(HOST_PKG_LIBS) && mv $@.tmp $@

.PHONY: check check-unit tests-build
tests-build: $(CHECK_UNIT) $(HOST_MIGRATOR) $(MUSL_MIGRATOR)

check-unit: tests-build
	MIGRATOR=$(abspath $(HOST_MIGRATOR)) MIGRATOR_STATIC=$(abspath $(MUSL_MIGRATOR)) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run.sh $(CHECK_UNIT) $(CLI_TESTS)

