/*
 * The event channel fuzzer (fuzz.h): random operations on our own ports,
 * each checked against a model of what xen/common/event_channel.c does.
 *
 * The model is exact for one vcpu on the 2-level ABI: every return value,
 * every port number Xen hands out (the lowest free one, get_free_port()),
 * and after each operation the state of the ports it touched.  Every
 * SWEEP_EVERY operations, and at the end, all ports are compared.
 *
 * Interdomain channels are made with ourselves at both ends (an unbound
 * port whose remote is our own domain, bound with bind_interdomain), so one
 * domain sees both sides of every send.  The console and xenstore ports are
 * the harness's: looked at, never touched, bound again after a reset.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "console.h"
#include "events.h"
#include "fuzz.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "xenstore.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* Ports the generator keeps open at most: well below max_event_channels. */
#define MAX_OPEN 192
#define SWEEP_EVERY 1000
#define LAST_OPS 16

enum kind { K_FREE, K_RESERVED, K_UNBOUND, K_INTER, K_VIRQ, K_IPI, K_HARNESS };

/* What Xen keeps for each of our ports (struct evtchn), and what we see. */
static struct mport {
    uint8_t kind;
    uint8_t vcpu;               /* notify_vcpu_id */
    uint8_t virq;
    uint8_t pending, masked;    /* the 2-level bits in shared_info */
    domid_t rdom;               /* unbound: remote_domid; interdomain: the peer */
    uint32_t rport;             /* interdomain: the peer's port */
    uint32_t count;             /* upcalls delivered */
} m[EVTCHN_2L_NR_CHANNELS];

static uint32_t valid;                  /* d->valid_evtchns */
static uint32_t virq_port[NR_VIRQS];    /* vcpu 0's virq_to_evtchn[] */
static unsigned int nr_open;
static long (*reset_self)(void);

/* ---- seeded choices ---- */

static uint64_t rng, run_seed;

/* splitmix64: one 64-bit state, so a seed names a run exactly. */
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
    return rnd() % n;
}

static int is_open(uint32_t p)
{
    return p < valid && m[p].kind >= K_UNBOUND && m[p].kind != K_HARNESS;
}

/*
 * Mostly a port we hold; else an edge: port 0 (reserved), the last valid
 * port, the first invalid one, bucket and ABI limits, anything nearby.
 * A port the harness needs is never handed to an op that changes it.
 */
static uint32_t pick_port(void)
{
    static const uint32_t edge[] = { 63, 64, 127, 128, 4095, 4096, 0xffffffffu };
    uint32_t p = 0;

    switch ( below(12) )
    {
    case 0: p = 0; break;
    case 1: p = valid - 1; break;
    case 2: p = valid; break;
    case 3: p = edge[below(ARRAY_SIZE(edge))]; break;
    case 4: p = below(valid + 64); break;
    default:
        for ( unsigned int tries = 0; tries < 8; tries++ )
            if ( is_open(p = below(valid)) )
                break;
    }
    return p < EVTCHN_2L_NR_CHANNELS && m[p].kind == K_HARNESS ? 0 : p;
}

static domid_t pick_dom(void)
{
    static const domid_t doms[] = { DOMID_SELF, DOMID_SELF, 0, DOMID_INVALID };

    return below(4) == 0 ? self_domid : doms[below(ARRAY_SIZE(doms))];
}

static uint32_t pick_vcpu(void)
{
    static const uint32_t vcpus[] = { 0, 0, 0, 1, GUEST_MAX_VCPUS, 0xffffffffu };

    return vcpus[below(ARRAY_SIZE(vcpus))];
}

/* ---- the record of the last operations, for a mismatch report ---- */

static struct last_op {
    uint64_t i;
    const char *name;
    uint32_t a, b;
    long want, got;
} last[LAST_OPS];
static uint64_t op_index;
static unsigned int mismatches;

static struct last_op *record(const char *name, uint32_t a, uint32_t b)
{
    struct last_op *l = &last[op_index % LAST_OPS];

    *l = (struct last_op){ .i = op_index, .name = name, .a = a, .b = b };
    return l;
}

static const char *const kind_name[] = {
    [K_FREE] = "closed", [K_RESERVED] = "reserved", [K_UNBOUND] = "unbound",
    [K_INTER] = "interdomain", [K_VIRQ] = "virq", [K_IPI] = "ipi", [K_HARNESS] = "harness",
};

