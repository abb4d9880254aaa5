/* Unit tests for devices/virtio_blk.c: faults; I/O in flight at reset, close, a signal, a flood. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "virtio_blk_fixture.h"

TestSuite(blk, .init = setup, .fini = teardown);

Test(blk, a_broken_ring_needs_reset_and_the_device_recovers)
{
        struct rq r;

        attach("", 2);
        driver_up(WANT);
        vd_set_avail_idx(&drv[0], QSZ + 5); /* more than a ring's worth */
        vph_modern_notify(&f, 0, 0);
        for (int i = 0; i < 10; i++)
                vph_poll(&h, 10);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1) & NEEDS_RESET, NEEDS_RESET);
        cr_assert_eq(b.vp.msix.fired[0], 1, "config interrupt");
        /* Queue 1 is not served while the device waits for its reset... */
        r = post(1, VIRTIO_BLK_T_IN, 0, 512, false);
        kick(1);
        for (int i = 0; i < 10; i++)
                vph_poll(&h, 10);
        cr_assert_eq(pending_used(1), 0);
        /* ...and everything works after one. */
        memset(next_desc, 0, sizeof(next_desc));
        driver_up(WANT);
        r = post(1, VIRTIO_BLK_T_IN, 0, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
}

/* BAD-INPUTS: the disk shrinks while running: the guest sees IOERR, the VMM keeps going. */
Test(blk, a_shrunk_image_gives_io_errors)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        cr_assert_eq(ftruncate(file, DISK_SIZE / 2), 0);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 8, 4096, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_IOERR);
        cr_assert_eq(used, 1);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY / 2 - 4, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a short read is an error");
        r = post(0, VIRTIO_BLK_T_IN, 0, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
}

/* A reset with requests in flight waits for them: nothing reaches the forgotten rings. */
Test(blk, reset_with_requests_in_flight_waits_for_them)
{
        enum { N = 64, LEN = 64 * 1024 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++)
                r[i] = post(0, VIRTIO_BLK_T_IN, (uint64_t)i * (LEN / 512), LEN, true);
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1, "the kick alone");
        cr_assert_eq(b.inflight, N, "submitted, not yet reaped");
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(b.inflight, 0, "the reset waited for every request");
        for (unsigned int i = 0; i < N; i++) {
                const uint8_t *d = gptr(r[i].data, LEN);

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), STATUS_UNSET, "no status after reset");
                for (unsigned int k = 0; k < LEN; k += 4093)
                        cr_assert_eq(d[k], pattern((uint64_t)i * LEN + k),
                                     "the read finished before the reset returned");
        }
        for (int i = 0; i < 20; i++)
                vph_poll(&h, 5);
        cr_assert_eq(vd_used_idx(&drv[0]), 0, "nothing pushed to the old ring");
        cr_assert_eq(b.vp.msix.fired[1], 0);
        /* The slots came back: the device serves a new driver. */
        memset(next_desc, 0, sizeof(next_desc));
        driver_up(WANT);
        struct rq again = post(0, VIRTIO_BLK_T_IN, 0, 512, false);

        cr_assert_eq(run1(&again, NULL), VIRTIO_BLK_S_OK);
        cr_assert_leq(b.nreqs, N + 1);
}

Test(blk, close_finishes_in_flight_writes_and_flushes)
{
        enum { N = 16 };
        struct rq r[N];
        int fd;

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                r[i] = post(0, VIRTIO_BLK_T_OUT, 2000 + i * 8ull, 4096, false);
                memset(gptr(r[i].data, 4096), 0x30 + i, 4096);
        }
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(b.inflight, N);
        fd = b.fd;
        fdatasync_calls = 0;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_geq(fdatasync_calls, 1, "flushed at close");
        cr_assert_eq(fdatasync_fd, fd, "the image's fd");
        cr_assert_eq(vd_used_idx(&drv[0]), N, "every write completed to the guest");
        for (unsigned int i = 0; i < N; i++) {
                uint8_t buf[4096];

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), VIRTIO_BLK_S_OK);
                file_read((2000 + i * 8ull) * 512, buf, sizeof(buf));
                for (unsigned int k = 0; k < sizeof(buf); k++)
                        cr_assert_eq(buf[k], 0x30 + i);
        }
}

