# Fuzzing: libFuzzer targets (clang, ASan + UBSan) over the product's pure code.
#
#   make fuzz-build   build/fuzz/fuzz_<target> for every tests/fuzz/fuzz_*.c
#   make fuzz         build, then run each target for FUZZ_SECONDS (60) on a copy of its seed
#                     corpus (build/fuzz/work/<target>); crashes land in build/fuzz/crash/<target>;
#                     non-zero exit if any target found one. tests/fuzz/regress/<target>/ is
#                     replayed first.

FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(BUILD)/fuzz
# The product and the helpers are instrumented for coverage (fuzzer-no-link); only the final
# link brings libFuzzer's main. UBSan findings abort, so they count as crashes.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -I. -I$(BUILD)/gen -Itests/unit -Wall -Wextra \
	-Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end \
	-Wno-missing-field-initializers -fno-strict-aliasing -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_LDFLAGS := -fsanitize=fuzzer $(FUZZ_SAN)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_HELPERS := tests/unit/fake_mem.c tests/unit/fake_kvm.c tests/unit/vpci_harness.c \
	tests/unit/vpci_virtio.c tests/unit/vring_driver.c tests/unit/kimage.c
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS) $(FUZZ_HELPERS))

.PHONY: fuzz fuzz-build

$(FUZZ_DIR)/obj/%.o: %.c $(HDRS) $(wildcard tests/unit/*.h) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJS)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -luring -lpthread

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)