/* One port as the model and as Xen see it. */
static void explain(uint32_t p)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    const struct mport *mp;

    if ( p >= EVTCHN_2L_NR_CHANNELS )
        return;
    mp = &m[p];
    printf("EVT FUZZ-PORT port=%u model=%s,vcpu=%u,rdom=%u,rport=%u,pending=%u,masked=%u,upcalls=%u"
           " xen=rc:%ld,status:%u,vcpu=%u,dom=%u,port=%u\n",
           p, kind_name[mp->kind], mp->vcpu, mp->rdom, mp->rport, mp->pending, mp->masked,
           mp->count, rc, st.status, st.vcpu, st.u.interdomain.dom, st.u.interdomain.port);
}

static void mismatch(const char *what, uint32_t port, long model, long xen)
{
    if ( mismatches++ )
        return;
    printf("EVT FUZZ-MISMATCH seed=%lu op=%lu what=%s port=%u model=%ld xen=%ld\n",
           (unsigned long)run_seed, (unsigned long)op_index, what,
           port, model, xen);
    explain(port);
    if ( port != (uint32_t)model && (uint64_t)model < EVTCHN_2L_NR_CHANNELS )
        explain(model);         /* a port number the model expected */
    for ( uint64_t i = op_index + 1 > LAST_OPS ? op_index + 1 - LAST_OPS : 0; i <= op_index; i++ )
    {
        const struct last_op *l = &last[i % LAST_OPS];

        if ( l->name && l->i == i )
            printf("EVT FUZZ-LAST op=%lu %s(%u, %u) model=%ld xen=%ld\n", (unsigned long)l->i,
                   l->name, l->a, l->b, l->want, l->got);
    }
}

/* ---- the model ---- */

/* get_free_port(): the lowest free port, growing the table by a bucket. */
static int grew;

static long m_get_port(void)
{
    for ( uint32_t p = 1; p < valid; p++ )
        if ( m[p].kind == K_FREE )
            return p;
    grew = 1;                   /* Xen allocates the bucket even if the op fails later */
    return valid;
}

/* Learn d->valid_evtchns again: the first port status calls invalid. */
static void probe_valid(void)
{
    for ( ; valid < EVTCHN_2L_NR_CHANNELS; valid++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = valid };

        /* Ports past the old end are free in the model already (or just taken). */
        if ( HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == -XEN_EINVAL )
            break;
    }
}

/* evtchn_2l_set_pending(), then our upcall handler, which runs before the hypercall returns. */
static void m_set_pending(uint32_t p)
{
    if ( m[p].pending )
        return;
    if ( m[p].masked )
        m[p].pending = 1;
    else
        m[p].count++;
}

/* evtchn_free(): pending cleared, back to vcpu 0. */
static void m_free(uint32_t p)
{
    if ( m[p].kind == K_VIRQ )
        virq_port[m[p].virq] = 0;
    m[p].kind = K_FREE;
    m[p].pending = 0;
    m[p].vcpu = 0;
    nr_open--;
}

static void m_open(uint32_t p, enum kind kind)
{
    m[p].kind = kind;
    nr_open++;
}

/* ---- checks ---- */

static void check_port(uint32_t p)
{
    int pending = 0;

    if ( p >= EVTCHN_2L_NR_CHANNELS || p >= valid || m[p].kind == K_HARNESS )
        return;
    if ( events_count(p) != m[p].count )
        mismatch("upcalls", p, m[p].count, events_count(p));
    events_port_pending(p, &pending);
    if ( pending != m[p].pending )
        mismatch("pending", p, m[p].pending, pending);
    if ( events_port_masked(p) != m[p].masked )
        mismatch("masked", p, m[p].masked, events_port_masked(p));
}

static const uint32_t stat_of[] = {
    [K_FREE] = EVTCHNSTAT_closed, [K_RESERVED] = EVTCHNSTAT_closed,
    [K_UNBOUND] = EVTCHNSTAT_unbound, [K_INTER] = EVTCHNSTAT_interdomain,
    [K_VIRQ] = EVTCHNSTAT_virq, [K_IPI] = EVTCHNSTAT_ipi,
    [K_HARNESS] = EVTCHNSTAT_interdomain,
};

