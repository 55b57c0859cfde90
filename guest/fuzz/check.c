/*
 * The checks: the model against what Xen answers (status, return values) and
 * what the guest sees (pending and mask bits, upcalls counted), for the ports
 * an operation touched, and every SWEEP_EVERY operations for all a vcpu holds;
 * and the guard pages no one may write to.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../event_fifo.h"
#include "../events.h"
#include "../guard.h"
#include "../hypercall.h"
#include "../lib.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* Generous: a vcpu's host thread can starve on a loaded machine (200 ms was not enough). */
#define UPCALL_WAIT_MS 2000
#define MIN_YIELDS 2000             /* and at least as many turns on a cpu (wait_more()) */

/* A wait: zeroed before it, its clock started by its first wait_more(). */
struct patience {
    uint64_t end;               /* 0: not waiting yet */
    unsigned int yields;
};

/*
 * Yield once more, unless both UPCALL_WAIT_MS and MIN_YIELDS are over: with
 * more vcpus than host cores, a vcpu can be off its cpu for longer than the
 * time alone (4 vcpus on 2 cores: an IPI to itself counted "late" after 2 s
 * in which it hardly ran), and it runs again at each yield.  The clock is
 * read when the wait begins, then only once the yields are over: Xen traps
 * a PV guest's rdtsc (now_ns() costs about 4 us under TCG, several
 * hypercalls), and most checks need no wait at all.
 */
static int wait_more(struct patience *w)
{
    if ( !w->end )
        w->end = now_ns() + MS_TO_NS(UPCALL_WAIT_MS);
    else if ( w->yields >= MIN_YIELDS && now_ns() >= w->end )
        return 0;
    w->yields++;
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    return 1;
}

/*
 * Upcalls to another vcpu arrive when it takes them; and with several vcpus
 * even our own may come a little late: when another vcpu's event sets the
 * same selector bit first, our send or unmask leaves the upcall to that
 * vcpu's vcpu_mark_events_pending() (evtchn_2l_set_pending(),
 * evtchn_2l_unmask()).  Wait that long, no longer.
 */
uint32_t settled_count(struct fz *f, uint32_t p)
{
    struct patience w = { 0 };

    if ( (nvcpus == 1 && m[p].vcpu == f->vcpu) || racy_state(p) != RACY_NO || m[p].uncounted )
        return events_count(p);
    while ( events_count(p) < m[p].count && wait_more(&w) )
        ;
    return events_count(p);
}

void check_port(struct fz *f, uint32_t p)
{
    uint32_t count;
    int pending = 0;

    if ( p >= EVTCHN_2L_NR_CHANNELS || p >= valid || m[p].kind == K_HARNESS )
        return;
    if ( m[p].kind == K_CROSS || racy_state(p) != RACY_NO || (m[p].uncounted && m[p].kind == K_FREE) )
    {
        /* The peer's events, or the racers': only our own mask bit is ours to know. */
        if ( m[p].kind != K_FREE && events_port_masked(p) != m[p].masked )
            mismatch(f, "masked", p, m[p].masked, events_port_masked(p));
        return;
    }
    if ( m[p].uncounted )
    {
        /*
         * A channel with the peer had the number before: count from here on.
         * An event this port's own binding raised is let arrive first.
         */
        struct patience w = { 0 };

        while ( !m[p].masked && events_port_pending(p, &pending) == 0 && pending && wait_more(&w) )
            ;
        /* Taken, but maybe not counted yet, by another vcpu's handler (not by ours: we are here). */
        while ( events_handling() > 0 && nvcpus > 1 && wait_more(&w) )
            ;
        m[p].count = events_count(p);
        events_port_pending(p, &pending);
        m[p].pending = pending;
        m[p].uncounted = 0;
        return;
    }
    if ( (count = settled_count(f, p)) != m[p].count )
        mismatch(f, "upcalls", p, m[p].count, count);
    events_port_pending(p, &pending);
    if ( pending != m[p].pending )
        mismatch(f, "pending", p, m[p].pending, pending);
    if ( events_port_masked(p) != m[p].masked )
        mismatch(f, "masked", p, m[p].masked, events_port_masked(p));
}

const uint32_t stat_of[] = {
    [K_FREE] = EVTCHNSTAT_closed, [K_RESERVED] = EVTCHNSTAT_closed,
    [K_UNBOUND] = EVTCHNSTAT_unbound, [K_INTER] = EVTCHNSTAT_interdomain,
    [K_VIRQ] = EVTCHNSTAT_virq, [K_IPI] = EVTCHNSTAT_ipi,
    [K_HARNESS] = EVTCHNSTAT_interdomain, [K_CROSS] = EVTCHNSTAT_interdomain,
};

