/*
 * What every part of the guest may use, and depends on nothing of it: the
 * start_info page Xen handed over, and the way out.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include "guest.h"
#include "hypercall.h"

start_info_t *start_info;

void guest_shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };

    for ( ;; )
        HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
}
