/*
 * The fuzzer's model of Xen's event channels (internal.h): what Xen keeps for
 * each of our ports, and how an operation changes it, as
 * xen/common/event_channel.c, event_2l.c and event_fifo.c do.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../console.h"
#include "../event_abi.h"
#include "../event_fifo.h"
#include "../events.h"
#include "../hypercall.h"
#include "../lib.h"
#include "../xenstore.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* get_free_port(): the lowest free port; past the table, a new bucket. */
long m_get_port(struct fz *f)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = 1; p < end; p++ )
        if ( m[p].kind == K_FREE && m[p].owner == NO_OWNER )
            return p;
    f->grew = 1;                /* Xen allocates the bucket even if the op fails later */
    return end;
}

/* Learn d->valid_evtchns again: the first port status calls invalid. */
void probe_valid(void)
{
    uint32_t p = __atomic_load_n(&valid, __ATOMIC_ACQUIRE), seen;

    for ( ; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        /* Ports past the old end are free in the model already (or just taken). */
        if ( HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == -XEN_EINVAL )
            break;
    }
    /* It only grows: keep the larger of what two vcpus probed. */
    seen = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);
    while ( p > seen && !__atomic_compare_exchange_n(&valid, &seen, p, 0, __ATOMIC_SEQ_CST,
                                                     __ATOMIC_SEQ_CST) )
        ;
}

/* A port Xen just gave us: free in the model, and nobody else's. */
int claim(struct fz *f, struct fuzz_last_op *l, long want_port, uint32_t p)
{
    uint8_t none = NO_OWNER;

    if ( p >= EVTCHN_2L_NR_CHANNELS )
    {
        mismatch(f, "port-range", p, valid, p);
        return -1;
    }
    if ( nvcpus == 1 && p != want_port )
    {
        mismatch(f, "port", l->a, want_port, p);
        return -1;
    }
    if ( !__atomic_compare_exchange_n(&m[p].owner, &none, f->vcpu, 0, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST) || m[p].kind != K_FREE )
    {
        mismatch(f, "port-held", p, m[p].owner, f->vcpu);
        return -1;
    }
    if ( p >= __atomic_load_n(&valid, __ATOMIC_ACQUIRE) )
        f->grew = 1;
    f->nr_open++;
    m[p].born = f->op_index;
    return 0;
}

/* Has the port a place for its bits: always on 2-level; on FIFO, an array page. */
int covered(uint32_t p)
{
    return !m_fifo || p < m_pages * WORDS_PER_PAGE;
}

/*
 * evtchn_2l_set_pending() or evtchn_fifo_set_pending(), then the notified
 * vcpu's upcall handler; the two ABIs agree but where FIFO has no word.
 */
void m_set_pending(uint32_t p)
{
    if ( !covered(p) )
    {
        m[p].xpend = X_SET;
        return;
    }
    if ( m[p].pending )
        return;
    if ( m[p].masked )
        m[p].pending = 1;
    else
        m[p].count++;
}

/* The notified vcpu, as Xen has it, for the upcall handler. */
void m_set_vcpu(uint32_t p, unsigned int vcpu)
{
    m[p].vcpu = vcpu;
    events_set_port_vcpu(p, vcpu);
}

/* evtchn_free(): pending cleared, back to vcpu 0; then nobody's. */
void m_free(struct fz *f, uint32_t p)
{
    m[p].uncounted |= m[p].kind == K_CROSS;
    if ( m[p].kind == K_VIRQ )
        f->virq_port[m[p].virq] = 0;
    m[p].kind = K_FREE;
    m[p].pending = 0;
    m[p].vcpu = 0;
    f->nr_open--;
    __atomic_store_n(&m[p].owner, NO_OWNER, __ATOMIC_SEQ_CST);
}

/* The ports the harness holds: theirs, never masked, notified where they are. */
void adopt_harness_ports(void)
{
    evtchn_port_t ports[2 + GUEST_MAX_VCPUS] = { console_port(), xs_port() };

    for ( unsigned int v = 1; v < nvcpus; v++ )
        ports[1 + v] = kick_port[v];
    for ( unsigned int i = 0; i < ARRAY_SIZE(ports); i++ )
    {
        struct evtchn_unmask u = { .port = ports[i] };

        if ( !ports[i] )
            continue;
        HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
        m[ports[i]] = (struct mport){ .kind = K_HARNESS, .owner = NO_OWNER };
    }
}

/* The model of the domain as Xen and the guest have it now, the harness's ports adopted. */
void model_init(void)
{
    memset(m, 0, sizeof(m));
    valid = 0;
    probe_valid();
    m_fifo = fifo_active();
    m_pages = fifo_nr_pages();
    for ( unsigned int v = 0; v < GUEST_MAX_VCPUS; v++ )
        m_cb[v] = m_fifo && v < nvcpus;     /* fifo_init() set up every vcpu */
    for ( uint32_t p = 0; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        m[p].owner = NO_OWNER;
        m[p].masked = events_port_masked(p);
        m[p].masked_2l = m_fifo ? evtchn_2l.is_masked(p) : 0;
        m[p].count = count0[p] = events_count(p);
        /* Buckets made from here on start zeroed (alloc_evtchn_bucket()). */
        m[p].xpend = p < valid ? X_UNKNOWN : X_CLEAR;
    }
    m[0].kind = K_RESERVED;     /* evtchn_init() */
    adopt_harness_ports();
}
