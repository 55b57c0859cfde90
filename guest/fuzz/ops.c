/*
 * The operations on a port: close, send, status, bind_vcpu, unmask, mask
 * (the guest's own bit) and reset.  Each picks its arguments, then issues
 * the op and checks it against the model (ops.h).
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../events.h"
#include "../hypercall.h"
#include "../lib.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

void pick_port_arg(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f);
    *b = 0;
}

void do_close(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_close o = { .port = p };
    struct fuzz_last_op *l = record(f, p, b);
    long want = 0;
    int other = -1;             /* the other end, when it is ours too */
    uint32_t was = p < EVTCHN_2L_NR_CHANNELS ? __atomic_load_n(&racy[p], __ATOMIC_SEQ_CST) : RACY_NO;

    if ( p >= valid || m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        want = -XEN_EINVAL;
    else
    {
        settled_count(f, p);    /* what is on its way to another vcpu arrives first */
        if ( m[p].kind == K_INTER )
            other = m[p].rport;
        /*
         * Let go of it before Xen does: another vcpu may get the number from
         * Xen the moment the close is done.
         */
        events_set_port_vcpu(p, 0);
        m[p].uncounted |= RACY_STATE(was) != RACY_NO;  /* before another vcpu can bind the number */
        m_free(f, p);
    }
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_close, &o));
    if ( !want && RACY_STATE(was) != RACY_NO )
        unshare(p, was);
    if ( other >= 0 )
    {
        m[other].kind = K_UNBOUND;
        m[other].rdom = self_domid;
        check_port(f, other);
    }
}

void do_send(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_send o = { .port = p };
    struct fuzz_last_op *l = record(f, p, b);
    long want = 0;
    int target = -1;

    if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_INTER )
        target = m[p].rport;
    else if ( m[p].kind == K_IPI )
        target = p;
    else if ( m[p].kind == K_CROSS )
        ;                       /* to the peer, or dropped: 0 either way */
    else if ( m[p].kind != K_UNBOUND )
        want = -XEN_EINVAL;     /* closed, reserved, virq: "Only valid for ..." */
    /*
     * An upcall still on its way to another vcpu arrives first: while its
     * pending bit is set, Xen folds our send into it (evtchn_2l_set_pending()'s
     * test_and_set_bit) and one upcall comes where the model counts two
     * (soak seed 5 and seed 209: a bind's own notification to vcpu 0, sent on
     * by vcpu 1 a few operations later while vcpu 0 was off its cpu).
     */
    if ( target >= 0 )
        settled_count(f, target);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_send, &o));
    if ( target >= 0 && !l->got )
    {
        m_set_pending(target);
        check_port(f, target);
    }
}

void pick_status(struct fz *f, uint32_t *a, uint32_t *b)
{
    *b = pick_port(f);
    *a = below(f, 10) ? (below(f, 2) ? DOMID_SELF : self_domid) : DOMID_INVALID;
}

void do_status(struct fz *f, uint32_t a, uint32_t p)
{
    domid_t dom = a;
    struct evtchn_status st = { .dom = dom, .port = p };
    struct fuzz_last_op *l = record(f, dom, p);
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

    l->got = rc;
    if ( dom == DOMID_INVALID )
        check_rc(f, l, -XEN_ESRCH, rc);
    else
        check_status(f, p, rc, &st);
}

/*
 * As Linux moves a port: masked while it moves, so a pending event is not
 * left in the old vcpu's selector; the unmask raises it on the new vcpu.
 */
void pick_bind_vcpu(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f);
    *b = pick_vcpu(f);
}

void do_bind_vcpu(struct fz *f, uint32_t p, uint32_t vcpu)
{
    struct evtchn_bind_vcpu o = { .port = p, .vcpu = vcpu };
    struct evtchn_unmask u = { .port = p };
    struct fuzz_last_op *l = record(f, p, vcpu);
    int movable = mine(f, p) && p < valid && vcpu < nvcpus && m[p].kind != K_HARNESS;
    long want = 0;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;     /* checked before the port */
    else if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_VIRQ && !virq_global(m[p].virq) )
        want = -XEN_EINVAL;
    else if ( m[p].kind != K_VIRQ && m[p].kind != K_UNBOUND && m[p].kind != K_INTER && m[p].kind != K_CROSS )
        want = -XEN_EINVAL;
    if ( movable && !m[p].masked )
        events_port_mask(p);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &o));
    if ( !want && !l->got )
        m_set_vcpu(p, vcpu);
    if ( movable && !m[p].masked )  /* not pending either: every send was taken */
        HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
    if ( movable )
        check_port(f, p);
}

