/* What the hostile-* scenario files share (test_hostile.c). */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "virtio.h"

#define hfail(...) guest_fail(ST_HOSTILE, __VA_ARGS__)

extern u8 *hbuf, *hbuf2; /* 1 MiB each */

/* A write and a read on every queue work (a read only on a read-only disk). */
void sanity(struct blk *b, const char *after);
/* Status 0, wait for it, and the whole set-up again. */
void reset_reinit(struct blk *b, const char *why);
/* The request came back refused: length 0 or an error status, not OK, not never. */
void expect_refused(u32 st, const char *what);
void expect_refused2(u32 st, const char *what, const char *detail);

void test_hostile_pci_fuzz(const struct boot_info *bi, struct blk *b);
void h_geometry(struct blk *b);
void h_config(struct blk *b);
void h_bars(struct blk *b);
void h_reset_inflight(struct blk *b);
void h_dup_head(struct blk *b);
void h_chain_forms(struct blk *b);
void h_discard(struct blk *b);

#endif
