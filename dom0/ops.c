/*
 * The ops a case may give Dom0 (script-lang.h's DOM0 and PRIV ones, and the
 * compiler's rendezvous): our own ports through the event channel device
 * (ports.c), every other op a raw hypercall through privcmd.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#define __XEN_TOOLS__ 1         /* domctl.h is the toolstack's interface */
#include <xen/domctl.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/privcmd.h>

#include "lib-host.h"
#include "chaos.h"
#include "dom0.h"
#include "ops.h"
#include "ports.h"
#include "xs.h"

#define OP(name) static void op_##name(const struct stmt *s, const int64_t *a, struct result *r)

/* Our own port goes through the device; another domain's through privcmd. */
OP(alloc_unbound)
{
    struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };

    (void)s;
    if ( a[0] == DOMID_SELF || a[0] == 0 )
    {
        struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = a[1] };

        r->rc = dev_bind(IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b, &r->val);
        return;
    }
    r->rc = event_channel_op(EVTCHNOP_alloc_unbound, &o);
    r->val = o.port;
}

OP(bind_interdomain)
{
    struct ioctl_evtchn_bind_interdomain b = { .remote_domain = a[0], .remote_port = a[1] };

    (void)s;
    r->rc = dev_bind(IOCTL_EVTCHN_BIND_INTERDOMAIN, &b, &r->val);
}

OP(status)
{
    (void)s;
    r->st.dom = a[0];
    r->st.port = a[1];
    r->rc = event_channel_op(EVTCHNOP_status, &r->st);
    r->has_status = !r->rc;
}

/*
 * A port the device bound is closed through it: closing it behind the
 * kernel's back makes the kernel's own close fail later, which it treats
 * as a bug (xen_evtchn_close()).
 */
OP(close)
{
    struct evtchn_close o = { .port = a[0] };
    struct dev_port *d = dev_port(a[0]);

    (void)s;
    r->rc = d ? dev_unbind(d) : event_channel_op(EVTCHNOP_close, &o);
}

/* Through the device when the port is its, else the hypercall: 0 or -errno. */
static long send_one(int64_t port)
{
    struct evtchn_send o = { .port = port };

    return dev_port(port) ? dev_notify(port) : event_channel_op(EVTCHNOP_send, &o);
}

OP(send)
{
    (void)s;
    r->rc = send_one(a[0]);
}

OP(send_many)
{
    (void)s;
    for ( r->val = 0; r->val < a[1] && !(r->rc = send_one(a[0])); r->val++ )
        ;
}

OP(unmask)
{
    struct evtchn_unmask o = { .port = a[0] };
    evtchn_port_t port = a[0];

    (void)s;
    if ( dev_port(a[0]) )
        r->rc = write(evtchn, &port, sizeof(port)) == sizeof(port) ? 0 : -errno;
    else
        r->rc = event_channel_op(EVTCHNOP_unmask, &o);
}

/* Counting works on our own ports only: the device tells us of no other. */
#define DEV_PORT(d, port)                                       \
    struct dev_port *d = dev_port(port);                        \
    if ( !d )                                                   \
    {                                                           \
        r->err = "EINVAL";                                      \
        return;                                                 \
    }

static int64_t mark_port = -1;
static uint32_t mark_base;

OP(wait)
{
    DEV_PORT(d, a[0]);
    (void)s;
    r->val = dev_wait(d, a[1], a[2]);
}

OP(count)
{
    DEV_PORT(d, a[0]);
    (void)s;
    dev_pump(0);
    r->val = d->count;
}

OP(mark)
{
    DEV_PORT(d, a[0]);
    (void)s;
    dev_pump(0);
    mark_port = a[0];
    mark_base = r->val = d->count;
}

static uint64_t rtt_ns[RTT_MAX];