/* evtchn_status(): what Xen should say of port p of ours. */
static void check_status(uint32_t p, long rc, const struct evtchn_status *st)
{
    const struct mport *mp = &m[p < EVTCHN_2L_NR_CHANNELS ? p : 0];

    if ( p >= valid )
    {
        if ( rc != -XEN_EINVAL )
            mismatch("status-rc", p, -XEN_EINVAL, rc);
        return;
    }
    if ( rc )
        mismatch("status-rc", p, 0, rc);
    else if ( st->status != stat_of[mp->kind] )
        mismatch("status", p, stat_of[mp->kind], st->status);
    else if ( mp->kind == K_HARNESS )
        return;                 /* the backend's port: not ours to predict */
    else if ( st->vcpu != mp->vcpu )
        mismatch("status-vcpu", p, mp->vcpu, st->vcpu);
    else if ( mp->kind == K_UNBOUND && st->u.unbound.dom != mp->rdom )
        mismatch("status-unbound-dom", p, mp->rdom, st->u.unbound.dom);
    else if ( mp->kind == K_INTER && st->u.interdomain.port != mp->rport )
        mismatch("status-interdomain-port", p, mp->rport, st->u.interdomain.port);
    else if ( mp->kind == K_INTER && st->u.interdomain.dom != mp->rdom )
        mismatch("status-interdomain-dom", p, mp->rdom, st->u.interdomain.dom);
    else if ( mp->kind == K_VIRQ && st->u.virq != mp->virq )
        mismatch("status-virq", p, mp->virq, st->u.virq);
}

static void sweep(void)
{
    for ( uint32_t p = 0; p <= valid && p < EVTCHN_2L_NR_CHANNELS && !mismatches; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        check_status(p, HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), &st);
        check_port(p);
    }
}

/* The op's return value; and for an allocation, the port Xen chose. */
static void check_rc(struct last_op *l, long want, long got)
{
    l->want = want;
    l->got = got;
    if ( want != got )
        mismatch("rc", l->a, want, got);
}

static void check_alloc(struct last_op *l, long want_port, long port)
{
    if ( !l->got && port != want_port )
        mismatch("port", l->a, want_port, port);
}

/* ---- the operations ---- */

static void do_alloc_unbound(void)
{
    domid_t dom = below(8) ? DOMID_SELF : pick_dom();
    domid_t remote = below(3) ? DOMID_SELF : pick_dom();
    struct evtchn_alloc_unbound o = { .dom = dom, .remote_dom = remote };
    struct last_op *l = record("alloc_unbound", dom, remote);
    long want = 0, port = 0, rc;

    if ( dom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else if ( dom != DOMID_SELF && dom != self_domid )
        want = -XEN_EPERM;      /* xsm_evtchn_unbound(XSM_TARGET): another's table */
    else
        port = m_get_port();
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &o);
    check_rc(l, want, rc);
    if ( rc || want )
        return;
    check_alloc(l, port, o.port);
    m_open(o.port, K_UNBOUND);
    m[o.port].rdom = remote == DOMID_SELF ? self_domid : remote;
}

static void do_bind_interdomain(void)
{
    domid_t rdom = below(6) ? DOMID_SELF : (below(2) ? self_domid : DOMID_INVALID);
    uint32_t rport = pick_port();
    struct evtchn_bind_interdomain o = { .remote_dom = rdom, .remote_port = rport };
    struct last_op *l = record("bind_interdomain", rdom, rport);
    long want = 0, lport = -1, rc;

    if ( rdom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else
    {
        lport = m_get_port();
        if ( rport >= valid )
            want = -XEN_EINVAL;     /* a bucket grown for lport holds no unbound port */
        else if ( m[rport].kind != K_UNBOUND || m[rport].rdom != self_domid )
            want = -XEN_EINVAL;
    }
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &o);
    check_rc(l, want, rc);
    if ( rc || want )
        return;
    check_alloc(l, lport, o.local_port);
    m_open(o.local_port, K_INTER);
    m[o.local_port].rdom = self_domid;
    m[o.local_port].rport = rport;
    m[rport].kind = K_INTER;
    m[rport].rdom = self_domid;
    m[rport].rport = o.local_port;
    m_set_pending(o.local_port);   /* "conservatively always setting a notification" */
    check_port(rport);
    check_port(o.local_port);
}

/* virq_is_global(): all but TIMER, DEBUG, XENOPROF and XENPMU (x86: arch ones too). */
static int virq_global(uint32_t virq)
{
    return virq != VIRQ_TIMER && virq != VIRQ_DEBUG && virq != VIRQ_XENOPROF &&
           virq != VIRQ_XENPMU;
}

