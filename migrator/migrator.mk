# migrator/ — libmigrator and the CLI, built twice:
#   $(B)/host/migrator   host glibc, ASan+UBSan: what the unit and CLI tests run
#   $(B)/musl/migrator   static musl against the sysroot, stripped: what ships
# The static binary also carries PID 1 (init/, when present): /init -> /bin/migrator.

MIG_LIB_SRCS := $(sort $(wildcard migrator/lib/*.c))
MIG_CLI_SRCS := $(sort $(wildcard migrator/cli/*.c))
MIG_PKGS := blkid fdisk nettle libzstd gnutls libmicrohttpd libcurl liblzma libarchive

# --- host build (tests) -------------------------------------------------------
HOST_PKG_CFLAGS := $(shell pkg-config --cflags $(MIG_PKGS) 2>/dev/null)
HOST_PKG_LIBS := $(shell pkg-config --libs $(MIG_PKGS) 2>/dev/null)
HOST_LIB := $(B)/host/libmigrator.a
HOST_MIGRATOR := $(B)/host/migrator

$(B)/host/obj/%.o: %.c
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_PKG_CFLAGS) -MMD -MP -c $< -o $@

$(HOST_LIB): $(MIG_LIB_SRCS:%.c=$(B)/host/obj/%.o)
	@rm -f $@.tmp
	ar rcs $@.tmp $^ && mv $@.tmp $@

$(HOST_MIGRATOR): $(MIG_CLI_SRCS:%.c=$(B)/host/obj/%.o) $(HOST_LIB)
	$(HOST_CC) $(HOST_LDFLAGS) -o $@.tmp $^ $(HOST_PKG_LIBS) && mv $@.tmp $@

# --- static musl build (ships) ------------------------------------------------
MUSL_CFLAGS := $(STD) $(WARN) -Os -ffunction-sections -fdata-sections
MUSL_LIBS_PKGS := $(MIG_PKGS)
MUSL_MIGRATOR := $(B)/musl/migrator
MUSL_SRCS := $(MIG_LIB_SRCS) $(MIG_CLI_SRCS) $(INIT_SRCS)
ifneq ($(INIT_SRCS),)
MUSL_CFLAGS += -DMIGRATOR_WITH_INIT
MUSL_LIBS_PKGS += $(INIT_PKGS)
endif

$(B)/musl/obj/%.o: %.c $(SYSROOT_STAMP)
	@mkdir -p $(@D)
	$(MUSL_CC) $(MUSL_CFLAGS) $$($(MUSL_PKG_CONFIG) --cflags $(MUSL_LIBS_PKGS)) -MMD -MP -c $< -o $@

# mimalloc replaces musl's malloc (deps/recipes/mimalloc.sh says why);
# migrator-musl-malloc is the same program on musl's, for bench/blockcopy.sh.
MUSL_MIMALLOC := -Wl,--whole-archive $(SYSROOT)/lib/libmimalloc.a -Wl,--no-whole-archive

$(MUSL_MIGRATOR): $(MUSL_SRCS:%.c=$(B)/musl/obj/%.o)
	$(MUSL_CC) -static -Wl,--gc-sections -o $@.full $^ $(MUSL_MIMALLOC) $$($(MUSL_PKG_CONFIG) --libs $(MUSL_LIBS_PKGS))
	strip -o $@.tmp $@.full && mv $@.tmp $@

$(B)/musl/migrator-musl-malloc: $(MUSL_SRCS:%.c=$(B)/musl/obj/%.o)
	$(MUSL_CC) -static -Wl,--gc-sections -o $@.tmp $^ $$($(MUSL_PKG_CONFIG) --libs $(MUSL_LIBS_PKGS))
	strip $@.tmp && mv $@.tmp $@

.PHONY: migrator migrator-host
migrator: $(MUSL_MIGRATOR)
migrator-host: $(HOST_MIGRATOR)
ALL += $(MUSL_MIGRATOR)

-include $(shell find $(B)/host/obj $(B)/musl/obj -name '*.d' 2>/dev/null)
