# tests/fuzz/ — libFuzzer targets for every parser of untrusted bytes.
#   make fuzz                 each target for FUZZ_SECONDS (default 300)
#   make fuzz-smoke           each target for 10 s (part of make check)
# Corpora live in $(B)/fuzz/corpus-NAME; seeds are the disk images tests/cli make.

FUZZ_CC := clang-14
FUZZ_CFLAGS := $(STD) -g -O1 -fsanitize=fuzzer,address,undefined -Imigrator/lib \
	-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/%)
FUZZ_SECONDS ?= 300

$(B)/fuzz/%: tests/fuzz/%.c $(MIG_LIB_SRCS) $(wildcard migrator/lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(HOST_PKG_CFLAGS) -o $@.tmp $< $(MIG_LIB_SRCS) $(HOST_PKG_LIBS) && mv $@.tmp $@

define run-fuzz
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/corpus-$$t; \
		MIGRATOR=$(abspath $(HOST_MIGRATOR)) tests/fuzz/seed.sh $(B)/fuzz/corpus-$$t || exit 1; \
		echo "fuzz: $$t for $(1) s"; \
		$(B)/fuzz/$$t -max_total_time=$(1) -max_len=1048576 -rss_limit_mb=1024 \
			-print_final_stats=1 $(B)/fuzz/corpus-$$t 2>$(B)/fuzz/$$t.log \
			|| { tail -40 $(B)/fuzz/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|stat::new_units_added' $(B)/fuzz/$$t.log; \
	done
endef

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS) $(HOST_MIGRATOR)
	$(call run-fuzz,$(FUZZ_SECONDS))
fuzz-smoke: $(FUZZ_BINS) $(HOST_MIGRATOR)
	$(call run-fuzz,10)
