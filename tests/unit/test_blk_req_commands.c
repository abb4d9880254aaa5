/* Unit tests for devices/blk_req.c: planning popped virtio-blk chains, every layout, bad input. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "devices/blk_req.h"
#include "fake_mem.h"
#include "virtio/queue.h"
#include "vring_driver.h"

#define RAM_SIZE (2ull << 20)
#define QSIZE 256
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define HDR_GPA 0x40000ull  /* request header (and discard segments after it) */
#define DATA_GPA 0x80000ull /* data buffers, up to 512 KiB */
#define STAT_GPA 0x100000ull
#define CAPACITY 2048ull /* sectors: a 1 MiB disk */
#define MAX_RANGE 64u    /* discard / write-zeroes sectors per request */

static struct guest_mem mem;
static struct vring_driver drv;
static struct virtq q;
static struct virtq_chain *ch;
static struct blk_plan plan;
static uint16_t next_desc;
static const struct blk_limits rw = {
    .capacity = CAPACITY, .max_discard_sectors = MAX_RANGE, .max_write_zeroes_sectors = MAX_RANGE};
static const struct blk_limits ro = {.capacity = CAPACITY,
                                     .ro = true,
                                     .max_discard_sectors = MAX_RANGE,
                                     .max_write_zeroes_sectors = MAX_RANGE};

static void setup(void)
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

static void teardown(void)
{
        free(ch);
        fake_mem_free(&mem);
}

TestSuite(blk_req, .init = setup, .fini = teardown);

static uint8_t *host(uint64_t gpa)
{
        return guest_ptr(&mem, gpa, 1);
}

static void put_hdr(uint32_t type, uint64_t sector)
{
        struct virtio_blk_outhdr hdr = {.type = type, .ioprio = 0, .sector = sector};

        cr_assert_eq(guest_write(&mem, HDR_GPA, &hdr, sizeof(hdr)), 0);
}

/* The driver posts bufs as one chain; the device pops it and plans it. */
static void submit(const struct vd_buf *bufs, unsigned int n, const struct blk_limits *lim)
{
        vd_add_chain(&drv, next_desc, bufs, n);
        next_desc = (uint16_t)((next_desc + n) % QSIZE);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1, "the queue refused the chain");
        memset(&plan, 0x5a, sizeof(plan));
        blk_plan_request(ch, lim, &plan);
}

static struct vd_buf rd(uint64_t gpa, uint32_t len)
{
        return (struct vd_buf){.addr = gpa, .len = len, .write = false};
}

static struct vd_buf wr(uint64_t gpa, uint32_t len)
{
        return (struct vd_buf){.addr = gpa, .len = len, .write = true};
}

/* The plan's iovecs, gathered, equal len bytes of guest memory at gpa (contiguous there). */
static void assert_iov_covers(uint64_t gpa, uint64_t len)
{
        uint64_t done = 0;

        for (unsigned int i = 0; i < plan.niov; i++) {
                cr_assert_eq(plan.iov[i].iov_base, host(gpa + done), "iov %u base", i);
                done += plan.iov[i].iov_len;
        }
        cr_assert_eq(done, len);
}

static void assert_failed(uint8_t status)
{
        cr_assert_eq(plan.op, BLK_OP_NONE);
        cr_assert_eq(plan.status, status, "status %u, want %u", plan.status, status);
        cr_assert_eq(plan.niov, 0, "nothing planned on an error");
        cr_assert_eq(blk_plan_written(&plan), 1, "only the status byte");
}

/* --- reads ------------------------------------------------------------------------ */

Test(blk_req, read_fills_the_writable_part_before_the_status_byte)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 1024), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, 10);
        submit(b, 3, &rw);
        cr_assert_eq(plan.op, BLK_OP_READ);
        cr_assert_eq(plan.offset, 10 * 512);
        cr_assert_eq(plan.len, 1024);
        cr_assert_eq(plan.niov, 1);
        assert_iov_covers(DATA_GPA, 1024);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
        cr_assert_eq(blk_plan_written(&plan), 1025);
}

