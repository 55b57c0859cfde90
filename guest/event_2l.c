/*
 * The 2-level event channel ABI: a PENDING and a MASKED bit per port in
 * shared_info, and per vcpu a selector of the pending words to look at
 * (xen/common/event_2l.c; Linux's drivers/xen/events/events_2l.c).
 */
#include <stdint.h>
#include "guest.h"
#include "events.h"
#include "smp.h"
#include "event_abi.h"
#include "lib.h"
#include "bitops.h"

#define NR_PORTS    EVTCHN_2L_NR_CHANNELS

static inline int test_bit_word(const volatile xen_ulong_t *arr, unsigned int nr)
{
    return (arr[nr / BITS_PER_WORD] >> (nr % BITS_PER_WORD)) & 1;
}

static int evtchn_2l_covers(evtchn_port_t port)
{
    return port < NR_PORTS;
}

static int evtchn_2l_is_pending(evtchn_port_t port)
{
    return port < NR_PORTS && test_bit_word(shared_info->evtchn_pending, port);
}

static int evtchn_2l_is_masked(evtchn_port_t port)
{
    return port < NR_PORTS && test_bit_word(shared_info->evtchn_mask, port);
}

static void evtchn_2l_clear_pending(evtchn_port_t port)
{
    if ( port < NR_PORTS )
        clear_bit_atomic(shared_info->evtchn_pending, port);
}

static int evtchn_2l_mask(evtchn_port_t port)
{
    if ( port >= NR_PORTS )
        return -1;
    set_bit_atomic(shared_info->evtchn_mask, port);
    return 0;
}

static void evtchn_2l_handle_upcall(unsigned int vcpu, evtchn_deliver_t deliver)
{
    vcpu_info_t *v = vcpu_info_of(vcpu);
    int smp = __atomic_load_n(&nr_vcpus_up, __ATOMIC_RELAXED) > 1;
    xen_ulong_t sel;

    /*
     * xchg is a full barrier: the caller's clear of evtchn_upcall_pending
     * is visible before we look.
     */
    sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);

    while ( sel )
    {
        unsigned int w = __builtin_ctzl(sel);
        xen_ulong_t pend;

        sel &= sel - 1;
        pend = shared_info->evtchn_pending[w] & ~shared_info->evtchn_mask[w];
        while ( pend )
        {
            unsigned int b = __builtin_ctzl(pend);
            unsigned int port = w * BITS_PER_WORD + b;

            pend &= pend - 1;
            /* Another vcpu's port sharing this word: its own upcall takes it. */
            if ( smp && __atomic_load_n(&port_vcpu[port], __ATOMIC_RELAXED) != vcpu )
                continue;
            /* Clear before counting so a re-send is a new upcall. */
            if ( !test_and_clear_bit_atomic(shared_info->evtchn_pending, port) )
                continue;
            deliver(port, vcpu);
        }
    }
}

const struct evtchn_abi evtchn_2l = {
    .name = "2l",
    .covers = evtchn_2l_covers,
    .is_pending = evtchn_2l_is_pending,
    .is_masked = evtchn_2l_is_masked,
    .clear_pending = evtchn_2l_clear_pending,
    .mask = evtchn_2l_mask,
    .handle_upcall = evtchn_2l_handle_upcall,
};

/*
 * The clean-up after EVTCHNOP_reset: whatever ABI the domain was on, it is
 * on 2-level now, and these bitmaps are what the next case would see.
 */
void events_clear_all_pending(void)
{
    for ( unsigned int w = 0; w < ARRAY_SIZE(shared_info->evtchn_pending); w++ )
        __atomic_store_n(&shared_info->evtchn_pending[w], 0, __ATOMIC_SEQ_CST);
    for ( unsigned int v = 0; v < nr_vcpus_up; v++ )
        __atomic_store_n(&vcpu_info_of(v)->evtchn_pending_sel, 0,
                         __ATOMIC_SEQ_CST);
}

unsigned int events_clear_all_masks(void)
{
    unsigned int n = 0;

    for ( unsigned int w = 0; w < ARRAY_SIZE(shared_info->evtchn_mask); w++ )
        for ( xen_ulong_t m = __atomic_exchange_n(&shared_info->evtchn_mask[w], 0,
                                                  __ATOMIC_SEQ_CST); m; m &= m - 1 )
            n++;
    return n;
}
