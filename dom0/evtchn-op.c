/*
 * evtchn-op: dom0's part of a case, run inside dom0 by the interpreter the
 * guests run (script/script_core.c), so each step costs a hypercall, not a
 * round trip over the serial line.
 *
 *   evtchn-op <name> <script> [ROLE=domid ...]
 *   evtchn-op --domu <script>
 *
 * <name> prefixes each EVT line as a guest's console relay would ("g5-Dom0");
 * ROLE=domid says what @ROLE means.  Exit 0 when the script ran (its verdicts
 * are in the EVT lines), 2 when it could not.
 *
 * --domu: in the Linux peer, a domU (dom0/peer-init.c).  Its console is
 * relayed with the prefix already; domain ids are read where the harness put
 * them for every domain (XS_DIR/dom/ROLE of our home); it publishes in its
 * own home; and it exits 1 when a step failed.
 *
 * Dom0's own ports are made, notified, unmasked and closed through the dom0
 * kernel's event channel device (/dev/xen/evtchn), as a Linux driver's would
 * be, and their events counted as it delivers them; every other op (another
 * domain's ports, status, reset) is a raw hypercall through privcmd.
 * Xenstore is reached through the kernel's xenbus device.
 *
 * Layouts and numbers come from Xen's public headers of the suite under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#define __XEN_TOOLS__ 1         /* domctl.h is the toolstack's interface */
#include <xen/domctl.h>
#include <xen/io/xs_wire.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/privcmd.h>

#include "lib-host.h"
#include "script_core.h"

static int privcmd = -1, xenbus = -1, evtchn = -1;
static int domu;                /* --domu: the Linux peer */

static void die(const char *what)
{
    fprintf(stderr, "evtchn-op: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- Xen and xenstore, through the dom0 kernel ---- */

static long event_channel_op(unsigned int cmd, void *arg)
{
    privcmd_hypercall_t call = {
        .op = __HYPERVISOR_event_channel_op,
        .arg = { cmd, (uintptr_t)arg },
    };
    long rc = ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &call);

    /* privcmd hands back Xen's -E<n> as -1 with errno set. */
    return rc < 0 ? -errno : rc;
}

static void read_all(void *buf, size_t len)
{
    for ( size_t got = 0; got < len; )
    {
        ssize_t n = read(xenbus, (char *)buf + got, len - got);

        if ( n <= 0 )
            die("reading /dev/xen/xenbus");
        got += n;
    }
}

/*
 * One request and its reply: NULL with the reply's body (NUL-terminated,
 * cut to size) in out, or the errno name xenstored answered.
 */
static const char *xs_talk(enum xsd_sockmsg_type type, const char *body, size_t len,
                           char *out, size_t size)
{
    static char err[32];
    char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    struct xsd_sockmsg hdr = { .type = type, .req_id = 1, .len = len };
    char reply[XENSTORE_PAYLOAD_MAX + 1];

    if ( len > XENSTORE_PAYLOAD_MAX )
        return "E2BIG";
    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), body, len);
    if ( write(xenbus, msg, sizeof(hdr) + len) != (ssize_t)(sizeof(hdr) + len) )
        die("writing /dev/xen/xenbus");
    read_all(&hdr, sizeof(hdr));
    if ( hdr.len > XENSTORE_PAYLOAD_MAX )
        die("a reply longer than xenstore allows");
    read_all(reply, hdr.len);
    reply[hdr.len] = '\0';
    if ( hdr.type == XS_ERROR )
    {
        snprintf(err, sizeof(err), "%.31s", reply);
        return err;
    }
    if ( out && size )
    {
        size_t n = hdr.len < size - 1 ? hdr.len : size - 1;

        memcpy(out, reply, n);
        out[n] = '\0';
    }
    return NULL;
}

static const char *xs_read(const char *path, char *buf, size_t size)
{
    return xs_talk(XS_READ, path, strlen(path) + 1, buf, size);
}