Test(blk_req, read_with_the_status_byte_inside_the_data_descriptor)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 513)};

        put_hdr(VIRTIO_BLK_T_IN, 0);
        submit(b, 2, &rw);
        cr_assert_eq(plan.op, BLK_OP_READ);
        cr_assert_eq(plan.len, 512);
        assert_iov_covers(DATA_GPA, 512);
        cr_assert_eq(plan.status_byte, host(DATA_GPA + 512));
}

Test(blk_req, read_in_every_split_of_header_and_data)
{
        /* Header cut at h, data+status cut at d: one chain per layout. */
        static const uint32_t hcut[] = {0, 1, 4, 8, 15};
        static const uint32_t dcut[] = {0, 1, 100, 511, 512, 513, 1000, 1024};
        const uint32_t total = 1024 + 1;

        for (unsigned int i = 0; i < sizeof(hcut) / sizeof(hcut[0]); i++) {
                for (unsigned int j = 0; j < sizeof(dcut) / sizeof(dcut[0]); j++) {
                        struct vd_buf b[4];
                        unsigned int n = 0;

                        if (hcut[i])
                                b[n++] = rd(HDR_GPA, hcut[i]);
                        b[n++] = rd(HDR_GPA + hcut[i], 16 - hcut[i]);
                        if (dcut[j])
                                b[n++] = wr(DATA_GPA, dcut[j]);
                        b[n++] = wr(DATA_GPA + dcut[j], total - dcut[j]);
                        put_hdr(VIRTIO_BLK_T_IN, 7);
                        submit(b, n, &rw);
                        cr_assert_eq(plan.op, BLK_OP_READ, "h %u d %u", hcut[i], dcut[j]);
                        cr_assert_eq(plan.offset, 7 * 512);
                        cr_assert_eq(plan.len, 1024);
                        assert_iov_covers(DATA_GPA, 1024);
                        cr_assert_eq(plan.status_byte, host(DATA_GPA + 1024));
                        virtq_push(&q, ch, 0);
                }
        }
}

Test(blk_req, read_over_many_descriptors)
{
        struct vd_buf b[BLK_MAX_SEGS];
        unsigned int n = 0;

        b[n++] = rd(HDR_GPA, 16);
        for (unsigned int i = 0; i < BLK_MAX_SEGS - 2; i++)
                b[n++] = wr(DATA_GPA + 512ull * i, 512);
        b[n++] = wr(STAT_GPA, 1);
        put_hdr(VIRTIO_BLK_T_IN, 0);
        submit(b, n, &rw);
        cr_assert_eq(plan.op, BLK_OP_READ);
        cr_assert_eq(plan.niov, BLK_MAX_SEGS - 2);
        assert_iov_covers(DATA_GPA, 512ull * (BLK_MAX_SEGS - 2));
}

Test(blk_req, read_of_the_last_sector_and_one_past_it)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, CAPACITY - 1);
        submit(b, 3, &rw);
        cr_assert_eq(plan.op, BLK_OP_READ);
        cr_assert_eq(plan.offset, (CAPACITY - 1) * 512);
        virtq_push(&q, ch, 0);
        put_hdr(VIRTIO_BLK_T_IN, CAPACITY);
        submit(b, 3, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
        cr_assert_eq(plan.status_byte, host(STAT_GPA), "still answerable");
}

Test(blk_req, read_with_data_in_the_readable_part_is_an_error)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16 + 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, 0);
        submit(b, 2, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
}

Test(blk_req, read_on_a_read_only_disk_is_fine)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, 1);
        submit(b, 3, &ro);
        cr_assert_eq(plan.op, BLK_OP_READ);
}

/* --- writes -------------------------------------------------------------------------- */

Test(blk_req, write_takes_the_readable_part_after_the_header)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 2048), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_OUT, 100);
        submit(b, 3, &rw);
        cr_assert_eq(plan.op, BLK_OP_WRITE);
        cr_assert_eq(plan.offset, 100 * 512);
        cr_assert_eq(plan.len, 2048);
        assert_iov_covers(DATA_GPA, 2048);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
        cr_assert_eq(blk_plan_written(&plan), 1);
}

