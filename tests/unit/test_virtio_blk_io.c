/* Unit tests for devices/virtio_blk.c: every request type, queues, cache=none, a legacy driver. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "virtio_blk_fixture.h"

TestSuite(blk, .init = setup, .fini = teardown);

Test(blk, offers_its_features_and_config)
{
        uint64_t feat;

        attach(",serial=SER", 2);
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        cr_assert(feat & (1ull << VIRTIO_F_VERSION_1));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_FLUSH));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_BLK_SIZE));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_SEG_MAX));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_SIZE_MAX));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_MQ));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_DISCARD));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
        cr_assert_not(feat & (1ull << VIRTIO_BLK_F_RO));
        cr_assert_eq(f.device, 0x1001, "transitional block device");
        cr_assert_eq(f.subsys, 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, capacity), 8),
                     CAPACITY);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, seg_max), 4),
                     BLK_MAX_SEGS - 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, blk_size), 4), 512);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, num_queues), 2), 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, max_discard_seg), 4),
                     1);
        cr_assert_gt(
            vph_devcfg_read(&f, offsetof(struct virtio_blk_config, max_write_zeroes_sectors), 4),
            0);
        cr_assert_eq(f.device_cfg.length, sizeof(struct virtio_blk_config));
        /* Read-only config: a write changes nothing. */
        vph_devcfg_write(&f, 0, 4, 0);
        cr_assert_eq(vph_devcfg_read(&f, 0, 8), CAPACITY);
}

Test(blk, write_lands_in_the_file_at_its_offset)
{
        uint8_t buf[4096];
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_OUT, 8, 4096, false);
        for (unsigned int i = 0; i < 4096; i++)
                ((uint8_t *)gptr(r.data, 4096))[i] = (uint8_t)(i ^ 0x5a);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1, "a write writes only the status");
        file_read(8 * 512, buf, sizeof(buf));
        for (unsigned int i = 0; i < 4096; i++)
                cr_assert_eq(buf[i], (uint8_t)(i ^ 0x5a));
        assert_file_pattern(0, 8 * 512);
        assert_file_pattern(8 * 512 + 4096, 4096);
        cr_assert_gt(b.vp.msix.fired[1], 0, "queue 0's vector");
}

Test(blk, read_returns_the_file)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_IN, 100, 8192, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 8192 + 1);
        for (unsigned int i = 0; i < 8192; i++)
                cr_assert_eq(((uint8_t *)gptr(r.data, 8192))[i], pattern(100 * 512 + i));
}

Test(blk, read_and_write_through_indirect_tables)
{
        struct rq w, r;

        attach("", 1);
        driver_up(WANT);
        w = post(0, VIRTIO_BLK_T_OUT, 40, 512, true);
        memset(gptr(w.data, 512), 0x77, 512);
        cr_assert_eq(run1(&w, NULL), VIRTIO_BLK_S_OK);
        r = post(0, VIRTIO_BLK_T_IN, 40, 512, true);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 512), gptr(w.data, 512), 512), 0);
}

/*
 * io_uring operations bypass seccomp: the disk's ring may only read, write, fsync and
 * fallocate. Anything else (here: opening a file, and a no-op) fails with EACCES.
 */
Test(blk, the_ring_refuses_what_the_device_never_asks)
{
        struct io_uring_cqe *cqe;

        attach("", 1);
        for (int i = 0; i < 2; i++) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&b.ring);

                cr_assert_not_null(sqe);
                if (i == 0)
                        io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
                else
                        io_uring_prep_nop(sqe);
                io_uring_sqe_set_data(sqe, NULL);
                cr_assert_eq(io_uring_submit(&b.ring), 1);
                cr_assert_eq(io_uring_wait_cqe(&b.ring, &cqe), 0);
                cr_assert_eq(cqe->res, -EACCES, "op %d: %d", i, cqe->res);
                io_uring_cqe_seen(&b.ring, cqe);
        }
}

Test(blk, flush_completes_ok)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1);
}

/*
 * Durability: a failing fsync is an I/O error, never a later success. Linux reports a
 * writeback error to fdatasync once and may drop the pages it could not write, so the
 * next fdatasync succeeds: the device must keep failing FLUSH. The fsync fails here
 * because the image's fd is swapped for a pipe (fsync on a pipe is EINVAL).
 */
Test(blk, a_failed_flush_fails_every_later_flush)
{
        struct rq r;
        int p[2], saved;

        attach("", 1);
        driver_up(WANT);
        cr_assert_eq(pipe(p), 0);
        saved = dup(b.fd);
        cr_assert_geq(saved, 0);
        cr_assert_geq(dup2(p[1], b.fd), 0);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "the failing fsync");
        cr_assert_geq(dup2(saved, b.fd), 0, "the image is back: fsync would succeed now");
        close(saved);
        close(p[0]);
        close(p[1]);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a later flush");
        r = post(0, VIRTIO_BLK_T_OUT, 8, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK, "writes still work");
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a flush after new writes");
        cr_assert_eq(b.ioerrs, 3);
}