/*
 * Was a bug (found by tests/fuzz/fuzz_blk as a leak of request slots): a signal interrupting
 * the wait for completions (-EINTR) ended the wait, so the reset returned with reads still
 * writing guest memory, and close abandoned requests (never completed, never freed).
 */
Test(blk, reset_interrupted_by_a_signal_still_waits_for_in_flight_io)
{
        enum { N = 4, LEN = 4096 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++)
                r[i] = post(0, VIRTIO_BLK_T_IN, (uint64_t)i * 8, LEN, false);
        hold_submit = true;
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1, "the kick alone");
        cr_assert_eq(b.inflight, N);
        eintr_waits = 1;
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(eintr_waits, 0, "the reset waited, and the wait was interrupted");
        cr_assert_eq(b.inflight, 0, "the reset went on waiting after the signal");
        for (unsigned int i = 0; i < N; i++) {
                const uint8_t *d = gptr(r[i].data, LEN);

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), STATUS_UNSET, "no status after reset");
                cr_assert_eq(d[LEN - 1], pattern((uint64_t)i * 8 * 512 + LEN - 1),
                             "the read finished before the reset returned");
        }
}

Test(blk, close_interrupted_by_a_signal_still_completes_in_flight_io)
{
        enum { N = 4 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                r[i] = post(0, VIRTIO_BLK_T_OUT, 3000 + i * 8ull, 4096, false);
                memset(gptr(r[i].data, 4096), 0x50 + i, 4096);
        }
        hold_submit = true;
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(b.inflight, N);
        eintr_waits = 1;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_eq(eintr_waits, 0, "close waited, and the wait was interrupted");
        cr_assert_eq(vd_used_idx(&drv[0]), N, "every write completed to the guest");
        for (unsigned int i = 0; i < N; i++) {
                uint8_t buf[4096];

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), VIRTIO_BLK_S_OK);
                file_read((3000 + i * 8ull) * 512, buf, sizeof(buf));
                cr_assert_eq(buf[0], 0x50 + i);
                cr_assert_eq(buf[4095], 0x50 + i);
        }
}

Test(blk, close_of_a_read_only_disk_does_not_flush)
{
        attach(",ro", 1);
        fdatasync_calls = 0;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_eq(fdatasync_calls, 0);
}

/* More requests than request slots (BLK_MAX_REQS), over several rounds: all complete, memory
 * stays bounded. Five queues of 256 indirect chains each: 1280 in flight at once. */
Test(blk, a_flood_beyond_the_request_slots_completes, .timeout = 60)
{
        enum { ROUNDS = 3, LEN = 512 };

        attach("", MAX_Q);
        driver_up(WANT | (1ull << VIRTIO_RING_F_INDIRECT_DESC));
        cr_assert_gt(MAX_Q * QSZ, BLK_SLOTS);
        for (unsigned int round = 0; round < ROUNDS; round++) {
                static struct rq r[MAX_Q][QSZ];

                heap = HEAP_BASE;
                for (unsigned int q = 0; q < MAX_Q; q++)
                        for (unsigned int i = 0; i < QSZ; i++)
                                r[q][i] = post(q, VIRTIO_BLK_T_IN,
                                               (round * 7919u + q * QSZ + i) % CAPACITY, LEN, true);
                for (unsigned int q = 0; q < MAX_Q; q++)
                        kick(q);
                for (unsigned int q = 0; q < MAX_Q; q++) {
                        wait_used(q, QSZ);
                        for (unsigned int i = 0; i < QSZ; i++) {
                                uint32_t id, len;
                                uint64_t sector = (round * 7919u + q * QSZ + i) % CAPACITY;

                                cr_assert(vd_get_used(&drv[q], &id, &len));
                                cr_assert_lt(id, QSZ);
                                cr_assert_eq(len, LEN + 1);
                                cr_assert_eq(*(uint8_t *)gptr(r[q][id].st, 1), VIRTIO_BLK_S_OK);
                                cr_assert_eq(*(uint8_t *)gptr(r[q][i].data, 1),
                                             pattern(sector * 512));
                        }
                }
                cr_assert_leq(b.nreqs, BLK_SLOTS, "request memory is bounded");
        }
        cr_assert_eq(b.nreqs, BLK_SLOTS, "the flood used every slot");
        cr_assert_eq(b.inflight, 0);
        cr_assert_eq(b.ioerrs, 0);
}