Test(blk_req, write_in_every_split_of_header_and_data)
{
        /* One readable run of header + 1024 data bytes, cut in up to three pieces. The header
         * sits just before the data so one descriptor can hold both. */
        const uint64_t base = DATA_GPA + 0x10000 - 16;
        static const uint32_t cut1[] = {1, 8, 15, 16, 17, 528};
        static const uint32_t cut2[] = {0, 20, 529, 1000, 1039};

        for (unsigned int i = 0; i < sizeof(cut1) / sizeof(cut1[0]); i++) {
                for (unsigned int j = 0; j < sizeof(cut2) / sizeof(cut2[0]); j++) {
                        struct vd_buf b[4];
                        unsigned int n = 0;
                        uint32_t c1 = cut1[i], c2 = cut2[j];

                        if (c2 && c2 <= c1)
                                continue;
                        struct virtio_blk_outhdr hdr = {.type = VIRTIO_BLK_T_OUT, .sector = 3};

                        cr_assert_eq(guest_write(&mem, base, &hdr, 16), 0);
                        b[n++] = rd(base, c1);
                        if (c2) {
                                b[n++] = rd(base + c1, c2 - c1);
                                b[n++] = rd(base + c2, 16 + 1024 - c2);
                        } else {
                                b[n++] = rd(base + c1, 16 + 1024 - c1);
                        }
                        b[n++] = wr(STAT_GPA, 1);
                        vd_add_chain(&drv, next_desc, b, n);
                        next_desc = (uint16_t)((next_desc + n) % QSIZE);
                        vd_publish(&drv);
                        cr_assert_eq(virtq_pop(&q, ch), 1);
                        blk_plan_request(ch, &rw, &plan);
                        cr_assert_eq(plan.op, BLK_OP_WRITE, "cuts %u %u", c1, c2);
                        cr_assert_eq(plan.offset, 3 * 512);
                        cr_assert_eq(plan.len, 1024);
                        assert_iov_covers(base + 16, 1024);
                        virtq_push(&q, ch, 0);
                }
        }
}

/* BAD-INPUTS "wrong direction": a write whose device-writable part is more than
 * the status byte carries data the device would never read. */
Test(blk_req, write_with_writable_bytes_besides_the_status_is_an_error)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 512), wr(STAT_GPA, 64)};
        struct vd_buf data_writable[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_OUT, 0);
        submit(b, 3, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
        cr_assert_eq(plan.status_byte, host(STAT_GPA + 63), "the answer still goes in the last byte");
        submit(data_writable, 3, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
}

Test(blk_req, write_to_a_read_only_disk_is_an_error)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_OUT, 0);
        submit(b, 3, &ro);
        assert_failed(VIRTIO_BLK_S_IOERR);
}

/* --- lengths and ranges ----------------------------------------------------------------- */

Test(blk_req, lengths_not_a_multiple_of_512_are_errors)
{
        static const uint32_t lens[] = {1, 100, 511, 513, 1000};

        for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                struct vd_buf r[] = {rd(HDR_GPA, 16), wr(DATA_GPA, lens[i]), wr(STAT_GPA, 1)};
                struct vd_buf w[] = {rd(HDR_GPA, 16), rd(DATA_GPA, lens[i]), wr(STAT_GPA, 1)};

                put_hdr(VIRTIO_BLK_T_IN, 0);
                submit(r, 3, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                virtq_push(&q, ch, 1);
                put_hdr(VIRTIO_BLK_T_OUT, 0);
                submit(w, 3, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                virtq_push(&q, ch, 1);
        }
}

Test(blk_req, sector_overflow_and_past_capacity_are_errors)
{
        static const uint64_t sectors[] = {
            CAPACITY - 1,           CAPACITY,       CAPACITY + 1, 1ull << 55,
            (UINT64_MAX / 512) + 1, UINT64_MAX - 1, UINT64_MAX};

        for (unsigned int i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
                struct vd_buf r[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 1024), wr(STAT_GPA, 1)};
                struct vd_buf w[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 1024), wr(STAT_GPA, 1)};

                put_hdr(VIRTIO_BLK_T_IN, sectors[i]);
                submit(r, 3, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                virtq_push(&q, ch, 1);
                put_hdr(VIRTIO_BLK_T_OUT, sectors[i]);
                submit(w, 3, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                virtq_push(&q, ch, 1);
        }
}

Test(blk_req, a_request_ending_exactly_at_capacity_is_fine)
{
        struct vd_buf w[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 1024), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_OUT, CAPACITY - 2);
        submit(w, 3, &rw);
        cr_assert_eq(plan.op, BLK_OP_WRITE);
        cr_assert_eq(plan.offset + plan.len, CAPACITY * 512);
}