Test(blk, get_id_returns_the_serial)
{
        uint32_t used;
        struct rq r;
        uint8_t want[VIRTIO_BLK_ID_BYTES] = "wisp-serial-7";

        attach(",serial=wisp-serial-7", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, VIRTIO_BLK_ID_BYTES + 1);
        cr_assert_eq(memcmp(gptr(r.data, VIRTIO_BLK_ID_BYTES), want, sizeof(want)), 0,
                     "serial, zero-padded");
}

Test(blk, get_id_of_a_full_20_byte_serial)
{
        struct rq r;

        attach(",serial=ABCDEFGHIJKLMNOPQRST", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_GET_ID, 0, 64, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 20), "ABCDEFGHIJKLMNOPQRST", 20), 0);
        cr_assert_eq(((uint8_t *)gptr(r.data, 64))[20], 0xcc, "nothing past 20 bytes");
}

static void assert_file_zero(uint64_t off, uint64_t len)
{
        uint8_t *buf = malloc(len);

        file_read(off, buf, len);
        for (uint64_t i = 0; i < len; i++)
                cr_assert_eq(buf[i], 0, "byte 0x%llx not zero", (unsigned long long)(off + i));
        free(buf);
}

static struct rq post_range(unsigned int q, uint32_t type, uint64_t sector, uint32_t num,
                            uint32_t flags)
{
        struct rq r = post(q, type, 0, 16, false);
        struct virtio_blk_discard_write_zeroes s = {
            .sector = sector, .num_sectors = num, .flags = flags};

        /* The segment is driver-to-device: make the data buffer readable. */
        drv[q].desc[(r.head + 1) % QSZ].flags &= (uint16_t)~VRING_DESC_F_WRITE;
        memcpy(gptr(r.data, 16), &s, sizeof(s));
        return r;
}

Test(blk, discard_and_write_zeroes_zero_the_range)
{
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post_range(0, VIRTIO_BLK_T_DISCARD, 64, 64, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(64 * 512, 64 * 512);
        assert_file_pattern(63 * 512, 512);
        assert_file_pattern(128 * 512, 512);

        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 300, 17, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(300 * 512, 17 * 512);
        assert_file_pattern(299 * 512, 512);
        assert_file_pattern(317 * 512, 512);

        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 1000, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(1000 * 512, 8 * 512);
        assert_file_pattern(1008 * 512, 512);

        struct stat st;

        cr_assert_eq(fstat(file, &st), 0);
        cr_assert_eq(st.st_size, DISK_SIZE, "the size stays");
}

Test(blk, read_past_the_end_is_an_io_error_with_only_the_status_written)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 1, 1024, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_IOERR);
        cr_assert_eq(used, 1, "the used length counts only the status byte");
        for (unsigned int i = 0; i < 1024; i++)
                cr_assert_eq(((uint8_t *)gptr(r.data, 1024))[i], 0xcc, "nothing read");
        cr_assert_eq(b.ioerrs, 1);
        /* The queue goes on. */
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 2, 1024, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1025);
}

Test(blk, unknown_types_are_unsupported_and_unanswerable_chains_come_back_empty)
{
        uint32_t id, len;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, 0x77, 0, 512, false);
        cr_assert_eq(run1(&r, &len), VIRTIO_BLK_S_UNSUPP);
        cr_assert_eq(len, 1);
        /* A chain with nothing writable: returned with length 0. */
        struct vd_buf only_rd[] = {{galloc(16, 16), 16, false}};
        uint16_t head = vd_add_chain(&drv[0], next_desc[0], only_rd, 1);

        next_desc[0]++;
        kick(0);
        wait_used(0, 1);
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(id, head);
        cr_assert_eq(len, 0);
}

