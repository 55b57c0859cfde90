/* The FIFO event channel ABI (EVTCHNOP_init_control and friends). */
#ifndef GUEST_EVENT_FIFO_H
#define GUEST_EVENT_FIFO_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

/* Event-array pages the guest keeps: ports below FIFO_ARRAY_PAGES * 1024. */
#define FIFO_ARRAY_PAGES 4

/* Which frame an init_control/expand_array step hands to Xen. */
enum fifo_gfn_kind {
    FIFO_GFN_PAGE = 0,          /* a good, page-aligned guest page (its mfn) */
    FIFO_GFN_BAD = 1,           /* ~0: no frame at all */
    FIFO_GFN_PAGETABLE = 2,     /* our top-level page table: ours, but never writable */
};

/* Guest-side failure of expand_array: all our array pages are in use. */
#define FIFO_NO_PAGE 1

/* Nonzero once Xen accepted a control block (the domain is on FIFO: evtchn_fifo). */
int fifo_active(void);

/* The frame a step of that kind hands to Xen; `page` is the one for FIFO_GFN_PAGE. */
uint64_t fifo_gfn_of(enum fifo_gfn_kind kind, const void *page);
/* EVTCHNOP_init_control; records the control block on success. */
long fifo_init_control(enum fifo_gfn_kind kind, uint32_t offset, uint32_t vcpu);
/* EVTCHNOP_expand_array; FIFO_NO_PAGE if the guest has no page left. */
long fifo_expand_array(enum fifo_gfn_kind kind);
/* init_control for every vcpu that is up, then the first array page. */
long fifo_init(void);
/* After a successful EVTCHNOP_reset: Xen is back on 2-level. */
void fifo_reset(void);
/* Event-array pages Xen took from us (ports below 1024 times that have a word). */
unsigned int fifo_nr_pages(void);
/*
 * Guard pages around the control blocks and array pages: fill them (once
 * nothing of Xen's is mapped there, any time), then find the first changed
 * byte: its offset from the first guard (a control block's guard is at
 * 2 * PAGE_SIZE * vcpu, an array page's after the 8 control blocks'), or -1;
 * the byte found there in *seen.
 */
void fifo_guard_fill(void);
long fifo_guard_find(uint8_t *seen);
/* For a finding: the port's event word, and each vcpu's ready bits, queue heads and walk. */
void fifo_explain(evtchn_port_t port);

#endif