static void do_bind_virq(void)
{
    static const uint32_t virqs[] = { VIRQ_TIMER, VIRQ_DEBUG, VIRQ_CONSOLE, VIRQ_DOM_EXC,
                                      VIRQ_XENOPROF, VIRQ_XENPMU, VIRQ_ARCH_0,
                                      NR_VIRQS - 1, NR_VIRQS, 0xffffffffu };
    uint32_t virq = virqs[below(ARRAY_SIZE(virqs))], vcpu = pick_vcpu();
    struct evtchn_bind_virq o = { .virq = virq, .vcpu = vcpu };
    struct last_op *l = record("bind_virq", virq, vcpu);
    long want = 0, port = -1, rc;

    if ( (int)virq < 0 || virq >= NR_VIRQS )
        want = -XEN_EINVAL;
    else if ( virq_global(virq) && vcpu != 0 )
        want = -XEN_EINVAL;
    else if ( vcpu >= nr_vcpus_up )
        want = -XEN_ENOENT;
    else if ( virq_port[virq] )
        want = -XEN_EEXIST;
    else
        port = m_get_port();
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &o);
    check_rc(l, want, rc);
    if ( rc || want )
        return;
    check_alloc(l, port, o.port);
    m_open(o.port, K_VIRQ);
    m[o.port].virq = virq;
    m[o.port].vcpu = vcpu;
    virq_port[virq] = o.port;
}

static void do_bind_ipi(void)
{
    uint32_t vcpu = pick_vcpu();
    struct evtchn_bind_ipi o = { .vcpu = vcpu };
    struct last_op *l = record("bind_ipi", vcpu, 0);
    long want = 0, port = -1, rc;

    if ( vcpu >= nr_vcpus_up )
        want = -XEN_ENOENT;
    else
        port = m_get_port();
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &o);
    check_rc(l, want, rc);
    if ( rc || want )
        return;
    check_alloc(l, port, o.port);
    m_open(o.port, K_IPI);
    m[o.port].vcpu = vcpu;
}

static void do_close(void)
{
    uint32_t p = pick_port();
    struct evtchn_close o = { .port = p };
    struct last_op *l = record("close", p, 0);
    long want = 0;

    if ( p >= valid || m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        want = -XEN_EINVAL;
    check_rc(l, want, HYPERVISOR_event_channel_op(EVTCHNOP_close, &o));
    if ( want || l->got )
        return;
    if ( m[p].kind == K_INTER )
    {
        uint32_t q = m[p].rport;

        m[q].kind = K_UNBOUND;
        m[q].rdom = self_domid;
        check_port(q);
    }
    m_free(p);
    check_port(p);
}

static void do_send(void)
{
    uint32_t p = pick_port();
    struct evtchn_send o = { .port = p };
    struct last_op *l = record("send", p, 0);
    long want = 0;
    int target = -1;

    if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_INTER )
        target = m[p].rport;
    else if ( m[p].kind == K_IPI )
        target = p;
    else if ( m[p].kind != K_UNBOUND )
        want = -XEN_EINVAL;     /* closed, reserved, virq: "Only valid for ..." */
    check_rc(l, want, HYPERVISOR_event_channel_op(EVTCHNOP_send, &o));
    if ( target >= 0 && !l->got )
    {
        m_set_pending(target);
        check_port(target);
    }
}

static void do_status(void)
{
    uint32_t p = pick_port();
    domid_t dom = below(10) ? (below(2) ? DOMID_SELF : self_domid) : DOMID_INVALID;
    struct evtchn_status st = { .dom = dom, .port = p };
    struct last_op *l = record("status", dom, p);
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

    l->got = rc;
    if ( dom == DOMID_INVALID )
        check_rc(l, -XEN_ESRCH, rc);
    else
        check_status(p, rc, &st);
}

static void do_bind_vcpu(void)
{
    uint32_t p = pick_port(), vcpu = pick_vcpu();
    struct evtchn_bind_vcpu o = { .port = p, .vcpu = vcpu };
    struct last_op *l = record("bind_vcpu", p, vcpu);
    long want = 0;

    if ( vcpu >= nr_vcpus_up )
        want = -XEN_ENOENT;     /* checked before the port */
    else if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_VIRQ && !virq_global(m[p].virq) )
        want = -XEN_EINVAL;
    else if ( m[p].kind != K_VIRQ && m[p].kind != K_UNBOUND && m[p].kind != K_INTER )
        want = -XEN_EINVAL;
    check_rc(l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &o));
    if ( !want && !l->got )
        m[p].vcpu = vcpu;
}