/* --- malformed chains --------------------------------------------------------------------- */

Test(blk_req, no_writable_byte_means_no_answer)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), rd(DATA_GPA, 512)};

        put_hdr(VIRTIO_BLK_T_OUT, 0);
        submit(b, 2, &rw);
        cr_assert_null(plan.status_byte);
        cr_assert_eq(plan.op, BLK_OP_NONE);
        cr_assert_eq(plan.niov, 0);
        virtq_push(&q, ch, 0);
        /* Even for a request that needs no data. */
        struct vd_buf f[] = {rd(HDR_GPA, 16)};

        put_hdr(VIRTIO_BLK_T_FLUSH, 0);
        submit(f, 1, &rw);
        cr_assert_null(plan.status_byte);
        cr_assert_eq(plan.op, BLK_OP_NONE);
        cr_assert_eq(plan.niov, 0);
}

Test(blk_req, header_shorter_than_16_bytes_is_an_error)
{
        struct vd_buf b[] = {rd(HDR_GPA, 8), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, 0);
        submit(b, 2, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
        virtq_push(&q, ch, 1);
        /* A chain of writable buffers only: no header at all. */
        struct vd_buf w[] = {wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        submit(w, 2, &rw);
        assert_failed(VIRTIO_BLK_S_IOERR);
}

Test(blk_req, unknown_types_are_unsupported)
{
        static const uint32_t types[] = {2,  3,  5,  6,          7,          9,
                                         10, 12, 14, 0x80000000, 0x80000001, 0xffffffff};

        for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

                put_hdr(types[i], 0);
                submit(b, 3, &rw);
                assert_failed(VIRTIO_BLK_S_UNSUPP);
                cr_assert_eq(plan.status_byte, host(STAT_GPA));
                virtq_push(&q, ch, 1);
        }
}

/* --- flush and get-id ----------------------------------------------------------------------- */

Test(blk_req, flush_plans_a_flush)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_FLUSH, 12345);
        submit(b, 2, &rw);
        cr_assert_eq(plan.op, BLK_OP_FLUSH);
        cr_assert_eq(plan.niov, 0);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
        cr_assert_eq(blk_plan_written(&plan), 1);
        virtq_push(&q, ch, 1);
        submit(b, 2, &ro);
        cr_assert_eq(plan.op, BLK_OP_FLUSH, "a read-only disk flushes too");
}

Test(blk_req, get_id_with_20_plus_1_bytes)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, VIRTIO_BLK_ID_BYTES + 1)};

        put_hdr(VIRTIO_BLK_T_GET_ID, 0);
        submit(b, 2, &rw);
        cr_assert_eq(plan.op, BLK_OP_GET_ID);
        cr_assert_eq(plan.len, VIRTIO_BLK_ID_BYTES);
        assert_iov_covers(DATA_GPA, VIRTIO_BLK_ID_BYTES);
        cr_assert_eq(plan.status_byte, host(DATA_GPA + VIRTIO_BLK_ID_BYTES));
        cr_assert_eq(blk_plan_written(&plan), VIRTIO_BLK_ID_BYTES + 1);
}

