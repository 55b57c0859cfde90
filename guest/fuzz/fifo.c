/*
 * The FIFO ABI: switching to it (init_control), its event array
 * (expand_array), priorities (set_priority), the model's part of them, and
 * how a shrunk finding writes their arguments.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../event_fifo.h"
#include "../events.h"
#include "../hypercall.h"
#include "../lib.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/*
 * evtchn_fifo_init_control() of a domain on 2-level: setup_ports() keeps
 * each valid port's 2-level pending bit in its FIFO flag; until an array
 * page covers a port the guest sees neither bit.
 */
static void m_switch_to_fifo(unsigned int vcpu)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = 0; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        if ( p && p < end && m[p].pending )
            m[p].xpend = X_SET;
        m[p].masked_2l = m[p].masked;
        m[p].pending = m[p].masked = 0;
    }
    m_fifo = 1;
    m_pages = 0;
    m_cb[vcpu] = 1;
}

/*
 * add_page_to_event_array(): the page's words start at 0 (the guest zeroes
 * it), then every valid port it covers whose FIFO flag is set is raised,
 * whatever the port is now.  A flag left from before the run shows here.
 */
static void m_add_page(struct fz *f)
{
    uint32_t from = m_pages * WORDS_PER_PAGE, to = from + WORDS_PER_PAGE;
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = from; p < to && p < EVTCHN_2L_NR_CHANNELS; p++ )
        m[p].pending = m[p].masked = 0;
    m_pages++;
    for ( uint32_t p = from; p < to && p < end; p++ )
    {
        if ( racy_state(p) != RACY_NO )
        {
            m[p].xpend = X_UNKNOWN;     /* a racer's send may have set it */
            continue;
        }
        if ( m[p].xpend == X_UNKNOWN )
        {
            uint32_t seen = events_count(p);

            if ( seen != m[p].count && seen != m[p].count + 1 )
                mismatch(f, "upcalls", p, m[p].count, seen);
            m[p].xpend = seen != m[p].count ? X_SET : X_CLEAR;
        }
        if ( m[p].xpend == X_SET )
            m_set_pending(p);
    }
}

/* init_control's (gfn, offset) choices: good ones, then each check's edge. */
static const struct { enum fifo_gfn_kind gfn; uint32_t offset; } cb_at[] = {
    { FIFO_GFN_PAGE, 0 }, { FIFO_GFN_PAGE, 8 },
    { FIFO_GFN_PAGE, PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) },
    { FIFO_GFN_PAGE, 4 }, { FIFO_GFN_PAGE, PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) + 8 },
    { FIFO_GFN_PAGE, 0xffffffffu }, { FIFO_GFN_BAD, 0 },
};
#define CB_GOOD 3               /* the first 3 of cb_at[] pass every check */

/*
 * With several vcpus the domain keeps its ABI: the model's bits could not
 * follow a switch under the others' feet.  So they only try what fails.
 */
void pick_init_control(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_vcpu(f);
    *b = below(f, ARRAY_SIZE(cb_at));
    /* One vcpu: a switch about as rare as the reset back, so each ABI has half the run. */
    if ( !m_fifo && *b < CB_GOOD && (nvcpus > 1 || peer != DOMID_INVALID || below(f, 16)) )
        *b = CB_GOOD + below(f, ARRAY_SIZE(cb_at) - CB_GOOD);
}

void do_init_control(struct fz *f, uint32_t vcpu, uint32_t at)
{
    uint32_t offset = cb_at[at].offset;
    struct fuzz_last_op *l = record(f, vcpu, at);
    long want = 0;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;     /* domain_vcpu() == NULL, checked first */
    else if ( offset > PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) || (offset & 7) )
        want = -XEN_EINVAL;     /* "Must not cross page boundary", "Must be 8-bytes aligned" */
    else if ( m_fifo && m_cb[vcpu] )
        want = -XEN_EINVAL;     /* map_control_block(): a block already */
    else if ( cb_at[at].gfn == FIFO_GFN_BAD )
        want = -XEN_EINVAL;     /* map_guest_page(); on 2-level evtchn_fifo_destroy() undoes all */
    check_rc(f, l, want, fifo_init_control(cb_at[at].gfn, offset, vcpu));
    if ( want || l->got )
        return;
    if ( m_fifo )
        m_cb[vcpu] = 1;
    else
    {
        m_switch_to_fifo(vcpu);
        f->switches++;
    }
}

/* Another vcpu's page would race fifo_expand_array()'s slot: vcpu 0 adds pages, all try bad ones. */
void pick_expand_array(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = f->vcpu == 0 && below(f, 2) ? FIFO_GFN_PAGE : FIFO_GFN_BAD;
    *b = 0;
}

void do_expand_array(struct fz *f, uint32_t gfn, uint32_t b)
{
    struct fuzz_last_op *l = record(f, gfn, b);
    long want = 0;

    if ( gfn == FIFO_GFN_PAGE && m_pages >= FIFO_ARRAY_PAGES )
    {
        l->got = FUZZ_NOT_ISSUED;   /* the guest has no page left (FIFO_NO_PAGE) */
        return;
    }
    if ( !m_fifo )
        want = -XEN_EOPNOTSUPP; /* evtchn_fifo_expand_array(): !d->evtchn_fifo */
    else if ( gfn == FIFO_GFN_BAD )
        want = -XEN_EINVAL;     /* map_guest_page() */
    check_rc(f, l, want, fifo_expand_array(gfn));
    if ( !want && !l->got )
        m_add_page(f);
}

void pick_set_priority(struct fz *f, uint32_t *a, uint32_t *b)
{
    static const uint32_t prio[] = { EVTCHN_FIFO_PRIORITY_MAX, EVTCHN_FIFO_PRIORITY_DEFAULT,
                                     EVTCHN_FIFO_PRIORITY_MIN, EVTCHN_FIFO_PRIORITY_MIN + 1,
                                     0xffffffffu };

    *a = pick_port(f);
    *b = below(f, 2) ? below(f, EVTCHN_FIFO_MAX_QUEUES) : prio[below(f, ARRAY_SIZE(prio))];
}

/* Which queue a later event goes to: no state the guest can read back, only its answer. */
void do_set_priority(struct fz *f, uint32_t p, uint32_t prio)
{
    struct evtchn_set_priority o = { .port = p, .priority = prio };
    struct fuzz_last_op *l = record(f, p, prio);
    long want = 0;

    if ( p >= valid )
        want = -XEN_EINVAL;     /* evtchn_set_priority(): _evtchn_from_port() == NULL */
    else if ( !m_fifo )
        want = -XEN_ENOSYS;     /* evtchn_port_set_priority(): 2-level has none */
    else if ( m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        want = -XEN_EACCES;     /* evtchn_port_set_priority(): !evtchn_usable() */
    else if ( prio > EVTCHN_FIFO_PRIORITY_MIN )
        want = -XEN_EINVAL;     /* evtchn_fifo_set_priority() */
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, &o));
}

/* A shrunk finding's steps: the frame as a gfn kind word, as the case language writes it. */
static const char *const gfn_word[] = { [FIFO_GFN_PAGE] = "page", [FIFO_GFN_BAD] = "bad" };

void args_init_control(char *buf, size_t size, uint32_t vcpu, uint32_t at)
{
    snprintf(buf, size, "%s %u %u", gfn_word[cb_at[at].gfn], cb_at[at].offset, vcpu);
}

void args_expand_array(char *buf, size_t size, uint32_t gfn, uint32_t b)
{
    (void)b;
    snprintf(buf, size, "%s", gfn_word[gfn]);
}
