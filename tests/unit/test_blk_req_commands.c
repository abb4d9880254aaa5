/* Unit tests for devices/blk_req.c: bad chains, flush, get-id, discard, write-zeroes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <linux/virtio_blk.h>

#include "blk_req_fixture.h"

TestSuite(blk_req, .init = setup, .fini = teardown);

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
