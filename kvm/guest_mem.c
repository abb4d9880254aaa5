/* Guest RAM layout around the PCI hole, and the bounds-checked accessor. */
#include "kvm/guest_mem.h"

#include <errno.h>
#include <string.h>

#include "boot/layout.h"

int guest_mem_layout(struct guest_mem *mem, uint64_t ram_size)
{
        const uint64_t hole = WISP_PCI_HOLE_START;

        memset(mem, 0, sizeof(*mem));
        if (ram_size == 0 || ram_size % 4096)
                return -EINVAL;
        mem->region[0].gpa = 0;
        mem->region[0].size = ram_size < hole ? ram_size : hole;
        mem->nr = 1;
        if (ram_size > hole) {
                mem->region[1].gpa = WISP_RAM_HIGH_START;
                mem->region[1].size = ram_size - hole;
                mem->nr = 2;
        }
        mem->ram_size = ram_size;
        return 0;
}

void *guest_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
        if (len == 0)
                return NULL;
        for (unsigned int i = 0; i < mem->nr; i++) {
                const struct guest_region *r = &mem->region[i];

                /* Written so that no sum can overflow: gpa - r->gpa only
                 * after gpa >= r->gpa, and len compared with what is left. */
                if (gpa < r->gpa || gpa - r->gpa >= r->size)
                        continue;
                if (len > r->size - (gpa - r->gpa))
                        return NULL;
                return r->host + (gpa - r->gpa);
        }
        return NULL;
}

bool guest_range_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
        for (unsigned int i = 0; i < mem->nr; i++) {
                const struct guest_region *r = &mem->region[i];

                if (gpa >= r->gpa && gpa - r->gpa < r->size)
                        return len != 0 && len <= r->size - (gpa - r->gpa);
        }
        return false;
}

int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
        void *p = guest_ptr(mem, gpa, len);

        if (!p)
                return -EFAULT;
        memcpy(p, src, len);
        return 0;
}

int guest_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
        const void *p = guest_ptr(mem, gpa, len);

        if (!p)
                return -EFAULT;
        memcpy(dst, p, len);
        return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
        return mem->nr ? mem->region[0].gpa + mem->region[0].size : 0;
}
