# Sanitizer builds (included by the top-level Makefile through tests/*/tier.mk):
#   make asan-build   build/asan/wisp and build/asan/unit/test_*: glibc, ASan + UBSan
#   make vg-build     build/vg/wisp: glibc, no sanitizer, for valgrind
# The product is a static musl binary; these are glibc builds of the same sources because
# the sanitizer runtimes and valgrind's malloc replacement need the glibc dynamic loader.
# Run by tests/tiers/20-asan.sh and tests/tiers/30-valgrind.sh.

SAN_CC ?= gcc
ASAN_DIR := $(BUILD)/asan
VG_DIR := $(BUILD)/vg

# -O1 -g instead of -O2 -g0: readable reports, and what the sanitizer manuals recommend.
SAN_CFLAGS_COMMON := $(filter-out -O2 -g0,$(CFLAGS_BASE)) -O1 -g -fno-omit-frame-pointer
# The instrumentation confuses GCC's flow analysis (false maybe-uninitialized warnings, e.g.
# a variable set by posix_memalign inside cr_assert); the product build keeps that warning.
ASAN_CFLAGS := $(SAN_CFLAGS_COMMON) -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Wno-maybe-uninitialized
VG_CFLAGS := $(SAN_CFLAGS_COMMON)

SAN_LIBS := -luring -lpthread

ASAN_WISP_OBJS := $(patsubst %.c,$(ASAN_DIR)/obj/%.o,$(WISP_SRCS))
ASAN_LIB_OBJS := $(patsubst %.c,$(ASAN_DIR)/obj/%.o,$(LIB_SRCS))
ASAN_HELPER_OBJS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/obj/tests/unit/%.o,$(UNIT_HELPERS))
ASAN_FIXTURE_OBJS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/obj/tests/unit/%.o,$(UNIT_FIXTURES))
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/unit/%,$(UNIT_SRCS))
VG_WISP_OBJS := $(patsubst %.c,$(VG_DIR)/obj/%.o,$(WISP_SRCS))

.PHONY: asan-build vg-build
asan-build: $(ASAN_DIR)/wisp $(ASAN_UNIT_BINS)
vg-build: $(VG_DIR)/wisp

$(ASAN_DIR)/obj/%.o: %.c $(HDRS) $(wildcard tests/unit/*.h) tests/sanitize/tier.mk
	@mkdir -p $(dir $@)
	@echo "  ASANCC  $<"
	@$(SAN_CC) $(ASAN_CFLAGS) -Itests/unit -c $< -o $@

$(ASAN_DIR)/wisp: $(ASAN_WISP_OBJS)
	@echo "  ASANLD  $@"
	@$(SAN_CC) $(ASAN_CFLAGS) -o $@ $^ $(SAN_LIBS)

# Each binary links only its own family's fixture (see unit_fixtures in the Makefile).
$(ASAN_DIR)/unit/%: tests/unit/%.c $(ASAN_HELPER_OBJS) $(ASAN_FIXTURE_OBJS) $(ASAN_LIB_OBJS) \
		$(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "  ASANTST $@"
	@$(SAN_CC) $(ASAN_CFLAGS) -Itests/unit -o $@ $< $(ASAN_HELPER_OBJS) \
		$(patsubst tests/unit/%.c,$(ASAN_DIR)/obj/tests/unit/%.o,$(call unit_fixtures,$*)) \
		$(ASAN_LIB_OBJS) -lcriterion $(SAN_LIBS)

$(VG_DIR)/obj/%.o: %.c $(HDRS) tests/sanitize/tier.mk
	@mkdir -p $(dir $@)
	@echo "  VGCC    $<"
	@$(SAN_CC) $(VG_CFLAGS) -c $< -o $@

$(VG_DIR)/wisp: $(VG_WISP_OBJS)
	@echo "  VGLD    $@"
	@$(SAN_CC) $(VG_CFLAGS) -o $@ $^ $(SAN_LIBS)