void do_unmask(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_unmask o = { .port = p };
    struct fuzz_last_op *l = record(f, p, b);

    check_rc(f, l, p >= valid ? -XEN_EINVAL : 0,
             HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &o));
    if ( p >= valid || l->got )
        return;
    /* evtchn_port_unmask(): nothing for a port that is not evtchn_usable(). */
    if ( m[p].kind == K_FREE || m[p].kind == K_RESERVED || !covered(p) )
        return;
    if ( m[p].kind == K_CROSS || racy_state(p) != RACY_NO )
    {
        m[p].masked = 0;        /* whether it was pending, and so raised now, is the peer's or a racer's doing */
        return;
    }
    /* evtchn_2l_unmask(), evtchn_fifo_unmask(): only a port that was masked and is pending is delivered. */
    if ( m[p].masked && m[p].pending )
    {
        m[p].pending = 0;
        m[p].count++;
    }
    m[p].masked = 0;
    check_port(f, p);
}

/* The guest's own half: the mask bit in shared_info (no hypercall). */
void pick_mask(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f) % EVTCHN_2L_NR_CHANNELS;
    *b = 0;
}

void do_mask(struct fz *f, uint32_t p, uint32_t b)
{
    struct fuzz_last_op *l = record(f, p, b);

    l->got = FUZZ_NOT_ISSUED;   /* the guest's own bit: no hypercall */
    if ( m[p].kind == K_HARNESS || (nvcpus > 1 && !mine(f, p) && p) )
        return;
    /*
     * An upcall still on its way to another vcpu arrives first: masked under
     * it, the event would stay pending there instead (seeds 202 and 255: a
     * bind's own notification to vcpu 0, masked by vcpu 1 just after).
     */
    settled_count(f, p);
    l->got = events_port_mask(p);
    if ( covered(p) )
        m[p].masked = 1;
    check_port(f, p);
}

/* With one vcpu only: a reset closes every vcpu's ports at once. */
void pick_reset(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = below(f, 4) ? DOMID_SELF : (below(f, 2) ? 0 : DOMID_INVALID);
    *b = 0;
}

void do_reset(struct fz *f, uint32_t a, uint32_t b)
{
    domid_t dom = a;
    struct evtchn_reset o = { .dom = dom };
    struct fuzz_last_op *l = record(f, dom, b);

    /* Our own id is ourselves too (as dom0, 0 is): the same reset as DOMID_SELF. */
    if ( dom != DOMID_SELF && dom != self_domid )
    {
        /* rcu_lock_domain_by_any_id(), then xsm_evtchn_reset(XSM_TARGET) */
        check_rc(f, l, dom == DOMID_INVALID ? -XEN_ESRCH : -XEN_EPERM,
                 HYPERVISOR_event_channel_op(EVTCHNOP_reset, &o));
        return;
    }
    check_rc(f, l, 0, reset_self());
    /*
     * evtchn_reset(): evtchn_close() of every port; the mask bits stay, and
     * a FIFO domain is back on 2-level with shared_info's.  The guest clears
     * every pending bit; Xen's FIFO flags stay.
     */
    for ( uint32_t p = 1; p < EVTCHN_2L_NR_CHANNELS; p++ )
        m[p] = (struct mport){ .kind = K_FREE, .owner = NO_OWNER, .count = m[p].count,
                               .xpend = m[p].xpend,
                               .uncounted = m[p].uncounted || m[p].kind == K_CROSS,
                               .masked = m_fifo ? m[p].masked_2l : m[p].masked };
    f->switches += m_fifo;
    m_fifo = 0;
    m_pages = 0;
    memset(m_cb, 0, sizeof(m_cb));
    memset(f->virq_port, 0, sizeof(f->virq_port));
    f->nr_open = 0;
    adopt_harness_ports();
}
