/* What every part of evtchn-op shares (dom0.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/domctl.h>
#include <xen/sys/privcmd.h>

#include "dom0.h"

int privcmd = -1, xenbus = -1, evtchn = -1;
int domu;

void die(const char *what)
{
    fprintf(stderr, "evtchn-op: %s: %s\n", what, strerror(errno));
    exit(2);
}

long event_channel_op(unsigned int cmd, void *arg)
{
    privcmd_hypercall_t call = {
        .op = __HYPERVISOR_event_channel_op,
        .arg = { cmd, (uintptr_t)arg },
    };
    long rc = ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &call);

    /* privcmd hands back Xen's -E<n> as -1 with errno set. */
    return rc < 0 ? -errno : rc;
}

long domctl(struct xen_domctl *dc)
{
    privcmd_hypercall_t call = { .op = __HYPERVISOR_domctl, .arg = { (uintptr_t)dc } };

    dc->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    return ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &call) < 0 ? -errno : 0;
}

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The toolstack's ops (PRIV): dom0's only; the Linux peer is no toolstack. */
int not_in_domu(struct result *r)
{
    if ( domu )
        r->err = "EPERM";
    return domu;
}
