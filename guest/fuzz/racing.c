/*
 * Racing (internal.h): with several vcpus, some of the channels a vcpu makes
 * are shared, and every vcpu sends on any shared port while its owner binds,
 * moves, masks and closes it.  Here: which numbers are shared, when a closed
 * one is drained of racers, and the racing send itself.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../hypercall.h"
#include "internal.h"
#include <xen/errno.h>              /* the XEN_E* enum */

static uint32_t racing_on[GUEST_MAX_VCPUS];     /* the shared port a vcpu is sending on, else 0 */

uint32_t racy_state(uint32_t p)
{
    return RACY_STATE(__atomic_load_n(&racy[p], __ATOMIC_SEQ_CST));
}

/* One channel in four a vcpu makes is shared, with several vcpus; by index, not a draw, so streams stay as they were. */
int share_new(const struct fz *f)
{
    return nvcpus > 1 && f->op_index % 4 == 0;
}

/* From `was` to `state`, unless someone else changed the number since `was`. */
static int racy_move(uint32_t p, uint32_t *was, uint32_t state)
{
    return __atomic_compare_exchange_n(&racy[p], was, RACY_NEXT(*was, state), 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

void share(uint32_t p)
{
    uint32_t was = __atomic_load_n(&racy[p], __ATOMIC_SEQ_CST);

    while ( !racy_move(p, &was, RACY_SHARED) )
        ;
}

/*
 * A port just closed, `was` its racy[] while it was ours (not RACY_NO: its
 * count already unknown, uncounted).  Once no racer is still sending on the
 * number (each says which, racing_on[], before it looks at racy[]: one of the
 * two sees the other's store), whoever binds the number next checks it
 * exactly again, counted from then on.  Until then it is still not checked: a
 * racer's send may yet land on the new binding.  If the number has changed
 * since `was` (shared again, or a drain of ours that has not ended was taken
 * over), it is someone else's to drain.
 */
void unshare(uint32_t p, uint32_t was)
{
    if ( !racy_move(p, &was, RACY_DRAINING) )
        return;
    was = RACY_NEXT(was, RACY_DRAINING);
    for ( unsigned int v = 0; v < nvcpus; v++ )
        while ( __atomic_load_n(&racing_on[v], __ATOMIC_SEQ_CST) == p )
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    __atomic_store_n(&drained_at[p], __atomic_add_fetch(&drain_clock, 1, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
    racy_move(p, &was, RACY_NO);
}

/*
 * Could a racer have sent on number p since `since` (drain_clock then)?  If it
 * is shared or draining now, or its drain ended after then: a port Xen gave
 * us at that number in the meantime may have had a racer's send.
 */
int raced_since(uint32_t p, uint64_t since)
{
    return racy_state(p) != RACY_NO || __atomic_load_n(&drained_at[p], __ATOMIC_SEQ_CST) > since;
}

/* A shared port, mostly another vcpu's; 0 when none turns up. */
void pick_racing(struct fz *f, uint32_t *a, uint32_t *b)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    *a = *b = 0;
    for ( unsigned int tries = 0; tries < 8 && end > 1; tries++ )
    {
        uint32_t p = 1 + below(f, end - 1);

        if ( RACY_STATE(__atomic_load_n(&racy[p], __ATOMIC_RELAXED)) == RACY_SHARED )
        {
            *a = p;
            return;
        }
    }
}

/*
 * A send on a shared port, racing whatever its owner is doing to it: the
 * channel may be interdomain, IPI or unbound (0) or closed or a virq (EINVAL)
 * by the time Xen looks.  Nothing else is ours to check.
 */
void do_send_racing(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_send o = { .port = p };
    struct fuzz_last_op *l = record(f, p, b);

    __atomic_store_n(&racing_on[f->vcpu], p, __ATOMIC_SEQ_CST);
    if ( p && racy_state(p) == RACY_SHARED )
    {
        l->got = HYPERVISOR_event_channel_op(EVTCHNOP_send, &o);
        if ( l->got != 0 && l->got != -XEN_EINVAL )
            mismatch(f, "rc", p, 0, l->got);
        f->raced += !l->got;
    }
    else
        l->got = FUZZ_NOT_ISSUED;   /* unshared meanwhile (or none found): not sent */
    __atomic_store_n(&racing_on[f->vcpu], 0, __ATOMIC_SEQ_CST);
}
