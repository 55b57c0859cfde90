/*
 * Vcpus: stop every vcpu's periodic timer (so VIRQ_TIMER fires only when a
 * case arms it), and bring the secondary vcpus up to an idle loop that only
 * takes upcalls, so events bound to them are delivered and counted there.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/vcpu.h>
#include <xen/errno.h>
#include "guest.h"
#include "events.h"
#include "hypercall.h"
#include "lib.h"
#include "smp.h"
#include "traps.h"

#define VCPU_STACK_SIZE 16384

static uint8_t vcpu_stacks[GUEST_MAX_VCPUS][VCPU_STACK_SIZE]
    __attribute__((aligned(16)));
static struct vcpu_guest_context vcpu_ctxt;

static void secondary_main(unsigned int vcpu) __attribute__((noreturn));
static void secondary_main(unsigned int vcpu)
{
    (void)vcpu;
    /* SCHEDOP_block enables event delivery, then sleeps until an event. */
    for ( ;; )
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

/* Vcpus the domain has: VCPUOP_is_up fails with ENOENT past the last one. */
static unsigned int count_vcpus(void)
{
    unsigned int n = 1;

    while ( n < XEN_LEGACY_MAX_VCPUS &&
            HYPERVISOR_vcpu_op(VCPUOP_is_up, n, NULL) != -XEN_ENOENT )
        n++;
    return n;
}

struct smp_info smp_init(void)
{
    struct smp_info si = { .timer_rc = 0 };

    si.vcpus = count_vcpus();

    /* PV vcpus start with a 100 Hz ticker (pv_vcpu_initialise()). */
    for ( unsigned int v = 0; v < si.vcpus; v++ )
    {
        long rc = HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, v, NULL);

        if ( rc && !si.timer_rc )
            si.timer_rc = rc;
    }

    for ( unsigned int v = 1; v < si.vcpus && v < GUEST_MAX_VCPUS; v++ )
    {
        long rc;

        traps_vcpu_context(&vcpu_ctxt, v, secondary_main,
                           (unsigned long)vcpu_stacks[v] + VCPU_STACK_SIZE);
        rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, v, &vcpu_ctxt);
        if ( !rc )
            rc = HYPERVISOR_vcpu_op(VCPUOP_up, v, NULL);
        if ( rc )
        {
            si.up_rc = rc;
            break;
        }
        /* Nothing is bound to it yet, so counting it now is early enough. */
        __atomic_store_n(&nr_vcpus_up, v + 1, __ATOMIC_SEQ_CST);
    }
    si.up = nr_vcpus_up;
    return si;
}
