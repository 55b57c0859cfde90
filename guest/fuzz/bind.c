/*
 * The operations that make a channel: alloc_unbound, bind_interdomain (with
 * ourselves at both ends, or to the peer's port by guess), bind_virq and
 * bind_ipi.  Each picks its arguments, then issues the op and checks it
 * against the model (ops.h).
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../hypercall.h"
#include "../lib.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

void pick_alloc_unbound(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = below(f, 8) ? DOMID_SELF : pick_dom(f);
    *b = below(f, 3) ? DOMID_SELF : pick_dom(f);
}

void do_alloc_unbound(struct fz *f, uint32_t a, uint32_t b)
{
    domid_t dom = a, remote = b;
    struct evtchn_alloc_unbound o = { .dom = dom, .remote_dom = remote };
    struct fuzz_last_op *l = record(f, dom, remote);
    long want = 0, port = 0;

    if ( dom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else if ( dom != DOMID_SELF && dom != self_domid )
        want = -XEN_EPERM;      /* xsm_evtchn_unbound(XSM_TARGET): another's table */
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = peer != DOMID_INVALID && remote == peer ? K_CROSS : K_UNBOUND;
    f->cross += m[o.port].kind == K_CROSS;
    if ( m[o.port].kind == K_UNBOUND && share_new(f) )
        share(o.port);
    m[o.port].rdom = remote == DOMID_SELF ? self_domid : remote;
}

void pick_bind_interdomain(struct fz *f, uint32_t *a, uint32_t *b)
{
    if ( peer != DOMID_INVALID && below(f, 3) == 0 )
    {
        /* One of the peer's ports, by guess: it offers some for us (alloc_unbound). */
        *a = peer;
        *b = below(f, 128);
        return;
    }
    *a = below(f, 6) ? DOMID_SELF : (below(f, 2) ? self_domid : DOMID_INVALID);
    *b = pick_port(f);
}

/*
 * To the peer's port: whether it is unbound for us right now is the peer's
 * business (and its other vcpus'), so Xen may answer 0 or EINVAL; a port it
 * gives us must still be free and nobody's, as every other.
 */
static void bind_cross(struct fz *f, struct fuzz_last_op *l, struct evtchn_bind_interdomain *o)
{
    long port = m_get_port(f);

    l->want = 0;
    l->got = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, o);
    if ( l->got == -XEN_EINVAL )
        return;
    if ( l->got )
    {
        mismatch(f, "rc", l->b, 0, l->got);
        return;
    }
    if ( claim(f, l, port, o->local_port) )
        return;
    m[o->local_port].kind = K_CROSS;
    f->cross++;
    m[o->local_port].rdom = peer;
    m[o->local_port].rport = o->remote_port;
}

void do_bind_interdomain(struct fz *f, uint32_t a, uint32_t rport)
{
    domid_t rdom = a;
    struct evtchn_bind_interdomain o = { .remote_dom = rdom, .remote_port = rport };
    struct fuzz_last_op *l = record(f, rdom, rport);
    long want = 0, lport = -1;
    uint64_t since = __atomic_load_n(&drain_clock, __ATOMIC_SEQ_CST);

    if ( peer != DOMID_INVALID && rdom == peer )
    {
        bind_cross(f, l, &o);
        return;
    }
    if ( rdom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else
    {
        lport = m_get_port(f);
        if ( rport >= valid )
            want = -XEN_EINVAL;     /* a bucket grown for lport holds no unbound port */
        else if ( m[rport].kind != K_UNBOUND || m[rport].rdom != self_domid )
            want = -XEN_EINVAL;
    }
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &o));
    if ( want || l->got || claim(f, l, lport, o.local_port) )
        return;
    m[o.local_port].kind = K_INTER;
    m[o.local_port].rdom = self_domid;
    m[o.local_port].rport = rport;
    m[rport].kind = K_INTER;
    m[rport].rdom = self_domid;
    m[rport].rport = o.local_port;
    if ( raced_since(rport, since) || raced_since(o.local_port, since) || share_new(f) )
    {
        /*
         * A racer's send on either number (shared, draining, or drained since
         * the bind began: one still on the number's previous channel) may
         * already have raised the other end.  Shared before either is checked.
         */
        share(o.local_port);
        share(rport);
    }
    /* "conservatively always setting a notification": a fresh port notifies vcpu 0 */
    m_set_pending(o.local_port);
    check_port(f, rport);
    check_port(f, o.local_port);
}

/* virq_is_global(): all but TIMER, DEBUG, XENOPROF and XENPMU (x86: arch ones too). */
int virq_global(uint32_t virq)
{
    return virq != VIRQ_TIMER && virq != VIRQ_DEBUG && virq != VIRQ_XENOPROF &&
           virq != VIRQ_XENPMU;
}

void pick_bind_virq(struct fz *f, uint32_t *a, uint32_t *b)
{
    static const uint32_t virqs[] = { VIRQ_TIMER, VIRQ_DEBUG, VIRQ_CONSOLE, VIRQ_DOM_EXC,
                                      VIRQ_XENOPROF, VIRQ_XENPMU, VIRQ_ARCH_0,
                                      NR_VIRQS - 1, NR_VIRQS, 0xffffffffu };

    *a = virqs[below(f, ARRAY_SIZE(virqs))];
    *b = pick_vcpu(f);
    /* Each vcpu's table is its own: a vcpu binds per-vcpu virqs on itself, vcpu 0 the global ones. */
    if ( *b < nvcpus && *b != f->vcpu )
        *b = f->vcpu;
}

void do_bind_virq(struct fz *f, uint32_t virq, uint32_t vcpu)
{
    struct evtchn_bind_virq o = { .virq = virq, .vcpu = vcpu };
    struct fuzz_last_op *l = record(f, virq, vcpu);
    long want = 0, port = -1;

    if ( (int)virq < 0 || virq >= NR_VIRQS )
        want = -XEN_EINVAL;
    else if ( virq_global(virq) && vcpu != 0 )
        want = -XEN_EINVAL;
    else if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;
    else if ( virq_global(virq) && xen_ver >= (4ul << 16 | 21) )
        want = -XEN_EBUSY;      /* 4.21+ (eba922abdb): only the handler, dom0 here, binds it */
    else if ( f->virq_port[virq] )
        want = -XEN_EEXIST;
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = K_VIRQ;
    m[o.port].virq = virq;
    m_set_vcpu(o.port, vcpu);
    f->virq_port[virq] = o.port;
}

void pick_bind_ipi(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_vcpu(f);
    *b = 0;
}

void do_bind_ipi(struct fz *f, uint32_t vcpu, uint32_t b)
{
    struct evtchn_bind_ipi o = { .vcpu = vcpu };
    struct fuzz_last_op *l = record(f, vcpu, 0);
    long want = 0, port = -1;

    (void)b;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = K_IPI;
    m_set_vcpu(o.port, vcpu);   /* before any send: its upcall handler must take it */
    if ( share_new(f) )
        share(o.port);
}
