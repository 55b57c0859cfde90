/* Dom0's own ports, through the kernel's event channel device (ports.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>

#include "dom0.h"
#include "ports.h"

struct dev_port dev[64];
unsigned int nr_dev;

struct dev_port *dev_port(int64_t port)
{
    for ( unsigned int i = 0; i < nr_dev; i++ )
        if ( dev[i].port == port )
            return &dev[i];
    return NULL;
}

/* A binding ioctl: the new port in *port, or Xen's -errno (the driver passes it on). */
long dev_bind(unsigned long cmd, void *arg, int64_t *port)
{
    int rc = ioctl(evtchn, cmd, arg);

    if ( rc < 0 )
        return -errno;
    if ( nr_dev == sizeof(dev) / sizeof(dev[0]) )
    {
        fprintf(stderr, "evtchn-op: more than %u ports of our own in one case\n", nr_dev);
        exit(2);
    }
    dev[nr_dev++] = (struct dev_port){ .port = rc };
    *port = rc;
    return 0;
}

/*
 * Count what the device delivered within timeout_ms (0: only what is there
 * now); how many it read.  It masks each port it delivers; writing the port
 * back unmasks it.
 */
ssize_t dev_pump(int timeout_ms)
{
    struct pollfd p = { .fd = evtchn, .events = POLLIN };
    evtchn_port_t got[64];
    ssize_t n;

    if ( poll(&p, 1, timeout_ms) <= 0 )
        return 0;
    if ( (n = read(evtchn, got, sizeof(got))) <= 0 )
        return 0;
    for ( ssize_t i = 0; i < n / (ssize_t)sizeof(got[0]); i++ )
    {
        struct dev_port *d = dev_port(got[i]);

        if ( d )
            d->count++;
    }
    if ( write(evtchn, got, n) != n )
        die("unmasking through /dev/xen/evtchn");
    return n / sizeof(got[0]);
}


/* Until the port has counted n events, or timeout_ms passed; its count. */
uint32_t dev_wait(struct dev_port *d, uint32_t n, int64_t timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;

    dev_pump(0);
    while ( d->count < n && now_ns() < end )
        dev_pump((end - now_ns()) / 1000000 + 1);
    return d->count;
}

long dev_notify(evtchn_port_t port)
{
    struct ioctl_evtchn_notify o = { .port = port };

    return ioctl(evtchn, IOCTL_EVTCHN_NOTIFY, &o) < 0 ? -errno : 0;
}

/* Unbind one of ours through the device: 0 or -errno; it is ours no more either way. */
long dev_unbind(struct dev_port *d)
{
    struct ioctl_evtchn_unbind u = { .port = d->port };
    long rc = ioctl(evtchn, IOCTL_EVTCHN_UNBIND, &u) < 0 ? -errno : 0;

    /*
     * The device's ring may still name the port for events from before the
     * unbind: count them now, to this binding, not to the next one Xen gives
     * the same number.
     */
    while ( dev_pump(0) > 0 )
        ;
    *d = dev[--nr_dev];
    return rc;
}

void dev_unbind_all(void)
{
    for ( unsigned int i = 0; i < nr_dev; i++ )
    {
        struct ioctl_evtchn_unbind o = { .port = dev[i].port };

        ioctl(evtchn, IOCTL_EVTCHN_UNBIND, &o);
    }
    nr_dev = 0;
}
