/* Test fixture for test_blk_req_*: a queue over fake RAM whose chains are popped, then planned. */
#ifndef WISP_TESTS_BLK_REQ_FIXTURE_H
#define WISP_TESTS_BLK_REQ_FIXTURE_H

#include <stdint.h>

#include "devices/blk_req.h"
#include "kvm/guest_mem.h"
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

/* The fake guest's RAM, the test's driver, the device's queue, the last chain and its plan. */
extern struct guest_mem mem;
extern struct vring_driver drv;
extern struct virtq q;
extern struct virtq_chain *ch;
extern struct blk_plan plan;
extern uint16_t next_desc; /* the next free descriptor */
/* A CAPACITY-sector disk, read-write or read-only. */
extern const struct blk_limits rw, ro;

/* TestSuite(blk_req, .init = setup, .fini = teardown). Data buffers hold a pattern of their
 * own offset, so any byte shows where it came from. */
void setup(void);
void teardown(void);

/* The host address of guest address gpa. */
uint8_t *host(uint64_t gpa);
/* A request header at HDR_GPA. */
void put_hdr(uint32_t type, uint64_t sector);
/* The driver posts bufs as one chain; the device pops it and plans it. */
void submit(const struct vd_buf *bufs, unsigned int n, const struct blk_limits *lim);
/* A device-readable, or device-writable, buffer. */
struct vd_buf rd(uint64_t gpa, uint32_t len);
struct vd_buf wr(uint64_t gpa, uint32_t len);
/* The plan's iovecs, gathered, equal len bytes of guest memory at gpa (contiguous there). */
void assert_iov_covers(uint64_t gpa, uint64_t len);
/* The plan is an error with this status, and writes only the status byte. */
void assert_failed(uint8_t status);

#endif
