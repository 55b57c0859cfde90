/*
 * Vcpus: stop every vcpu's periodic timer (so VIRQ_TIMER fires only when a
 * case arms it), and bring the secondary vcpus up to an idle loop that takes
 * upcalls, so events bound to them are delivered and counted there, and runs
 * the work smp_run_all() gives it.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/vcpu.h>
#include <xen/errno.h>
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "smp.h"
#include "traps.h"

#define VCPU_STACK_SIZE 16384

static uint8_t vcpu_stacks[GUEST_MAX_VCPUS][VCPU_STACK_SIZE]
    __attribute__((aligned(16)));
static struct vcpu_guest_context vcpu_ctxt;
unsigned int nr_vcpus_up = 1;

unsigned int smp_this_vcpu(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

    for ( unsigned int v = 1; v < GUEST_MAX_VCPUS; v++ )
        if ( sp >= (uintptr_t)vcpu_stacks[v] && sp < (uintptr_t)vcpu_stacks[v] + VCPU_STACK_SIZE )
            return v;
    return 0;                   /* the boot stack */
}

/* Work smp_run_all() hands the secondaries: a generation each takes once. */
static void (*work_fn)(unsigned int vcpu, void *arg);
static void *work_arg;
static uint32_t work_gen, work_done;

static void secondary_main(unsigned int vcpu) __attribute__((noreturn));
static void secondary_main(unsigned int vcpu)
{
    uint32_t seen = 0;

    for ( ;; )
    {
        uint32_t gen = __atomic_load_n(&work_gen, __ATOMIC_ACQUIRE);

        if ( gen != seen )
        {
            seen = gen;
            work_fn(vcpu, work_arg);
            __atomic_fetch_add(&work_done, 1, __ATOMIC_RELEASE);
            continue;
        }
        /* SCHEDOP_block enables event delivery, then sleeps until an event. */
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    }
}

void smp_run_all(void (*fn)(unsigned int vcpu, void *arg), void *arg,
                 void (*kick)(unsigned int vcpu))
{
    unsigned int up = nr_vcpus_up;

    work_fn = fn;
    work_arg = arg;
    __atomic_store_n(&work_done, 0, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&work_gen, 1, __ATOMIC_SEQ_CST);
    for ( unsigned int v = 1; v < up; v++ )
        kick(v);
    fn(0, arg);
    while ( __atomic_load_n(&work_done, __ATOMIC_ACQUIRE) < up - 1 )
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
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