static void do_unmask(void)
{
    uint32_t p = pick_port();
    struct evtchn_unmask o = { .port = p };
    struct last_op *l = record("unmask", p, 0);

    check_rc(l, p >= valid ? -XEN_EINVAL : 0, HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &o));
    if ( p >= valid || l->got )
        return;
    /* evtchn_port_unmask(): nothing for a port that is not evtchn_usable(). */
    if ( m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        return;
    /* evtchn_2l_unmask(): only a port that was masked and is pending is delivered. */
    if ( m[p].masked && m[p].pending )
    {
        m[p].pending = 0;
        m[p].count++;
    }
    m[p].masked = 0;
    check_port(p);
}

/* The guest's own half: the mask bit in shared_info (no hypercall). */
static void do_mask(void)
{
    uint32_t p = pick_port() % EVTCHN_2L_NR_CHANNELS;
    struct last_op *l = record("mask", p, 0);

    if ( m[p].kind == K_HARNESS )
        return;
    l->got = events_port_mask(p);
    m[p].masked = 1;
    check_port(p);
}

/* The ports the harness bound again: theirs, and never masked. */
static void adopt_harness_ports(void)
{
    evtchn_port_t ports[] = { console_port(), xs_port() };

    for ( unsigned int i = 0; i < ARRAY_SIZE(ports); i++ )
    {
        struct evtchn_unmask u = { .port = ports[i] };

        if ( !ports[i] )
            continue;
        HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
        m[ports[i]] = (struct mport){ .kind = K_HARNESS };
    }
}

static void do_reset(void)
{
    domid_t dom = below(4) ? DOMID_SELF : (below(2) ? 0 : DOMID_INVALID);
    struct evtchn_reset o = { .dom = dom };
    struct last_op *l = record("reset", dom, 0);

    if ( dom != DOMID_SELF )
    {
        /* rcu_lock_domain_by_any_id(), then xsm_evtchn_reset(XSM_TARGET) */
        check_rc(l, dom == DOMID_INVALID ? -XEN_ESRCH : -XEN_EPERM,
                 HYPERVISOR_event_channel_op(EVTCHNOP_reset, &o));
        return;
    }
    check_rc(l, 0, reset_self());
    /* evtchn_reset(): evtchn_close() of every port; the mask bits stay. */
    for ( uint32_t p = 1; p < valid; p++ )
        if ( m[p].kind != K_FREE )
            m[p] = (struct mport){ .kind = K_FREE, .masked = m[p].masked, .count = m[p].count };
    memset(virq_port, 0, sizeof(virq_port));
    nr_open = 0;
    adopt_harness_ports();
}

/* ---- the run ---- */

static void (*const ops[])(void) = {
    do_alloc_unbound, do_alloc_unbound, do_alloc_unbound,
    do_bind_interdomain, do_bind_interdomain, do_bind_interdomain,
    do_bind_virq, do_bind_ipi, do_bind_ipi,
    do_close, do_close, do_close,
    do_send, do_send, do_send, do_send,
    do_status, do_status,
    do_bind_vcpu,
    do_unmask, do_unmask,
    do_mask, do_mask,
};

static void model_init(void)
{
    memset(m, 0, sizeof(m));
    memset(virq_port, 0, sizeof(virq_port));
    nr_open = 0;
    valid = 0;
    probe_valid();
    m[0].kind = K_RESERVED;     /* evtchn_init() */
    for ( uint32_t p = 0; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        m[p].masked = events_port_masked(p);
        m[p].count = events_count(p);
    }
    adopt_harness_ports();
}

void fuzz_run(uint64_t seed, uint64_t nops, long (*reset)(void), struct fuzz_report *out)
{
    uint64_t start = now_ns();

    reset_self = reset;
    rng = run_seed = seed;
    op_index = 0;
    mismatches = 0;
    memset(last, 0, sizeof(last));
    model_init();
    sweep();                    /* the model starts from what Xen says */

    for ( ; op_index < nops && !mismatches; op_index++ )
    {
        grew = 0;
        if ( below(1000) == 0 )
            do_reset();
        else if ( nr_open >= MAX_OPEN )
            do_close();
        else
            ops[below(ARRAY_SIZE(ops))]();
        if ( grew )
            probe_valid();
        if ( op_index % SWEEP_EVERY == SWEEP_EVERY - 1 )
            sweep();
    }
    if ( !mismatches )
        sweep();
    out->ops = op_index;
    out->mismatches = mismatches;
    out->ns = now_ns() - start;
    printf("EVT FUZZ seed=%lu ops=%lu mismatches=%u ns=%lu valid=%u open=%u\n",
           (unsigned long)seed, (unsigned long)out->ops, mismatches,
           (unsigned long)out->ns, valid, nr_open);
}