static const char *xs_write(const char *path, const char *val)
{
    char body[XENSTORE_PAYLOAD_MAX];
    int n = snprintf(body, sizeof(body), "%s%c%s", path, '\0', val);

    return n < 0 || (size_t)n >= sizeof(body) ? "E2BIG" : xs_talk(XS_WRITE, body, n, NULL, 0);
}

/* Where `put` publishes: XS_DIR/pub of our home, dom0's or the Linux peer's. */
static char pub[96];

/* A fresh publication folder, ours, readable by every domain (perms "r<us>"). */
static void pub_setup(void)
{
    char self[16] = "0", perms[sizeof(pub) + 16];
    const char *err;
    int n;

    if ( domu && (err = xs_read("domid", self, sizeof(self))) )
    {
        fprintf(stderr, "evtchn-op: xenstore domid: %s\n", err);
        exit(2);
    }
    snprintf(pub, sizeof(pub), "/local/domain/%s/" XS_DIR "/pub", self);
    if ( domu )
    {
        struct utsname u;

        uname(&u);
        /* As the guest's: its domid ties the peer's answers to its role. */
        printf("EVT BOOT domid=%s peer=linux kernel=%s\n", self, u.release);
        fflush(stdout);
    }
    n = snprintf(perms, sizeof(perms), "%s%cr%s", pub, '\0', self) + 1;
    xs_talk(XS_RM, pub, strlen(pub) + 1, NULL, 0);
    if ( (err = xs_write(pub, "")) || (err = xs_talk(XS_SET_PERMS, perms, n, NULL, 0)) )
    {
        fprintf(stderr, "evtchn-op: xenstore %s: %s\n", pub, err);
        exit(2);
    }
}

/* ---- dom0's own ports, through the kernel's event channel device ---- */

static struct dev_port {
    evtchn_port_t port;
    uint32_t count;             /* events the device delivered this case */
} dev[64];
static unsigned int nr_dev;

static struct dev_port *dev_port(int64_t port)
{
    for ( unsigned int i = 0; i < nr_dev; i++ )
        if ( dev[i].port == port )
            return &dev[i];
    return NULL;
}

/* A binding ioctl: the new port in *port, or Xen's -errno (the driver passes it on). */
static long dev_bind(unsigned long cmd, void *arg, int64_t *port)
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
static ssize_t dev_pump(int timeout_ms)
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

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Until the port has counted n events, or timeout_ms passed; its count. */
static uint32_t dev_wait(struct dev_port *d, uint32_t n, int64_t timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;

    dev_pump(0);
    while ( d->count < n && now_ns() < end )
        dev_pump((end - now_ns()) / 1000000 + 1);
    return d->count;
}

static long dev_notify(evtchn_port_t port)
{
    struct ioctl_evtchn_notify o = { .port = port };

    return ioctl(evtchn, IOCTL_EVTCHN_NOTIFY, &o) < 0 ? -errno : 0;
}

/* Unbind one of ours through the device: 0 or -errno; it is ours no more either way. */
static long dev_unbind(struct dev_port *d)
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

static void dev_unbind_all(void)
{
    for ( unsigned int i = 0; i < nr_dev; i++ )
    {
        struct ioctl_evtchn_unbind o = { .port = dev[i].port };

        ioctl(evtchn, IOCTL_EVTCHN_UNBIND, &o);
    }
    nr_dev = 0;
}

/* ---- the ops a case may give Dom0 (script-lang.h's DOM0 ones) ---- */

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

/* The toolstack's ops (PRIV): dom0's only; the Linux peer is no toolstack. */
static int not_in_domu(struct result *r)
{
    if ( domu )
        r->err = "EPERM";
    return domu;
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
        .interface_version = XEN_DOMCTL_INTERFACE_VERSION,
        .domain = (domid_t)a[1],
        .u.set_virq_handler.virq = (uint32_t)a[0],
    };
    privcmd_hypercall_t call = { .op = __HYPERVISOR_domctl, .arg = { (uintptr_t)&dc } };

    (void)s;
    if ( not_in_domu(r) )
        return;
    r->rc = ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &call) < 0 ? -errno : 0;
}

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
    script_say("NOTE chaos: %s answered %ld", what, rc);
    return 1;
}

