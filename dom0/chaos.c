/* The chaos op: dom0 as a third actor beside a fuzzing guest (chaos.h). */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/sys/evtchn.h>

#include "lib-host.h"
#include "chaos.h"
#include "dom0.h"
#include "ports.h"

/*
 * Dom0 as a third actor beside a fuzzing guest (`A fuzz_with ... @Dom0`): n
 * random operations from seed on channels with `peer`, through the kernel's
 * device and privcmd.  It offers ports to the peer, binds the peer's ports by
 * guess, sends on and closes its own, and asks the status of the peer's.  It
 * keeps no model: each answer must be one Xen can give there (the guest checks
 * its own side).  Value: answers out of place, each printed as a NOTE.
 */
#define CHAOS_PORTS 48

static int chaos_odd(const char *what, long rc)
{
    script_say(EVT_NOTE " chaos: %s answered %ld", what, rc);
    return 1;
}

void op_chaos(const struct stmt *s, const int64_t *a, struct result *r)
{
    uint64_t seed = a[0];
    domid_t peer = a[2];
    int64_t port;

    (void)s;
    if ( not_in_domu(r) )
        return;
    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint64_t pick = splitmix64(&seed);
        long rc;

        dev_pump(0);            /* what the peer sent: read, and let the next come */
        switch ( pick % 5 )
        {
        case 0: {               /* a port for the peer to bind */
            struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = peer };

            if ( nr_dev < CHAOS_PORTS && (rc = dev_bind(IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b, &port)) )
                r->val += chaos_odd("offer", rc);
            break;
        }
        case 1: {               /* one of the peer's, if it offers it right now */
            struct ioctl_evtchn_bind_interdomain b = { .remote_domain = peer,
                                                       .remote_port = (pick >> 8) % 128 };

            if ( nr_dev < CHAOS_PORTS && (rc = dev_bind(IOCTL_EVTCHN_BIND_INTERDOMAIN, &b, &port)) &&
                 rc != -EINVAL )
                r->val += chaos_odd("bind by guess", rc);
            break;
        }
        case 2:                 /* to the peer, or dropped: 0 either way */
            if ( nr_dev && (rc = dev_notify(dev[(pick >> 8) % nr_dev].port)) )
                r->val += chaos_odd("send", rc);
            break;
        case 3:
            if ( nr_dev && (rc = dev_unbind(&dev[(pick >> 8) % nr_dev])) )
                r->val += chaos_odd("close", rc);
            break;
        default: {              /* the peer's port: dom0 may look at any domain's */
            struct evtchn_status st = { .dom = peer, .port = (pick >> 8) % 128 };

            if ( (rc = event_channel_op(EVTCHNOP_status, &st)) && rc != -EINVAL )
                r->val += chaos_odd("status", rc);
        }
        }
    }
}