Test(blk_req, get_id_split_and_with_a_separate_status)
{
        struct vd_buf b1[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 7), wr(DATA_GPA + 7, 13),
                              wr(STAT_GPA, 1)};
        struct vd_buf b2[] = {rd(HDR_GPA, 4), rd(HDR_GPA + 4, 12), wr(DATA_GPA, 10),
                              wr(DATA_GPA + 10, 11)};

        put_hdr(VIRTIO_BLK_T_GET_ID, 0);
        submit(b1, 4, &rw);
        cr_assert_eq(plan.op, BLK_OP_GET_ID);
        cr_assert_eq(plan.niov, 2);
        assert_iov_covers(DATA_GPA, 20);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
        virtq_push(&q, ch, 0);
        submit(b2, 4, &ro);
        cr_assert_eq(plan.op, BLK_OP_GET_ID);
        assert_iov_covers(DATA_GPA, 20);
        cr_assert_eq(plan.status_byte, host(DATA_GPA + 20));
}

Test(blk_req, get_id_with_a_larger_buffer_fills_only_20_bytes)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_GET_ID, 0);
        submit(b, 3, &rw);
        cr_assert_eq(plan.op, BLK_OP_GET_ID);
        assert_iov_covers(DATA_GPA, 20);
        cr_assert_eq(plan.status_byte, host(STAT_GPA));
}

Test(blk_req, get_id_buffer_too_small_is_an_error)
{
        static const uint32_t lens[] = {1, 2, 10, VIRTIO_BLK_ID_BYTES};

        for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, lens[i])};

                put_hdr(VIRTIO_BLK_T_GET_ID, 0);
                submit(b, 2, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                cr_assert_eq(plan.status_byte, host(DATA_GPA + lens[i] - 1));
                virtq_push(&q, ch, 1);
        }
}

/* --- discard and write-zeroes ------------------------------------------------------------------
 */

static void put_range(uint64_t gpa, uint64_t sector, uint32_t num, uint32_t flags)
{
        struct virtio_blk_discard_write_zeroes s = {
            .sector = sector, .num_sectors = num, .flags = flags};

        cr_assert_eq(guest_write(&mem, gpa, &s, sizeof(s)), 0);
}

static void submit_range(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags,
                         const struct blk_limits *lim)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), rd(HDR_GPA + 16, 16), wr(STAT_GPA, 1)};

        put_hdr(type, 0);
        put_range(HDR_GPA + 16, sector, num, flags);
        submit(b, 3, lim);
}

Test(blk_req, discard_and_write_zeroes_plan_the_range)
{
        submit_range(VIRTIO_BLK_T_DISCARD, 8, 16, 0, &rw);
        cr_assert_eq(plan.op, BLK_OP_DISCARD);
        cr_assert_eq(plan.offset, 8 * 512);
        cr_assert_eq(plan.len, 16 * 512);
        cr_assert_not(plan.unmap);
        cr_assert_eq(plan.niov, 0);
        cr_assert_eq(blk_plan_written(&plan), 1);
        virtq_push(&q, ch, 1);
        submit_range(VIRTIO_BLK_T_WRITE_ZEROES, 0, MAX_RANGE, 0, &rw);
        cr_assert_eq(plan.op, BLK_OP_WRITE_ZEROES);
        cr_assert_eq(plan.len, MAX_RANGE * 512);
        cr_assert_not(plan.unmap);
        virtq_push(&q, ch, 1);
        submit_range(VIRTIO_BLK_T_WRITE_ZEROES, CAPACITY - 1, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
                     &rw);
        cr_assert_eq(plan.op, BLK_OP_WRITE_ZEROES);
        cr_assert(plan.unmap);
        cr_assert_eq(plan.offset, (CAPACITY - 1) * 512);
}

Test(blk_req, range_segment_in_the_header_descriptor)
{
        struct vd_buf b[] = {rd(HDR_GPA, 32), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_DISCARD, 0);
        put_range(HDR_GPA + 16, 4, 4, 0);
        submit(b, 2, &rw);
        cr_assert_eq(plan.op, BLK_OP_DISCARD);
        cr_assert_eq(plan.offset, 4 * 512);
}

