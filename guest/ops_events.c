/*
 * The ops that show what a case sees of events: upcalls counted, waited for
 * and timed, masks and pending bits, timers, the FIFO driver, the fuzzer.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "guest.h"
#include "console.h"
#include "events.h"
#include "event_fifo.h"
#include "fuzz/fuzz.h"
#include "hypercall.h"
#include "lib.h"
#include "ops.h"
#include "selfreset.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* The count a following pingpong or rtt starts from (`mark`). */
static int64_t mark_port = -1;
static uint32_t mark_base;

void ops_events_case_begin(void)
{
    mark_port = -1;
}

OP(wait)
{
    (void)s;
    r->val = wait_for_count(a[0], a[1], a[2] > 0 ? a[2] : 0);
}

OP(count)
{
    (void)s;
    r->val = events_count(a[0]);
}

OP(pingpong)
{
    uint32_t base = mark_port == a[0] ? mark_base : events_count(a[0]);
    int first = !strcmp(s->args[2], "first");
    int64_t done = 0;

    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint32_t want = base + i + 1;

        if ( first && (r->rc = evtchn_notify(a[0])) )
            break;
        if ( wait_for_count(a[0], want, a[3] > 0 ? a[3] : 0) < want )
            break;
        if ( !first && (r->rc = evtchn_notify(a[0])) )
            break;
        done++;
    }
    r->val = done;
}

/* rtt's samples. */
static uint64_t rtt_ns[RTT_MAX];

/*
 * pingpong, timed: `first` times each round trip (its send to the reply's
 * upcall being counted) and prints one EVT RTT line; `second` only answers.
 */
OP(rtt)
{
    uint32_t base = mark_port == a[0] ? mark_base : events_count(a[0]);
    int first = !strcmp(s->args[2], "first");
    int64_t done = 0, early = 0;

    if ( a[1] > RTT_MAX )
    {
        r->err = "E2BIG";           /* a $var past what the parser lets through */
        return;
    }
    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint32_t want = base + i + 1;
        uint64_t t0 = tsc_now();

        /* A reply counted before we asked for it: that sample times nothing. */
        if ( first && events_count(a[0]) >= want )
            early++;
        if ( first && (r->rc = evtchn_notify(a[0])) )
            break;
        if ( wait_for_count(a[0], want, a[3] > 0 ? a[3] : 0) < want )
            break;
        if ( first )
            rtt_ns[done] = tsc_to_ns(tsc_now() - t0);
        if ( !first && (r->rc = evtchn_notify(a[0])) )
            break;
        done++;
    }
    r->val = done;
    if ( first )
        script_rtt_report(s, rtt_ns, done, early);
}

OP(fault)
{
    (void)s;
    r->val = *(volatile uint64_t *)(uintptr_t)a[0];
}

OP(mask)
{
    (void)s;
    if ( a[0] < 0 || events_port_mask(a[0]) )
        r->err = "EINVAL";          /* a port the current ABI cannot name */
}

OP(pending)
{
    int p = 0;

    (void)s;
    if ( a[0] < 0 || events_port_pending(a[0], &p) )
        r->err = "EINVAL";
    r->val = p;
}

OP(set_timer)
{
    (void)s;
    /* One-shot VIRQ_TIMER on this vcpu (0), ms from now. */
    r->rc = events_set_timer(now_ns() + MS_TO_NS(a[0] > 0 ? a[0] : 0));
}

OP(count_on)
{
    (void)s;
    if ( a[1] < 0 || a[1] >= GUEST_MAX_VCPUS )
        r->err = "EINVAL";
    else
        r->val = events_count_on(a[0], a[1]);
}

OP(fifo_init)
{
    (void)s, (void)a;
    r->rc = fifo_init();
    if ( r->rc == FIFO_NO_PAGE )
        r->err = "ENOBUFS";
}

OP(hold)
{
    (void)s, (void)a, (void)r;
    events_hold();
}

OP(release)
{
    (void)s, (void)a, (void)r;
    events_release();
}

OP(seq)
{
    (void)s;
    r->val = events_seq(a[0]);
}

OP(shutdown)
{
    (void)s, (void)r;
    console_flush();
    guest_shutdown(a[0]);       /* SCHEDOP_shutdown: no DONE, no return */
}

OP(register_vcpu_info)
{
    (void)s;
    r->rc = events_register_vcpu_info(a[0], a[1]);
}

static long fuzz_reset(void)
{
    long con, xs;

    return evtchn_reset_self(DOMID_SELF, 0, &con, &xs);
}

/* Value: mismatches (0 or 1). */
static void run_fuzz(struct result *r, const int64_t *a, domid_t peer)
{
    struct fuzz_report rep;

    fuzz_run(a[0], a[1] > 0 ? a[1] : 0, peer, fuzz_reset, &rep);
    r->val = rep.mismatches;
}

OP(fuzz)
{
    (void)s;
    run_fuzz(r, a, DOMID_INVALID);
}

OP(fuzz_with)
{
    (void)s;
    run_fuzz(r, a, a[2]);
}

OP(mark)
{
    (void)s;
    /*
     * The count a following pingpong or rtt starts from. Taken before the barrier
     * that releases the peer, so the peer's first event cannot slip in.
     */
    mark_port = a[0];
    mark_base = r->val = events_count(a[0]);
}
