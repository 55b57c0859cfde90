/* Event channels (2-level or FIFO ABI), upcall accounting and system time. */
#ifndef GUEST_EVENTS_H
#define GUEST_EVENTS_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

void events_init(void);

/*
 * Where vcpu's vcpu_info is: in shared_info, until VCPUOP_register_vcpu_info
 * moves it (for good: Xen offers no way back).  Everything that reads
 * upcall flags, selectors or time goes through here.
 */
vcpu_info_t *vcpu_info_of(unsigned int vcpu);
/* VCPUOP_register_vcpu_info: vcpu's vcpu_info to our page at offset; 0 or -errno. */
long events_register_vcpu_info(unsigned int vcpu, uint32_t offset);
/*
 * Upcall handlers running right now, on any vcpu (one may have cleared a
 * port's pending bit and not yet counted the event).
 */
unsigned int events_handling(void);
/* Upcall accounting is per case: reset clears every port's counter. */
/*
 * The drivers' own ports (console, xenstore), told by the drivers whenever they
 * bind one: their traffic is left out of delivery order (events_seq()).
 */
enum events_driver { EVENTS_CONSOLE, EVENTS_STORE, NR_EVENTS_DRIVERS };
void events_driver_port(enum events_driver which, evtchn_port_t port);

void events_reset_counts(void);
uint32_t events_count(evtchn_port_t port);
/* Upcalls of port handled on vcpu (0 for a vcpu we do not run). */
uint32_t events_count_on(evtchn_port_t port, unsigned int vcpu);

/*
 * The vcpu Xen notifies for port, re-read with EVTCHNOP_status after any op
 * that may change it: each vcpu's upcall handles only its own ports, as
 * several vcpus' pending_sel words can cover the same port.
 */
void events_track_port(evtchn_port_t port);
void events_track_reset(void);          /* after EVTCHNOP_reset: all vcpu 0 */
/* For a caller that knows Xen's answer already (the fuzzer's model). */
void events_set_port_vcpu(evtchn_port_t port, unsigned int vcpu);
unsigned int events_port_vcpu(evtchn_port_t port);

/*
 * The port's MASKED/PENDING state on the current ABI: bits in shared_info
 * (2-level) or in its event word (FIFO).  0 on success, -1 for a port the
 * ABI cannot name (>= 4096, or no FIFO array page covers it).
 */
int events_port_mask(evtchn_port_t port);
int events_port_pending(evtchn_port_t port, int *pending);
int events_port_masked(evtchn_port_t port);

/* The ABI the domain is on, as CASE-BEGIN prints it: "2l" or "fifo". */
const char *events_abi_name(void);

/* Mask/unmask upcall delivery on this vcpu; unmask delivers anything pending. */
void events_mask(void);
void events_unmask(void);

/*
 * hold: vcpu 0's upcalls stay masked (events_unmask() leaves them) so events
 * queue up; release unmasks and forces the pending upcall.  events_seq() is
 * the 0-based position of port's first upcall since hold, -1 if none (the
 * console and xenstore ports take no position).
 */
void events_hold(void);
void events_release(void);
int32_t events_seq(evtchn_port_t port);

uint64_t now_ns(void);
/*
 * Short intervals: raw TSC ticks, scaled to ns by the current time record.
 * Neither these nor now_ns() differences are monotonic across a block under
 * TCG: a vcpu that wakes on another physical cpu may read a TSC that is behind,
 * and a rewritten time record can step system time back.  A rare interval
 * comes out near 0; medians and percentiles are what to read.
 */
uint64_t tsc_now(void);
uint64_t tsc_to_ns(uint64_t ticks);
#define MS_TO_NS(ms) ((uint64_t)(ms) * 1000000ull)

/* Block until upcalls counted on port >= n or timeout; returns the count. */
uint32_t wait_for_count(evtchn_port_t port, uint32_t n, uint64_t timeout_ms);

/*
 * Ring helper: wait until cond(arg) or the absolute deadline, sleeping on
 * port (notifications from the backend).  Port 0 means "no port": sleep in
 * short slices.  Returns cond(arg)'s last value.
 */
int wait_until(evtchn_port_t port, int (*cond)(void *), void *arg,
               uint64_t deadline);
void sleep_ms(uint64_t ms);

/* Clear stale pending bits of every port (used after EVTCHNOP_reset; event_2l.c). */
void events_clear_all_pending(void);

/*
 * 2-level mask bits live in our shared_info page: EVTCHNOP_reset and
 * evtchn_free() leave them alone, so a port masked by one case would stay
 * masked under the same number in the next.  Clears them all; returns how
 * many were set.
 */
unsigned int events_clear_all_masks(void);

/* One-shot VIRQ_TIMER on vcpu 0 at deadline (set_timer_op); 0 cancels. */
long events_set_timer(uint64_t deadline);
/* Cancel a one-shot timer that has not fired yet; 1 if there was one. */
int events_cancel_timer(void);

/* Nonzero while a hold is in force. */
int events_held(void);
long evtchn_notify(evtchn_port_t port);

#endif
