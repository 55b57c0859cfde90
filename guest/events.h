/* Event channels (2-level ABI), upcall accounting and system time. */
#ifndef GUEST_EVENTS_H
#define GUEST_EVENTS_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

void events_init(void);
/* Upcall accounting is per case: reset clears every port's counter. */
void events_reset_counts(void);
uint32_t events_count(evtchn_port_t port);

/* Mask/unmask upcall delivery on this vcpu; unmask delivers anything pending. */
void events_mask(void);
void events_unmask(void);

uint64_t now_ns(void);
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

/* Clear stale pending bits of every port (used after EVTCHNOP_reset). */
void events_clear_all_pending(void);
long evtchn_notify(evtchn_port_t port);

#endif
