/* IOAPIC: redirection entries (edge, active high, fixed, physical destination). */
#include "guest.h"
#include "x86.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))
#define REDIR_MASKED (1u << 16)

static u64 ioapic_base = WISP_IOAPIC_ADDR;

void ioapic_set_base(u64 base)
{
        ioapic_base = base;
}

static u32 rd(u32 reg)
{
        mmio_write32(ioapic_base + IOREGSEL, reg);
        return mmio_read32(ioapic_base + IOWIN);
}

static void wr(u32 reg, u32 v)
{
        mmio_write32(ioapic_base + IOREGSEL, reg);
        mmio_write32(ioapic_base + IOWIN, v);
}

u32 ioapic_pins(void)
{
        return ((rd(IOAPIC_VER) >> 16) & 0xff) + 1;
}

void ioapic_route(u32 pin, u8 vector, u8 dest_apic_id)
{
        wr(IOAPIC_REDTBL(pin) + 1, (u32)dest_apic_id << 24);
        wr(IOAPIC_REDTBL(pin), vector);
}

void ioapic_mask(u32 pin)
{
        wr(IOAPIC_REDTBL(pin), REDIR_MASKED);
}
