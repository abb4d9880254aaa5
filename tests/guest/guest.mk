# Test guest (tests/guest): build/guest/test-guest.elf, test-guest.bzImage and the host tool
# mkbzimage. Included by the top-level Makefile; standalone: make -f tests/guest/guest.mk guest
GUEST_CC ?= gcc
GUEST_OBJCOPY ?= objcopy
GUEST_NM ?= nm
GUEST_HOSTCC ?= cc

GUEST_SRC := tests/guest
GUEST_OUT := build/guest

GUEST_CFLAGS := -std=gnu11 -ffreestanding -nostdlib -nostdinc -mgeneral-regs-only -mno-red-zone \
	-fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fcf-protection=none -O2 -Wall -Wextra -Werror -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 \
	-Wl,-z,noexecstack
GUEST_HOSTCFLAGS := -O2 -Wall -Wextra -Werror

GUEST_C := main.c bootinfo.c cmdline.c lib.c uart.c exit.c time.c idt.c lapic.c ioapic.c \
	pit.c mptable.c smp.c kvmclock.c test_boot.c test_echo.c test_simple.c \
	palloc.c mmu.c ring3.c tsc.c pci.c msix.c virtio.c virtio_modern.c virtio_legacy.c virtq.c \
	blk.c blkdev.c pattern.c test_blk.c test_blkbench.c test_blkfault.c test_hostile.c \
	test_hostile_regs.c test_hostile2.c test_hostile3.c test_hostile4.c test_hostile5.c \
	test_hostile_pci.c vfind.c net.c netframe.c test_net.c test_hostile_net.c \
	test_hostile_net_rewrite.c test_hostile_net_flood.c test_netbench.c \
	console.c test_console.c test_load.c
GUEST_ASM := entry.S trampoline.S isr.S user.S
GUEST_OBJS := $(addprefix $(GUEST_OUT)/,$(GUEST_C:.c=.o) $(GUEST_ASM:.S=.o))
GUEST_C_OBJS := $(addprefix $(GUEST_OUT)/,$(GUEST_C:.c=.o))
GUEST_ASM_OBJS := $(addprefix $(GUEST_OUT)/,$(GUEST_ASM:.S=.o) bzsetup.o)

.PHONY: guest guest-clean
guest: $(GUEST_OUT)/test-guest.elf $(GUEST_OUT)/test-guest.bzImage

$(GUEST_C_OBJS): $(GUEST_OUT)/%.o: $(GUEST_SRC)/%.c $(GUEST_SRC)/guest.mk
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_ASM_OBJS): $(GUEST_OUT)/%.o: $(GUEST_SRC)/%.S $(GUEST_SRC)/guest.mk
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/test-guest.elf: $(GUEST_OBJS) $(GUEST_SRC)/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-T,$(GUEST_SRC)/guest.ld -o $@ $(GUEST_OBJS)

$(GUEST_OUT)/test-guest.bin: $(GUEST_OUT)/test-guest.elf
	$(GUEST_OBJCOPY) -O binary $< $@

# The real-mode stub, linked at 0 so its labels are offsets in the setup segment.
$(GUEST_OUT)/bzsetup.bin: $(GUEST_OUT)/bzsetup.o
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-Ttext=0 -o $(GUEST_OUT)/bzsetup.elf $<
	$(GUEST_OBJCOPY) -O binary -j .text $(GUEST_OUT)/bzsetup.elf $@

$(GUEST_OUT)/mkbzimage: $(GUEST_SRC)/mkbzimage.c
	@mkdir -p $(@D)
	$(GUEST_HOSTCC) $(GUEST_HOSTCFLAGS) -o $@ $<

$(GUEST_OUT)/test-guest.bzImage: $(GUEST_OUT)/mkbzimage $(GUEST_OUT)/bzsetup.bin \
		$(GUEST_OUT)/test-guest.bin $(GUEST_OUT)/test-guest.elf
	$(GUEST_OUT)/mkbzimage $(GUEST_OUT)/bzsetup.bin $(GUEST_OUT)/test-guest.bin \
		0x$$($(GUEST_NM) -P $(GUEST_OUT)/test-guest.elf | awk '$$1 == "_image_size" { print $$3 }') $@

guest-clean:
	rm -rf $(GUEST_OUT)

-include $(GUEST_OBJS:.o=.d) $(GUEST_OUT)/bzsetup.d
