/* Test fixture for test_virtq_*: see virtq_fixture.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "fake_mem.h"
#include "virtq_fixture.h"

struct guest_mem mem;
struct vring_driver drv;
struct virtq q;
struct virtq_chain *ch;
void *big_map; /* an mmap'd region in mem, not fake_mem's to free */

struct virtq_chain *chain_alloc(uint16_t max_segs)
{
        struct virtq_chain *c = calloc(1, sizeof(*c) + (size_t)max_segs * sizeof(struct virtq_seg));

        cr_assert_not_null(c);
        return c;
}

/* A queue of size entries over fresh rings; the test's driver is drv, the device q. */
void setup_q(uint16_t size, uint16_t max_segs, uint32_t max_len, bool event_idx, bool indirect)
{
        struct virtq_geometry g;

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        vd_init(&drv, &mem, size, DESC_GPA, AVAIL_GPA, USED_GPA);
        g = vd_geometry(&drv);
        cr_assert_eq(
            virtq_init(&q, &mem, &g, VIRTQ_MAX_SIZE, max_segs, max_len, event_idx, indirect), 0);
        ch = chain_alloc(max_segs);
}

void setup_default(void)
{
        setup_q(16, 16, MAX_LEN, false, true);
}

void teardown(void)
{
        free(ch);
        ch = NULL;
        if (big_map) {
                for (unsigned int i = 0; i < mem.nr; i++)
                        if (mem.region[i].host == big_map)
                                mem.nr = i;
                munmap(big_map, BIG_MAP_SIZE);
                big_map = NULL;
        }
        fake_mem_free(&mem);
}

struct vd_buf rd(uint64_t addr, uint32_t len)
{
        return (struct vd_buf){.addr = addr, .len = len, .write = false};
}

struct vd_buf wr(uint64_t addr, uint32_t len)
{
        return (struct vd_buf){.addr = addr, .len = len, .write = true};
}

/* Asserts the next used element is (id, len). */
void expect_used(uint32_t id, uint32_t len)
{
        uint32_t got_id, got_len;

        cr_assert(vd_get_used(&drv, &got_id, &got_len), "expected a used element for %u", id);
        cr_assert_eq(got_id, id, "used id %u, expected %u", got_id, id);
        cr_assert_eq(got_len, len, "used len %u for id %u, expected %u", got_len, id, len);
}

void expect_no_used(void)
{
        uint32_t id, len;

        cr_assert_not(vd_get_used(&drv, &id, &len), "unexpected used element %u", id);
}

bool inflight_empty(const struct virtq *vq)
{
        for (size_t i = 0; i < sizeof(vq->inflight) / sizeof(vq->inflight[0]); i++)
                if (vq->inflight[i])
                        return false;
        return true;
}

/* One good one-buffer chain in descriptor i, published. */
void add_good(uint16_t i)
{
        struct vd_buf b = wr(BUF_GPA + 0x100ull * i, 64);

        vd_add_chain(&drv, i, &b, 1);
}