/* A port past the table when we looked: invalid, unless another vcpu has grown the table since. */
static void check_past_end(struct fz *f, uint32_t p, long rc)
{
    if ( rc != -XEN_EINVAL && (nvcpus == 1 || p >= EVTCHN_2L_NR_CHANNELS || rc) )
        mismatch(f, "status-rc", p, -XEN_EINVAL, rc);
}

/* evtchn_status(): what Xen should say of port p of ours. */
void check_status(struct fz *f, uint32_t p, long rc, const struct evtchn_status *st)
{
    const struct mport *mp = &m[p < EVTCHN_2L_NR_CHANNELS ? p : 0];

    if ( p >= valid )
    {
        check_past_end(f, p, rc);
        return;
    }
    if ( rc )
        mismatch(f, "status-rc", p, 0, rc);
    else if ( mp->kind == K_CROSS )
    {
        /* Unbound for the peer, or bound by it: which, is the peer's doing. */
        if ( st->status != EVTCHNSTAT_unbound && st->status != EVTCHNSTAT_interdomain )
            mismatch(f, "status", p, EVTCHNSTAT_interdomain, st->status);
        else if ( st->vcpu != mp->vcpu )
            mismatch(f, "status-vcpu", p, mp->vcpu, st->vcpu);
        else if ( (st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom : st->u.interdomain.dom) != peer )
            mismatch(f, "status-cross-dom", p, peer, st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom
                                                                                  : st->u.interdomain.dom);
    }
    else if ( mp->kind == K_HARNESS )
    {
        if ( st->status != EVTCHNSTAT_interdomain && st->status != EVTCHNSTAT_ipi )
            mismatch(f, "status", p, EVTCHNSTAT_interdomain, st->status);
    }
    else if ( st->status != stat_of[mp->kind] )
        mismatch(f, "status", p, stat_of[mp->kind], st->status);
    else if ( st->vcpu != mp->vcpu )
        mismatch(f, "status-vcpu", p, mp->vcpu, st->vcpu);
    else if ( mp->kind == K_UNBOUND && st->u.unbound.dom != mp->rdom )
        mismatch(f, "status-unbound-dom", p, mp->rdom, st->u.unbound.dom);
    else if ( mp->kind == K_INTER && st->u.interdomain.port != mp->rport )
        mismatch(f, "status-interdomain-port", p, mp->rport, st->u.interdomain.port);
    else if ( mp->kind == K_INTER && st->u.interdomain.dom != mp->rdom )
        mismatch(f, "status-interdomain-dom", p, mp->rdom, st->u.interdomain.dom);
    else if ( mp->kind == K_VIRQ && st->u.virq != mp->virq )
        mismatch(f, "status-virq", p, mp->virq, st->u.virq);
}

/*
 * Pages nothing writes to after fuzz_run() fills them: a byte that changes is a write
 * where none belongs (Xen's, as nothing of ours touches them), named by its offset.
 */
#define GUARD_PAGES 8
static uint8_t guard[GUARD_PAGES * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* Ours, then event_fifo.c's around its control blocks and array pages. */
void guards_fill(void)
{
    guard_fill(guard, sizeof(guard));
    fifo_guard_fill();
}

static void guard_check(struct fz *f)
{
    long at = guard_find(guard, sizeof(guard));
    uint8_t seen;

    if ( at >= 0 )
        mismatch(f, "guard-page-write", at, guard_byte(at), guard[at]);
    else if ( (at = fifo_guard_find(&seen)) >= 0 )
        mismatch(f, "guard-page-write-fifo", at, guard_byte(at % PAGE_SIZE), seen);
}

/* Every port this vcpu can vouch for: its own (all, once every vcpu has stopped). */
void sweep(struct fz *f, int all)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    guard_check(f);

    for ( uint32_t p = 0; p <= end && p < EVTCHN_2L_NR_CHANNELS && !stop; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        if ( !all && !mine(f, p) && p != end )
            continue;
        if ( p == end && !mine(f, p) )
        {
            /* Not `valid` now: the table may have grown, and the port be another vcpu's. */
            check_past_end(f, p, HYPERVISOR_event_channel_op(EVTCHNOP_status, &st));
            continue;
        }
        check_status(f, p, HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), &st);
        check_port(f, p);
    }
}

/* The op's return value. */
void check_rc(struct fz *f, struct fuzz_last_op *l, long want, long got)
{
    l->want = want;
    l->got = got;
    if ( want != got )
        mismatch(f, "rc", l->a, want, got);
}
