/* Test fixture for test_virtq_*: a split queue over fake guest RAM, the test as its driver. */
#ifndef WISP_TESTS_VIRTQ_FIXTURE_H
#define WISP_TESTS_VIRTQ_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/guest_mem.h"
#include "virtio/queue.h"
#include "vring_driver.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* The fake guest: 1 MiB of RAM at 0, rings and buffers at fixed places. */
#define RAM_SIZE (1 * MiB)
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define BUF_GPA 0x40000ull   /* data buffers */
#define TABLE_GPA 0x80000ull /* indirect tables */
#define MAX_LEN (64 * 1024)
#define BIG_MAP_SIZE (8 * GiB)

/* The fake guest's RAM, the test's driver, the device's queue and a chain to pop into. */
extern struct guest_mem mem;
extern struct vring_driver drv;
extern struct virtq q;
extern struct virtq_chain *ch;
extern void *big_map; /* an mmap'd region in mem, not fake_mem's to free */

/* A chain with room for max_segs segments (calloc'd). */
struct virtq_chain *chain_alloc(uint16_t max_segs);
/* A queue of size entries over fresh rings; the test's driver is drv, the device q. */
void setup_q(uint16_t size, uint16_t max_segs, uint32_t max_len, bool event_idx, bool indirect);
/* setup_q(16, 16, MAX_LEN, no EVENT_IDX, INDIRECT_DESC): .init of the virtq suite. */
void setup_default(void);
/* Frees the chain, big_map and RAM: .fini of every suite. */
void teardown(void);

/* A device-readable, or device-writable, buffer. */
struct vd_buf rd(uint64_t addr, uint32_t len);
struct vd_buf wr(uint64_t addr, uint32_t len);
/* Asserts the next used element is (id, len), or that there is none. */
void expect_used(uint32_t id, uint32_t len);
void expect_no_used(void);
/* No head is in flight. */
bool inflight_empty(const struct virtq *vq);
/* One good one-buffer chain in descriptor i. */
void add_good(uint16_t i);

#endif
