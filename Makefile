# wisp: one static binary (musl), its unit tests (Criterion) and its integration tests.
#
#   make            build/wisp
#   make test       every test tier (installs what is missing first)
#   make run        build wisp and the Linux image, boot it to a shell
#   make format     clang-format every C file

CC_STATIC ?= musl-gcc
CC_HOST ?= gcc
BUILD := build

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS_BASE := -std=gnu11 -O2 -g0 -D_GNU_SOURCE -I. -I$(BUILD)/gen $(WARN) -fno-strict-aliasing \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2

# musl has no kernel headers of its own: borrow exactly linux/, asm/, asm-generic/, video/
# and liburing's headers (liburing.a makes raw system calls: it links with musl as is)
# from linux-libc-dev, never glibc's.
KINC := $(BUILD)/kinc
MULTIARCH := $(shell $(CC_HOST) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIBURING := /usr/lib/$(MULTIARCH)/liburing.a

SRC_DIRS := kvm boot devices vmm pci virtio
# vmm/sandbox_gen.c is a build-time tool, not part of wisp.
LIB_SRCS := $(filter-out vmm/main.c vmm/sandbox_gen.c,$(wildcard $(addsuffix /*.c,$(SRC_DIRS))))
WISP_SRCS := $(LIB_SRCS) vmm/main.c
# The SIGSYS report names the forbidden call: a table made from the kernel's own list.
SYSCALL_NAMES := $(BUILD)/gen/syscall_names.h
# The seccomp filters, compiled to BPF at build time by libseccomp (vmm/sandbox_gen.c).
SANDBOX_BPF := $(BUILD)/gen/sandbox_bpf.h
HDRS := $(wildcard $(addsuffix /*.h,$(SRC_DIRS))) $(SYSCALL_NAMES) $(SANDBOX_BPF)

WISP_OBJS := $(patsubst %.c,$(BUILD)/musl/%.o,$(WISP_SRCS))
HOST_OBJS := $(patsubst %.c,$(BUILD)/host/%.o,$(LIB_SRCS))

.PHONY: all test unit integration run format clean deps
# Objects are never intermediate: parallel helpers and incremental builds keep them.
.SECONDARY:
all: $(BUILD)/wisp

$(KINC)/.stamp: Makefile
	@mkdir -p $(KINC)
	@ln -sfn /usr/include/linux $(KINC)/linux
	@ln -sfn /usr/include/$(MULTIARCH)/asm $(KINC)/asm
	@ln -sfn /usr/include/asm-generic $(KINC)/asm-generic
	@ln -sfn /usr/include/video $(KINC)/video
	@ln -sfn /usr/include/liburing $(KINC)/liburing
	@ln -sfn /usr/include/liburing.h $(KINC)/liburing.h
	@touch $@

$(SYSCALL_NAMES): /usr/include/$(MULTIARCH)/asm/unistd_64.h
	@mkdir -p $(dir $@)
	@awk '$$1 == "#define" && $$2 ~ /^__NR_/ { sub(/^__NR_/, "", $$2); \
		printf "[%s] = \"%s\",\n", $$3, $$2 }' $< >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/sandbox_gen: vmm/sandbox_gen.c vmm/sandbox_lists.c vmm/sandbox.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	@$(CC_HOST) $(CFLAGS_BASE) -o $@ vmm/sandbox_gen.c vmm/sandbox_lists.c -lseccomp

$(SANDBOX_BPF): $(BUILD)/gen/sandbox_gen
	@echo "  GEN     $@"
	@$< >$@.tmp && mv $@.tmp $@

$(BUILD)/musl/%.o: %.c $(HDRS) $(KINC)/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC_STATIC) $(CFLAGS_BASE) -isystem $(KINC) -c $< -o $@

$(BUILD)/wisp: $(WISP_OBJS)
	@echo "  LD      $@"
	@$(CC_STATIC) -static -s -Wl,--gc-sections -o $@ $^ $(LIBURING) -lpthread

# Unit tests: the same sources built with the host compiler, linked with Criterion.
$(BUILD)/host/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	@$(CC_HOST) $(CFLAGS_BASE) -c $< -o $@

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
# A fixture shared by one family of tests, tests/unit/NAME_fixture.c, goes only into the
# test_NAME_* binaries: it holds the family's state under the tests' own short names and may
# stand in for libc or liburing functions (ioctl, fdatasync), which no other binary should get.
UNIT_FIXTURES := $(wildcard tests/unit/*_fixture.c)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS) $(UNIT_FIXTURES),$(wildcard tests/unit/*.c))
# unit_fixtures(test_NAME_x): the fixtures that binary links.
unit_fixtures = $(foreach x,$(UNIT_FIXTURES),$(if $(filter \
	test_$(patsubst tests/unit/%_fixture.c,%,$(x))_%,$(1)),$(x)))

$(BUILD)/unit/%: tests/unit/%.c $(UNIT_HELPERS) $(UNIT_FIXTURES) $(HOST_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC_HOST) $(CFLAGS_BASE) -Itests/unit -o $@ $< $(UNIT_HELPERS) $(call unit_fixtures,$*) \
		$(HOST_OBJS) -lcriterion -luring -lpthread

unit: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t --jobs 2 || rc=1; done; exit $$rc

include tests/guest/guest.mk
include images/images.mk
# Further tiers bring their own rules (fuzzing, sanitizer builds).
-include $(wildcard tests/*/tier.mk)

integration: $(BUILD)/wisp guest
	tests/integration/run.sh

deps:
	@tests/deps.sh

test: deps
	@$(MAKE) --no-print-directory all guest $(UNIT_BINS)
	@tests/run-all.sh

run: deps all images
	$(BUILD)/wisp run -k "$$(cat $(BUILD)/images.dir)/vmlinux" -i "$$(cat $(BUILD)/images.dir)/initramfs.cpio" -m 256M

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