Test(blk_req, bad_range_segments_are_errors)
{
        static const struct {
                uint64_t sector;
                uint32_t num, flags;
        } bad[] = {
            {0, 0, 0},                      /* no sectors */
            {0, MAX_RANGE + 1, 0},          /* over the maximum */
            {0, 0xffffffff, 0},             /* far over */
            {CAPACITY, 1, 0},               /* past capacity */
            {CAPACITY - 1, 2, 0},           /* ends past capacity */
            {UINT64_MAX, 1, 0},             /* overflows */
            {(UINT64_MAX / 512) + 1, 1, 0}, /* overflows in bytes */
        };
        static const uint32_t types[] = {VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};

        for (unsigned int t = 0; t < 2; t++) {
                for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        submit_range(types[t], bad[i].sector, bad[i].num, bad[i].flags, &rw);
                        assert_failed(VIRTIO_BLK_S_IOERR);
                        virtq_push(&q, ch, 1);
                }
        }
        /* Flags the command does not define are UNSUPP (virtio 1.2, 5.2.6.2);
         * UNMAP means something for write-zeroes only. */
        for (unsigned int t = 0; t < 2; t++) {
                submit_range(types[t], 0, 1, 2, &rw);
                assert_failed(VIRTIO_BLK_S_UNSUPP);
                virtq_push(&q, ch, 1);
                submit_range(types[t], 0, 1, 0x80000000, &rw);
                assert_failed(VIRTIO_BLK_S_UNSUPP);
                virtq_push(&q, ch, 1);
        }
        submit_range(VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, &rw);
        assert_failed(VIRTIO_BLK_S_UNSUPP);
}

Test(blk_req, range_payload_of_the_wrong_size_is_an_error)
{
        static const uint32_t sizes[] = {0, 8, 15, 17, 32, 48};

        for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct vd_buf b[3];
                unsigned int n = 0;

                put_hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
                put_range(HDR_GPA + 16, 0, 1, 0);
                put_range(HDR_GPA + 32, 1, 1, 0);
                put_range(HDR_GPA + 48, 2, 1, 0);
                b[n++] = rd(HDR_GPA, 16);
                if (sizes[i])
                        b[n++] = rd(HDR_GPA + 16, sizes[i]);
                b[n++] = wr(STAT_GPA, 1);
                submit(b, n, &rw);
                assert_failed(VIRTIO_BLK_S_IOERR);
                virtq_push(&q, ch, 1);
        }
}

Test(blk_req, range_requests_on_a_read_only_disk_are_errors)
{
        submit_range(VIRTIO_BLK_T_DISCARD, 0, 1, 0, &ro);
        assert_failed(VIRTIO_BLK_S_IOERR);
        virtq_push(&q, ch, 1);
        submit_range(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, &ro);
        assert_failed(VIRTIO_BLK_S_IOERR);
}

/* --- the header is read once
 * ----------------------------------------------------------------------- */

Test(blk_req, the_plan_does_not_follow_later_header_changes)
{
        struct vd_buf b[] = {rd(HDR_GPA, 16), wr(DATA_GPA, 512), wr(STAT_GPA, 1)};

        put_hdr(VIRTIO_BLK_T_IN, 5);
        submit(b, 3, &rw);
        put_hdr(VIRTIO_BLK_T_OUT, CAPACITY + 100);
        cr_assert_eq(plan.op, BLK_OP_READ);
        cr_assert_eq(plan.offset, 5 * 512);
        cr_assert_eq(blk_plan_written(&plan), 513);
}

Test(blk_req, written_counts_per_operation)
{
        struct blk_plan p;

        memset(&p, 0, sizeof(p));
        p.op = BLK_OP_NONE;
        cr_assert_eq(blk_plan_written(&p), 1);
        p.op = BLK_OP_WRITE;
        p.len = 4096;
        cr_assert_eq(blk_plan_written(&p), 1);
        p.op = BLK_OP_FLUSH;
        cr_assert_eq(blk_plan_written(&p), 1);
        p.op = BLK_OP_DISCARD;
        cr_assert_eq(blk_plan_written(&p), 1);
        p.op = BLK_OP_WRITE_ZEROES;
        cr_assert_eq(blk_plan_written(&p), 1);
        p.op = BLK_OP_READ;
        cr_assert_eq(blk_plan_written(&p), 4097);
        p.op = BLK_OP_GET_ID;
        p.len = VIRTIO_BLK_ID_BYTES;
        cr_assert_eq(blk_plan_written(&p), 21);
}
