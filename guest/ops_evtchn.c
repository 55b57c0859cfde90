/*
 * The ops that are EVTCHNOP_* sub-commands, one hypercall each, as the case
 * language names them (docs/guest-script.md).
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "guest.h"
#include "events.h"
#include "event_fifo.h"
#include "hypercall.h"
#include "lib.h"
#include "ops.h"
#include "selfreset.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/*
 * `readonly_args 1`: each sub-command's argument goes to Xen through a
 * read-only mapping of the page it is copied to.  Xen reads it, does the
 * work, and cannot write the result back: do_event_channel_op()'s
 * __copy_to_guest() -> -EFAULT ("Cleaning up here would be a mess!").
 */
static uint8_t arg_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t arg_page_ro[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static int readonly_args;

static long evtchn_op(int cmd, void *arg, size_t size)
{
    if ( !readonly_args || !arg )
        return HYPERVISOR_event_channel_op(cmd, arg);
    memcpy(arg_page, arg, size);
    return HYPERVISOR_event_channel_op(cmd, arg_page_ro);
}

void ops_evtchn_case_begin(void)
{
    readonly_args = 0;
}

/* The binding ops: a new port of ours, whose vcpu we follow. */
#define BIND_OP(name, field, ...)                               \
OP(name)                                                        \
{                                                               \
    struct evtchn_##name o = { __VA_ARGS__ };                   \
                                                                \
    (void)s;                                                    \
    r->rc = evtchn_op(EVTCHNOP_##name, &o, sizeof(o));        \
    r->val = o.field;                                           \
    if ( !r->rc )                                               \
        events_track_port(o.field);                             \
}

OP(alloc_unbound)
{
    struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_alloc_unbound, &o, sizeof(o));
    r->val = o.port;
    if ( !r->rc && o.dom == DOMID_SELF )
        events_track_port(o.port);
}

BIND_OP(bind_interdomain, local_port, .remote_dom = a[0], .remote_port = a[1])
BIND_OP(bind_virq, port, .virq = a[0], .vcpu = a[1])
BIND_OP(bind_ipi, port, .vcpu = a[0])

/* n IPI ports of vcpu 0, bound one after another: a table filled for what then meets it
 * whole (a reset, a destroy); stops at the first refusal, which is the step's answer. */
OP(bind_many)
{
    (void)s;
    for ( r->val = 0; r->val < a[0]; r->val++ )
    {
        struct evtchn_bind_ipi o = { .vcpu = 0 };

        if ( (r->rc = evtchn_op(EVTCHNOP_bind_ipi, &o, sizeof(o))) )
            break;
        events_track_port(o.port);
    }
}
BIND_OP(bind_pirq, port, .pirq = a[0], .flags = a[1])

OP(close)
{
    struct evtchn_close o = { .port = a[0] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_close, &o, sizeof(o));
    events_track_port(o.port);
}

OP(send)
{
    (void)s;
    r->rc = evtchn_notify(a[0]);
}

/* n sends back to back, for what meets them (a peer unbinding, say); stops at a refusal. */
OP(send_many)
{
    (void)s;
    for ( r->val = 0; r->val < a[1] && !(r->rc = evtchn_notify(a[0])); r->val++ )
        ;
}

OP(status)
{
    (void)s;
    r->st.dom = a[0];
    r->st.port = a[1];
    r->rc = evtchn_op(EVTCHNOP_status, &r->st, sizeof(r->st));
    r->has_status = !r->rc;
}

OP(bind_vcpu)
{
    struct evtchn_bind_vcpu o = { .port = a[0], .vcpu = a[1] };
    int was_masked = events_port_masked(o.port);

    (void)s;
    /*
     * As Linux does: masked while it moves, so a pending event is not
     * left in the old vcpu's selector; the unmask re-raises it on the
     * new vcpu (evtchn_2l_unmask()).
     */
    events_port_mask(o.port);
    r->rc = evtchn_op(EVTCHNOP_bind_vcpu, &o, sizeof(o));
    events_track_port(o.port);
    if ( !was_masked && o.port < EVTCHN_2L_NR_CHANNELS )
    {
        struct evtchn_unmask u = { .port = o.port };

        evtchn_op(EVTCHNOP_unmask, &u, sizeof(u));
    }
}

OP(unmask)
{
    struct evtchn_unmask o = { .port = a[0] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_unmask, &o, sizeof(o));
}

OP(reset)
{
    struct evtchn_reset o = { .dom = a[0] };
    long con, xs;

    (void)s;
    /* Our console/xenstore ports go too: bind them again at once. */
    if ( o.dom == DOMID_SELF || o.dom == self_domid )
        r->rc = evtchn_reset_self(o.dom, 0, &con, &xs);
    else
        r->rc = evtchn_op(EVTCHNOP_reset, &o, sizeof(o));
}

OP(raw)
{
    /* Large enough for any EVTCHNOP_* argument. */
    uint64_t zero[16] = { 0 };

    (void)s;
    r->rc = evtchn_op(a[0], zero, sizeof(zero));
}

/*
 * The first MiB of the guest's address space is left unmapped (main.c), so
 * Xen's copy of the argument from address 0 faults.
 */
OP(bad_arg)
{
    (void)s;
    r->rc = evtchn_op(a[0], (void *)0, 0);
}

OP(readonly_args)
{
    (void)s;
    /* The alias of arg_page, read-only; arg_page_ro's own frame stays ours, unmapped. */
    if ( a[0] )
        r->rc = HYPERVISOR_update_va_mapping((unsigned long)arg_page_ro,
                                             (page_gfn(arg_page) << PAGE_SHIFT) |
                                             PTE_PRESENT | PTE_ACCESSED,
                                             UVMF_INVLPG);
    readonly_args = a[0] && !r->rc;
}

/* A frame word of the step (page, bad, pagetable) as the FIFO driver names it; 0 if none. */
static int gfn_kind(int64_t frame, enum fifo_gfn_kind *kind)
{
    switch ( frame )
    {
    case FRAME_PAGE: *kind = FIFO_GFN_PAGE; return 1;
    case FRAME_BAD: *kind = FIFO_GFN_BAD; return 1;
    case FRAME_PAGETABLE: *kind = FIFO_GFN_PAGETABLE; return 1;
    }
    return 0;
}

/*
 * init_control with its argument read-only: issued here, not by the FIFO
 * driver, since Xen may switch the domain to FIFO and still answer EFAULT.
 * The driver is not told; the next case's reset takes the domain back to
 * 2-level.  Its control block is a page of its own, never the driver's.
 */
static long init_control_readonly(enum fifo_gfn_kind kind, const int64_t *a)
{
    static uint8_t block[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
    struct evtchn_init_control o = {
        .control_gfn = fifo_gfn_of(kind, block),
        .offset = a[1],
        .vcpu = a[2],
    };

    memset(block, 0, sizeof(block));
    return evtchn_op(EVTCHNOP_init_control, &o, sizeof(o));
}

OP(init_control)
{
    enum fifo_gfn_kind kind;

    (void)s;
    if ( !gfn_kind(a[0], &kind) )
        r->err = "EDOM";            /* not a frame word: nothing issued */
    else if ( readonly_args )
        r->rc = init_control_readonly(kind, a);
    else
        r->rc = fifo_init_control(kind, a[1], a[2]);
}

OP(expand_array)
{
    enum fifo_gfn_kind kind;

    (void)s;
    if ( !gfn_kind(a[0], &kind) )
        r->err = "EDOM";
    else if ( (r->rc = fifo_expand_array(kind)) == FIFO_NO_PAGE )
        r->err = "ENOBUFS";         /* the guest's pages ran out, not Xen */
}

OP(set_priority)
{
    struct evtchn_set_priority o = { .port = a[0], .priority = a[1] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_set_priority, &o, sizeof(o));
}
