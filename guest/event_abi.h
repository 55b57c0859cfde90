/*
 * The operations that differ between the event channel ABIs, as Linux's
 * struct evtchn_ops (drivers/xen/events/events_internal.h): 2-level in
 * event_2l.c, FIFO in event_fifo.c.  events.c calls the one the domain is
 * on; the rest (counting, waiting, time) is the same for both.
 */
#ifndef GUEST_EVENT_ABI_H
#define GUEST_EVENT_ABI_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

/* Count one upcall on port, handled by vcpu (events.c). */
typedef void (*evtchn_deliver_t)(evtchn_port_t port, unsigned int vcpu);

struct evtchn_abi {
    const char *name;                   /* as CASE-BEGIN prints it: abi=<name> */
    /* Can the ABI name port (2-level: < 4096; FIFO: an array page covers it)? */
    int (*covers)(evtchn_port_t port);
    /* The port's PENDING/MASKED bit; 0 for a port the ABI cannot name. */
    int (*is_pending)(evtchn_port_t port);
    int (*is_masked)(evtchn_port_t port);
    /* Nothing happens for a port the ABI cannot name. */
    void (*clear_pending)(evtchn_port_t port);
    /* -1 for a port the ABI cannot name, else 0. */
    int (*mask)(evtchn_port_t port);
    /* vcpu's upcall (evtchn_upcall_pending already cleared): deliver each event. */
    void (*handle_upcall)(unsigned int vcpu, evtchn_deliver_t deliver);
};

extern const struct evtchn_abi evtchn_2l, evtchn_fifo;

/*
 * The ABI the domain is on: 2-level until Xen accepts a FIFO control block
 * (fifo_init_control()), 2-level again after EVTCHNOP_reset (fifo_reset()).
 */
const struct evtchn_abi *events_abi(void);
void events_set_abi(const struct evtchn_abi *abi);

/* The vcpu Xen notifies for each port, as EVTCHNOP_status last said (events.c). */
extern uint8_t port_vcpu[EVTCHN_2L_NR_CHANNELS];

#endif
