/* Unit tests for devices/blk_req.c: reads and writes in every layout, lengths and sector ranges. */
#include <criterion/criterion.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "blk_req_fixture.h"

TestSuite(blk_req, .init = setup, .fini = teardown);

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
        cr_assert_eq(plan.status_byte, host(STAT_GPA + 63),
                     "the answer still goes in the last byte");
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
