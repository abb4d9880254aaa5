/* Test fixture for test_blk_req_*: see blk_req_fixture.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>

#include "blk_req_fixture.h"
#include "fake_mem.h"

struct guest_mem mem;
struct vring_driver drv;
struct virtq q;
struct virtq_chain *ch;
struct blk_plan plan;
uint16_t next_desc;
const struct blk_limits rw = {
    .capacity = CAPACITY, .max_discard_sectors = MAX_RANGE, .max_write_zeroes_sectors = MAX_RANGE};
const struct blk_limits ro = {.capacity = CAPACITY,
                              .ro = true,
                              .max_discard_sectors = MAX_RANGE,
                              .max_write_zeroes_sectors = MAX_RANGE};

void setup(void)
{
        struct virtq_geometry g;

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        vd_init(&drv, &mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
        g = vd_geometry(&drv);
        cr_assert_eq(virtq_init(&q, &mem, &g, QSIZE, BLK_MAX_SEGS, 4u << 20, false, true), 0);
        ch = calloc(1, sizeof(*ch) + BLK_MAX_SEGS * sizeof(struct virtq_seg));
        cr_assert_not_null(ch);
        next_desc = 0;
        /* Data buffers hold their own offset, so any byte shows where it came from. */
        for (uint32_t i = 0; i < 0x80000; i++)
                *(uint8_t *)guest_ptr(&mem, DATA_GPA + i, 1) = (uint8_t)(i * 7 + 3);
}

void teardown(void)
{
        free(ch);
        fake_mem_free(&mem);
}

uint8_t *host(uint64_t gpa)
{
        return guest_ptr(&mem, gpa, 1);
}

void put_hdr(uint32_t type, uint64_t sector)
{
        struct virtio_blk_outhdr hdr = {.type = type, .ioprio = 0, .sector = sector};

        cr_assert_eq(guest_write(&mem, HDR_GPA, &hdr, sizeof(hdr)), 0);
}

/* The driver posts bufs as one chain; the device pops it and plans it. */
void submit(const struct vd_buf *bufs, unsigned int n, const struct blk_limits *lim)
{
        vd_add_chain(&drv, next_desc, bufs, n);
        next_desc = (uint16_t)((next_desc + n) % QSIZE);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1, "the queue refused the chain");
        memset(&plan, 0x5a, sizeof(plan));
        blk_plan_request(ch, lim, &plan);
}

struct vd_buf rd(uint64_t gpa, uint32_t len)
{
        return (struct vd_buf){.addr = gpa, .len = len, .write = false};
}

struct vd_buf wr(uint64_t gpa, uint32_t len)
{
        return (struct vd_buf){.addr = gpa, .len = len, .write = true};
}

/* The plan's iovecs, gathered, equal len bytes of guest memory at gpa (contiguous there). */
void assert_iov_covers(uint64_t gpa, uint64_t len)
{
        uint64_t done = 0;

        for (unsigned int i = 0; i < plan.niov; i++) {
                cr_assert_eq(plan.iov[i].iov_base, host(gpa + done), "iov %u base", i);
                done += plan.iov[i].iov_len;
        }
        cr_assert_eq(done, len);
}

void assert_failed(uint8_t status)
{
        cr_assert_eq(plan.op, BLK_OP_NONE);
        cr_assert_eq(plan.status, status, "status %u, want %u", plan.status, status);
        cr_assert_eq(plan.niov, 0, "nothing planned on an error");
        cr_assert_eq(blk_plan_written(&plan), 1, "only the status byte");
}