/* pingpong and rtt, as the guest runs them (guest/script.c); rtt's `first` times each. */
static void exchange(const struct stmt *s, const int64_t *a, struct result *r, int timed)
{
    DEV_PORT(d, a[0]);
    uint32_t base = mark_port == a[0] ? mark_base : d->count;
    int first = !strcmp(s->args[2], "first");
    int64_t done = 0, early = 0;

    if ( a[1] > RTT_MAX )
    {
        r->err = "E2BIG";
        return;
    }
    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint32_t want = base + i + 1;
        uint64_t t0 = now_ns();

        if ( first && d->count >= want )
            early++;
        if ( first && (r->rc = dev_notify(d->port)) )
            break;
        if ( dev_wait(d, want, a[3]) < want )
            break;
        if ( first && timed )
            rtt_ns[done] = now_ns() - t0;
        if ( !first && (r->rc = dev_notify(d->port)) )
            break;
        done++;
    }
    r->val = done;
    if ( first && timed )
        script_rtt_report(s, rtt_ns, done, early);
}

OP(pingpong)
{
    exchange(s, a, r, 0);
}

OP(rtt)
{
    exchange(s, a, r, 1);
}

OP(reset)
{
    struct evtchn_reset o = { .dom = a[0] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_reset, &o);
}


/*
 * The toolstack's destroy, as a crash or an administrator ends a domain: the
 * peer's steps meet it mid-case.  Not from the Linux peer: it is no toolstack.
 */
OP(destroy)
{
    char cmd[64];
    int status;

    (void)s;
    if ( not_in_domu(r) )
        return;
    snprintf(cmd, sizeof(cmd), "xl destroy %ld >/dev/null 2>&1", (long)a[0]);
    status = system(cmd);
    r->rc = status == 0 ? 0 : -EIO;
}

/*
 * `xl debug-keys`: Xen's own dumps ('e': event channels), or 'N', an NMI,
 * which nmi=fatal (xen-config/xen.cmdline) makes a panic: the harness's
 * self-test of a Xen that goes down.  Xen takes an NMI's cause from the boot
 * CPU only (do_nmi()), so the key is sent from dom0 pinned there.
 */
OP(debug_key)
{
    char cmd[160];

    (void)s;
    if ( not_in_domu(r) )
        return;
    if ( a[0] < 0x21 || a[0] > 0x7e || a[0] == '\'' || a[0] == '\\' )
    {
        r->err = "EINVAL";
        return;
    }
    snprintf(cmd, sizeof(cmd), "xl vcpu-pin 0 all 0 >/dev/null 2>&1; xl debug-keys '%c'; "
             "st=$?; xl vcpu-pin 0 all all >/dev/null 2>&1; exit $st", (int)a[0]);
    r->rc = system(cmd) == 0 ? 0 : -EIO;
}

/*
 * The toolstack's XEN_DOMCTL_set_virq_handler: which domain a global VIRQ is
 * sent to (dom0 until then).  From 4.21 (eba922abdb) only that domain may bind
 * it, so a domU's case about a global VIRQ is made its handler first.
 */
OP(virq_handler)
{
    struct xen_domctl dc = {
        .cmd = XEN_DOMCTL_set_virq_handler,
        .domain = (domid_t)a[1],
        .u.set_virq_handler.virq = (uint32_t)a[0],
    };

    (void)s;
    if ( not_in_domu(r) )
        return;
    r->rc = domctl(&dc);
}


OP(put)
{
    char path[160], val[32];
    const char *v = s->args[1];

    if ( script_is_num_token(v) )  /* published as the resolved number */
    {
        snprintf(val, sizeof(val), "%ld", (long)a[1]);
        v = val;
    }
    snprintf(path, sizeof(path), "%s/%s", pub, s->args[0]);
    r->err = xs_write(path, v);
}

OP(get)
{
    script_get(a[0], s->args[1], a[2], r);
}

script_op_fn *const dom0_ops[NR_OPS] = {
#define SCRIPT_OP(name, args, value, who) SCRIPT_OP_##who(name)
#define SCRIPT_OP_GUEST(name)
#define SCRIPT_OP_DOM0(name) [OP_##name] = op_##name,
#define SCRIPT_OP_PRIV(name) [OP_##name] = op_##name,
#define SCRIPT_OP_HARNESS(name)
#include "script-lang.h"
    [OP_mark] = op_mark,
    [OP_put] = op_put,
    [OP_get] = op_get,
};

/* Whatever the case bound in dom0 goes with it; counts start again at 0. */
void ops_case_end(void)
{
    dev_unbind_all();
    mark_port = -1;
}