Test(blk, read_only_disk_refuses_writes_and_leaves_the_file)
{
        uint64_t feat;
        struct rq r;

        attach(",ro", 1);
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        cr_assert(feat & (1ull << VIRTIO_BLK_F_RO));
        cr_assert_not(feat & (1ull << VIRTIO_BLK_F_DISCARD));
        /* Even a driver that declines VIRTIO_BLK_F_RO gets IOERR. */
        driver_up(WANT & ~(1ull << VIRTIO_BLK_F_RO));
        r = post(0, VIRTIO_BLK_T_OUT, 0, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        r = post_range(0, VIRTIO_BLK_T_DISCARD, 0, 8, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        assert_file_pattern(0, 8192);
        r = post(0, VIRTIO_BLK_T_IN, 0, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK, "reads still work");
}

Test(blk, queues_complete_independently)
{
        struct rq r[3];

        attach("", 3);
        driver_up(WANT);
        for (unsigned int q = 0; q < 3; q++) {
                r[q] = post(q, VIRTIO_BLK_T_IN, q * 8, 4096, false);
                kick(q);
        }
        for (unsigned int q = 0; q < 3; q++) {
                uint32_t id, len;

                wait_used(q, 1);
                cr_assert(vd_get_used(&drv[q], &id, &len));
                cr_assert_eq(id, r[q].head);
                cr_assert_eq(*(uint8_t *)gptr(r[q].st, 1), VIRTIO_BLK_S_OK);
                cr_assert_gt(b.vp.msix.fired[q + 1], 0, "vector of queue %u", q);
        }
}

/* FLUSH completes after every write before it (IOSQE_IO_DRAIN): it is the last used entry. */
Test(blk, flush_completes_after_the_writes_before_it)
{
        enum { N = 32 };
        struct rq w[N], fl;
        uint32_t id, len;

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                w[i] = post(0, VIRTIO_BLK_T_OUT, i * 128ull, 64 * 1024, true);
                memset(gptr(w[i].data, 64 * 1024), i + 1, 64 * 1024);
        }
        fl = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, true);
        kick(0);
        wait_used(0, N + 1);
        for (unsigned int i = 0; i < N; i++) {
                cr_assert(vd_get_used(&drv[0], &id, &len));
                cr_assert_neq(id, fl.head, "the flush completed before write %u", i);
        }
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(id, fl.head);
        cr_assert_eq(*(uint8_t *)gptr(fl.st, 1), VIRTIO_BLK_S_OK);
        for (unsigned int i = 0; i < N; i++)
                cr_assert_eq(*(uint8_t *)gptr(w[i].st, 1), VIRTIO_BLK_S_OK);
}

/* cache=none: sector-aligned guest buffers go through the O_DIRECT twin. */
Test(blk, cache_none_reads_and_writes_aligned_buffers)
{
        struct rq w, r, u;
        void *ram;

        /* fake_mem's malloc'd RAM is not 512-aligned on the host: give it aligned RAM. */
        cr_assert_eq(posix_memalign(&ram, 4096, RAM_SIZE), 0);
        memset(ram, 0, RAM_SIZE);
        free(h.mem.region[0].host);
        h.mem.region[0].host = ram;
        attach(",cache=none", 1);
        cr_assert_geq(b.direct_fd, 0);
        driver_up(WANT);
        w = post(0, VIRTIO_BLK_T_OUT, 16, 8192, false);
        memset(gptr(w.data, 8192), 0xa7, 8192);
        cr_assert_eq(run1(&w, NULL), VIRTIO_BLK_S_OK);
        r = post(0, VIRTIO_BLK_T_IN, 16, 8192, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 8192), gptr(w.data, 8192), 8192), 0);
        /* An unaligned buffer takes the page cache path, and sees the same data. */
        u = post(0, VIRTIO_BLK_T_IN, 16, 1024, false);
        struct vring_desc *d = &drv[0].desc[(u.head + 1) % QSZ];

        d->addr += 8; /* 512 bytes at +8: inside the 1024-byte buffer */
        d->len = 512;
        cr_assert_eq(run1(&u, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(((uint8_t *)gptr(u.data + 8, 1))[0], 0xa7);
        uint8_t buf[8192];

        file_read(16 * 512, buf, sizeof(buf));
        cr_assert_eq(buf[0], 0xa7);
        cr_assert_eq(buf[8191], 0xa7);
}

/* --- the legacy transport ---------------------------------------------------------------- */

Test(blk, a_legacy_driver_reads_through_the_pfn_ring)
{
        uint32_t pfn = 0x300, id, len;
        uint64_t desc = (uint64_t)pfn << 12, avail = desc + 16 * QSZ;
        uint64_t used = (avail + 6 + 2 * QSZ + 4095) & ~4095ull;

        attach(",transport=legacy", 1);
        cr_assert_eq(f.device, 0x1001);
        cr_assert_eq(f.revision, 0);
        cr_assert_eq(f.nvndr, 0);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4) & (1u << VIRTIO_BLK_F_FLUSH),
                     1u << VIRTIO_BLK_F_FLUSH);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, 0);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV);
        vph_legacy_write(&f, VIRTIO_PCI_GUEST_FEATURES, 4,
                         vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4));
        /* Capacity through the legacy config at 20 (no MSI-X). */
        cr_assert_eq(vph_legacy_read(&f, 20, 4), (uint32_t)CAPACITY);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, 0);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2), QSZ);
        vd_init(&drv[0], &h.mem, QSZ, desc, avail, used);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_PFN, 4, pfn);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_PFN, 4), pfn);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV | DOK);
        struct rq r = post(0, VIRTIO_BLK_T_IN, 3, 1024, false);

        vd_publish(&drv[0]);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
        wait_used(0, 1);
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(len, 1025);
        cr_assert_eq(*(uint8_t *)gptr(r.st, 1), VIRTIO_BLK_S_OK);
        cr_assert_eq(((uint8_t *)gptr(r.data, 1024))[5], pattern(3 * 512 + 5));
        /* INTx: the ISR says "used buffers". */
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_ISR, 1), 1);
}
