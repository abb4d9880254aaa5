/* Boot-info parsing: PVH hvm_start_info or Linux boot_params into one struct boot_info. */
#include "guest.h"

/* xen/include/public/arch-x86/hvm/start_info.h */
struct hvm_start_info {
        u32 magic;
        u32 version;
        u32 flags;
        u32 nr_modules;
        u64 modlist_paddr;
        u64 cmdline_paddr;
        u64 rsdp_paddr;
        u64 memmap_paddr; /* version >= 1 */
        u32 memmap_entries;
        u32 reserved;
};

struct hvm_memmap_table_entry {
        u64 addr;
        u64 size;
        u32 type;
        u32 reserved;
};

/* struct boot_params offsets (Documentation/x86/zero-page.rst). */
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_CMD_LINE_PTR 0x228
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_MAX 128

struct e820_entry {
        u64 addr;
        u64 size;
        u32 type;
} __attribute__((packed));

/* Our page tables map the low 4 GiB; anything beyond is out of reach. */
#define MAPPED_END 0x100000000UL

struct boot_info boot_info;

static bool reachable(u64 addr, u64 len)
{
        return addr < MAPPED_END && len <= MAPPED_END - addr;
}

static void copy_cmdline(struct boot_info *bi, u64 addr)
{
        const volatile char *src = (const volatile char *)addr;

        bi->cmdline[0] = 0;
        if (!addr)
                return;
        if (!reachable(addr, WISP_CMDLINE_MAX)) {
                bi->cmdline_bad = true;
                return;
        }
        for (u64 i = 0; i < WISP_CMDLINE_MAX; i++) {
                bi->cmdline[i] = src[i];
                if (!src[i])
                        return;
        }
        bi->cmdline[WISP_CMDLINE_MAX - 1] = 0;
        bi->cmdline_bad = true;
}

static void add_region(struct boot_info *bi, u64 addr, u64 size, u32 type)
{
        if (bi->nr_mem == BOOT_MEM_MAX) {
                bi->mem_truncated = true;
                return;
        }
        bi->mem[bi->nr_mem++] = (struct mem_region){addr, size, type};
}

static void parse_pvh(struct boot_info *bi, const struct hvm_start_info *si)
{
        struct hvm_start_info s = *si; /* read once */

        bi->kind_name = "pvh";
        if (s.version >= 1 && s.memmap_paddr &&
            reachable(s.memmap_paddr,
                      (u64)s.memmap_entries * sizeof(struct hvm_memmap_table_entry))) {
                const struct hvm_memmap_table_entry *e = (const void *)s.memmap_paddr;

                for (u32 i = 0; i < s.memmap_entries && !bi->mem_truncated; i++)
                        add_region(bi, e[i].addr, e[i].size, e[i].type);
        }
        copy_cmdline(bi, s.cmdline_paddr);
}

static void parse_linux(struct boot_info *bi, const u8 *zp)
{
        u8 n = zp[ZP_E820_ENTRIES];
        const struct e820_entry *e = (const void *)(zp + ZP_E820_TABLE);
        u64 lo = *(const u32 *)(zp + ZP_CMD_LINE_PTR);
        u64 hi = *(const u32 *)(zp + ZP_EXT_CMD_LINE_PTR);

        bi->kind_name = "linux64";
        if (n > ZP_E820_MAX) {
                n = ZP_E820_MAX;
                bi->mem_truncated = true;
        }
        for (u32 i = 0; i < n; i++)
                add_region(bi, e[i].addr, e[i].size, e[i].type);
        copy_cmdline(bi, hi << 32 | lo);
}

void bootinfo_parse(struct boot_info *bi, u32 kind, u64 ptr)
{
        bi->kind = kind;
        if (!reachable(ptr, 4096)) {
                bi->kind_name = "unreachable-boot-info";
                bi->cmdline_bad = true;
                return;
        }
        if (kind == BOOT_KIND_PVH)
                parse_pvh(bi, (const void *)ptr);
        else
                parse_linux(bi, (const void *)ptr);
}
