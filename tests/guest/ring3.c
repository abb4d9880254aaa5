/* Ring 3: a GDT with user segments and a TSS, U bits, and the way back (user.S, user_trap). */
#include "virtio.h"
#include "x86.h"

#define CR4_SMEP (1UL << 20)
#define CR4_SMAP (1UL << 21)
#define DESC_USER_DATA 0x00cff2000000ffffUL   /* DPL 3, writable */
#define DESC_USER_CODE64 0x00affa000000ffffUL /* DPL 3, long mode */
#define USER_STACK_SIZE (64UL << 10)
#define TRAP_STACK_SIZE (16UL << 10)

struct tss64 {
        u32 reserved0;
        u64 rsp0, rsp1, rsp2;
        u64 reserved1;
        u64 ist[7];
        u64 reserved2;
        u16 reserved3;
        u16 iomap_base;
        /* Every port allowed, then the all-ones byte the CPU may read past the end. IOPL 3
         * would do, but kvm_pvm clears IOPL in ring 3; the bitmap is honoured there. */
        u8 iomap[65536 / 8 + 1];
} __attribute__((packed));

extern const u64 gdt[]; /* entry.S: null, then wisp's three boot selectors */
extern const u8 _image_start[], _end[];
extern const u8 user_exit_ud2[];
void user_resume(u64 ret) __attribute__((noreturn));

static u64 gdt3[8] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static bool ready;
u64 user_stack_top; /* user.S */
extern bool palloc_user;

void ring3_init(void)
{
        struct desc_ptr p = {sizeof(gdt3) - 1, (u64)gdt3};
        u64 base = (u64)&tss, limit = sizeof(tss) - 1, cr4, start, end;
        u8 *ustack, *kstack;

        if (ready)
                return;
        memcpy(gdt3, gdt, 4 * sizeof(u64));
        gdt3[GUEST_USER_DS >> 3] = DESC_USER_DATA;
        gdt3[GUEST_USER_CS >> 3] = DESC_USER_CODE64;
        kstack = palloc(TRAP_STACK_SIZE, 4096);
        ustack = palloc(USER_STACK_SIZE, 4096);
        tss.rsp0 = (u64)kstack + TRAP_STACK_SIZE;
        tss.iomap_base = __builtin_offsetof(struct tss64, iomap);
        memset(tss.iomap, 0, sizeof(tss.iomap) - 1);
        tss.iomap[sizeof(tss.iomap) - 1] = 0xff;
        gdt3[GUEST_TSS >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89UL << 40 |
                               ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
        gdt3[(GUEST_TSS >> 3) + 1] = base >> 32;
        __asm__ volatile("lgdt %0" : : "m"(p));
        __asm__ volatile("ltr %w0" : : "r"((u16)GUEST_TSS));
        /* Ring-0 code runs from U pages now: no SMEP/SMAP. */
        __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
        cr4 &= ~(CR4_SMEP | CR4_SMAP);
        __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
        user_stack_top = (u64)ustack + USER_STACK_SIZE;
        mmu_set_user((u64)_image_start, (u64)_end - (u64)_image_start);
        palloc_range(&start, &end);
        mmu_set_user(start, end - start);
        palloc_user = true;
        ready = true;
}

/* The #UD of user_exit_ud2 in ring 3 is the way back; anything else is a real trap. */
bool ring3_ready(void)
{
        return ready;
}

bool user_trap(struct trap_frame *f)
{
        if ((f->cs & 3) != 3 || f->vector != 6 || f->rip != (u64)user_exit_ud2)
                return false;
        user_resume(f->rdi);
}
