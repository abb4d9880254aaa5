/* What the hostile-* scenario files share (test_hostile.c, test_hostile_net.c). */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "net.h"

#define hfail(...) guest_fail(ST_HOSTILE, __VA_ARGS__)

extern u8 *hbuf, *hbuf2; /* 1 MiB each */

/* A write and a read on every queue work (a read only on a read-only disk). */
void sanity(struct blk *b, const char *after);
/* Status 0, wait for it, and the whole set-up again. */
void reset_reinit(struct blk *b, const char *why);
/* The request came back refused: length 0 or an error status, not OK, not never. */
void expect_refused(u32 st, const char *what);
void expect_refused2(u32 st, const char *what, const char *detail);
/* Byte comparisons in ring 3 (test_hostile5.c): a == b, and every byte of p == v. */
bool r3_equal(const void *a, const void *b, u64 len);
bool r3_all(const void *p, u64 len, u8 v);
/* NEEDS_RESET and a config interrupt (entry 0) after mark, within 2 s (legacy: may lack it). */
void wait_needs_reset(struct blk *b, u32 mark, const char *what);

void test_hostile_pci_fuzz(const struct boot_info *bi, struct blk *b);
/* test_hostile_regs.c */
void h_queue_regs(struct blk *b);
void h_queue_select(struct blk *b);
void h_msix(struct blk *b);
void h_notify(struct blk *b);
void h_status(struct blk *b);
void h_geometry(struct blk *b);
void h_config(struct blk *b);
void h_bars(struct blk *b);
void h_reset_inflight(struct blk *b);
void h_dup_head(struct blk *b);
void h_chain_forms(struct blk *b);
void h_discard(struct blk *b);
void h_flood(struct blk *b);
void h_rewrite(struct blk *b);
void h_reset_io(struct blk *b);
void h_ro_declined(struct blk *b);

/* test_hostile_net.c: what the hostile-net cases share (two live in test_hostile_net_*.c). */
#define HNET_AREA (192UL << 10) /* bytes at hn.area, the case's own */
struct hnet {
        struct net *net;
        struct peer_link *link;
        u8 *area;
        u32 seq;             /* the next wire sequence number */
        u32 want_tx_dropped; /* frames the case made the device drop: --stats must agree */
        u32 want_rx_dropped;
};
extern struct hnet hn;
/* An echo of a good frame on pair 0 comes back whole: the device still works. */
void hn_good_echo(const char *after);
void hn_tx_rewrite(void);
void hn_flood(void);

#endif
