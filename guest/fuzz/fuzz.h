/*
 * A seeded fuzzer of the domain's own event channels against a model of
 * xen/common/event_channel.c, event_2l.c and event_fifo.c, on every vcpu at
 * once, on the ABI the domain is on: each operation's return value is predicted, and so is what the domain can observe afterwards (each
 * port's status, pending and mask bits, upcalls delivered).
 */
#ifndef GUEST_FUZZ_H
#define GUEST_FUZZ_H

#include <stdint.h>
#include <xen/xen.h>

/*
 * Each vcpu's last operations, in a page of its own whose machine frame a run
 * prints before it starts (EVT FUZZ-RING): when Xen goes down the guest can no
 * longer report them, but the harness can still read them out of the
 * machine's memory.  orchestrator/lastops.py reads this layout.
 */
#define FUZZ_RING_MAGIC "EVTFUZZ1"
#define FUZZ_LAST_OPS 16
#define FUZZ_NO_ANSWER INT64_MIN    /* the hypercall had not returned */
#define FUZZ_NOT_ISSUED (INT64_MIN + 1) /* no hypercall: nothing to do, or not yet */

struct fuzz_last_op {
    uint64_t i;                 /* the vcpu's operation index */
    char name[24];
    uint32_t a, b;
    int64_t want, got;          /* the model's answer and Xen's */
};

struct fuzz_ring {
    char magic[8];
    uint64_t seed;
    uint32_t vcpu, running;
    struct fuzz_last_op last[FUZZ_LAST_OPS];
} __attribute__((aligned(4096)));

struct fuzz_report {
    uint64_t ops;               /* operations issued */
    unsigned int mismatches;    /* 0, or 1: a run stops at its first */
    uint64_t ns;                /* how long they took */
};

/*
 * Runs nops operations from seed.  peer: another domain fuzzing at the same
 * time (fuzz_with), with which channels are made both ways; DOMID_INVALID for
 * none.  reset: EVTCHNOP_reset of ourselves with
 * the console and xenstore ports bound again (script.c's), 0 or -errno.
 * Prints EVT FUZZ-RING first, EVT FUZZ-MISMATCH and FUZZ-LAST lines at a
 * mismatch, and always one EVT FUZZ line at the end; then closes the ports
 * it opened.
 */
void fuzz_run(uint64_t seed, uint64_t nops, domid_t peer, long (*reset)(void), struct fuzz_report *out);

#endif