OP(chaos)
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

static script_op_fn *const dom0_ops[NR_OPS] = {
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

/* ---- the place ---- */

static struct {
    const char *name;
    int64_t domid;
} doms[16];
static unsigned int nr_doms;

static int dom_lookup(const char *name, int64_t *id)
{
    char path[128], val[16], *end;

    for ( unsigned int i = 0; i < nr_doms; i++ )
        if ( !strcmp(doms[i].name, name) )
            return *id = doms[i].domid, 0;
    /* The harness tells every domain it creates each one's id (xen-config/create.sh). */
    snprintf(path, sizeof(path), XS_DIR "/dom/%s", name);
    if ( !domu || xs_read(path, val, sizeof(val)) || !val[0] )
        return -1;
    *id = strtol(val, &end, 10);
    return *end ? -1 : 0;
}

static void case_begin(char *detail, size_t size)
{
    snprintf(detail, size, domu ? "(the Linux peer is not reset: its kernel owns its console and xenstore ports)"
                                : "(dom0 is not reset: it owns the toolstack ports)");
}

/* Whatever the case bound in dom0 goes with it; counts start again at 0. */
static void case_end(void)
{
    dev_unbind_all();
    mark_port = -1;
}

static void out(const char *text, size_t len)
{
    /* One write a line: the domains' console relays share this console. */
    if ( write(STDOUT_FILENO, text, len) < 0 )
        die("writing the console");
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    static char text[1 << 20];

    if ( !f )
        die(path);
    *len = fread(text, 1, sizeof(text) - 1, f);
    if ( ferror(f) || !feof(f) )
    {
        fprintf(stderr, "evtchn-op: %s: unreadable or larger than %zu bytes\n", path, sizeof(text) - 1);
        exit(2);
    }
    fclose(f);
    text[*len] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    char prefix[64];
    struct script_env env = {
        .prefix = prefix,
        .ops = dom0_ops,
        .dom_lookup = dom_lookup,
        .case_begin = case_begin,
        .case_end = case_end,
        .xs_read = xs_read,
        .write = out,
        .now_ns = now_ns,
        .sleep_ms = sleep_ms,
    };
    struct script_totals t;
    const char *text;
    size_t len;

    if ( argc < 3 )
    {
        fprintf(stderr, "usage: evtchn-op <name> <script> [ROLE=domid ...] | --domu <script>\n");
        return 2;
    }
    domu = !strcmp(argv[1], "--domu");
    for ( int i = 3; i < argc; i++ )
    {
        char *eq = strchr(argv[i], '='), *end;

        if ( !eq || nr_doms == sizeof(doms) / sizeof(doms[0]) )
        {
            fprintf(stderr, "evtchn-op: not ROLE=domid: %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        doms[nr_doms].name = argv[i];
        doms[nr_doms++].domid = strtol(eq + 1, &end, 0);
        if ( !eq[1] || *end )
        {
            fprintf(stderr, "evtchn-op: not a domain id: %s\n", eq + 1);
            return 2;
        }
    }
    snprintf(prefix, sizeof(prefix), domu ? "" : "[%s] ", argv[1]);
    text = read_file(argv[2], &len);
    if ( (privcmd = open("/dev/xen/privcmd", O_RDWR)) < 0 )
        die("/dev/xen/privcmd");
    if ( (xenbus = open("/dev/xen/xenbus", O_RDWR)) < 0 )
        die("/dev/xen/xenbus");
    if ( (evtchn = open("/dev/xen/evtchn", O_RDWR)) < 0 )
        die("/dev/xen/evtchn");
    pub_setup();

    t = script_interpret(&env, text, len);
    script_say("DONE pass=%u fail=%u", t.pass, t.fail);
    return t.bad_script ? 2 : domu && t.fail;
}
