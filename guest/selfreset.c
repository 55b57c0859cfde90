/*
 * EVTCHNOP_reset of ourselves, with the console and xenstore ports bound
 * again to the same backends: every case starts that way (script.c), and a
 * case's own `reset self` goes the same way (ops_evtchn.c).
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "console.h"
#include "events.h"
#include "event_fifo.h"
#include "hypercall.h"
#include "lib.h"
#include "script_core.h"
#include "selfreset.h"
#include "xenstore.h"
#include <xen/errno.h>              /* the XEN_E* enum */

struct backend_port {
    domid_t rdom;
    evtchn_port_t rport;
    int known;
};
static struct backend_port con_remote, xs_remote;

static void remember_remote(evtchn_port_t port, struct backend_port *bp)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

    if ( port && !HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) &&
         st.status == EVTCHNSTAT_interdomain )
    {
        bp->rdom = st.u.interdomain.dom;
        bp->rport = st.u.interdomain.port;
        bp->known = 1;
    }
}

/* Bind to the backend's port again; returns the new port, or -errno. */
static long rebind(const struct backend_port *bp)
{
    struct evtchn_bind_interdomain b = {
        .remote_dom = bp->rdom, .remote_port = bp->rport,
    };
    long rc;

    if ( !bp->known )
        return -XEN_EINVAL;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
    return rc ? rc : (long)b.local_port;
}

/* A rebound port as CASE-BEGIN prints it: the port, an error or none. */
void fmt_port(char *buf, size_t size, int have, long p)
{
    if ( !have )
        snprintf(buf, size, "none");
    else if ( p >= 0 )
        snprintf(buf, size, "%ld", p);
    else
        script_fmt_rc(buf, size, p);
}

/*
 * EVTCHNOP_reset of our own domain, then the console and xenstore ports
 * bound again (new ports, or -errno, in *con and *xs).  At case start our
 * bookkeeping is reset whatever Xen answered (always); the reset op
 * touches it only when Xen did reset.  Returns Xen's rc.
 */
long evtchn_reset_self(domid_t dom, int always, long *con, long *xs)
{
    struct evtchn_reset o = { .dom = dom };
    long rc;

    remember_remote(console_port(), &con_remote);
    remember_remote(xs_port(), &xs_remote);
    events_mask();
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_reset, &o);
    /* Success also puts a FIFO domain back on 2-level (evtchn_reset()). */
    if ( !rc )
        fifo_reset();
    if ( !rc || always )
    {
        events_track_reset();
        /* Stale pending bits would count as upcalls on reused port numbers. */
        events_clear_all_pending();
        *con = console_port() ? rebind(&con_remote) : 0;
        *xs = xs_port() ? rebind(&xs_remote) : 0;
        if ( xs_port() )
            xs_set_port(*xs > 0 ? *xs : 0);
        if ( console_port() )
            console_set_port(*con > 0 ? *con : 0);
    }
    events_unmask();
    return rc;
}

/* The ports a reset of ourselves will close: valid from 0 upwards. */
unsigned int count_open_ports(void)
{
    unsigned int open = 0;

    for ( evtchn_port_t p = 1; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

        if ( rc == -XEN_EINVAL )
            break;              /* past the last valid port */
        if ( !rc && st.status != EVTCHNSTAT_closed )
            open++;
    }
    return open;
}
