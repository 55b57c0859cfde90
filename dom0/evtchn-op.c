/*
 * evtchn-op: dom0's part of a case, run inside dom0 by the interpreter the
 * guests run (guest/script_core.c), so each step costs a hypercall, not a
 * round trip over the serial line.
 *
 *   evtchn-op <name> <script> [ROLE=domid ...]
 *
 * <name> prefixes each EVT line as a guest's console relay would ("g5-Dom0");
 * ROLE=domid says what @ROLE means.  Hypercalls go through the dom0 kernel's
 * privcmd driver, xenstore through its xenbus device.  Exit 0 when the script
 * ran (its verdicts are in the EVT lines), 2 when it could not.
 *
 * Layouts and numbers come from Xen's public headers of the suite under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/xs_wire.h>
#include <xen/sys/privcmd.h>

#include "script_core.h"

static int privcmd = -1, xenbus = -1;

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

#define PUB "/local/domain/0/" XS_DIR "/pub"

/* A fresh publication folder, readable by every domain (perms "r0"). */
static void pub_setup(void)
{
    static const char perms[] = PUB "\0r0";
    const char *err;

    xs_talk(XS_RM, PUB, sizeof(PUB), NULL, 0);
    if ( (err = xs_write(PUB, "")) || (err = xs_talk(XS_SET_PERMS, perms, sizeof(perms), NULL, 0)) )
    {
        fprintf(stderr, "evtchn-op: xenstore %s: %s\n", PUB, err);
        exit(2);
    }
}

/* ---- the ops a case may give Dom0 (script-lang.h's DOM0 ones) ---- */

/* Ports opened in dom0 itself: closed at the end of each case. */
static evtchn_port_t own[64];
static unsigned int nr_own;

static void remember(evtchn_port_t port)
{
    if ( nr_own < sizeof(own) / sizeof(own[0]) )
        own[nr_own++] = port;
}

#define OP(name) static void op_##name(const struct stmt *s, const int64_t *a, struct result *r)

OP(alloc_unbound)
{
    struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_alloc_unbound, &o);
    r->val = o.port;
    if ( !r->rc && (o.dom == DOMID_SELF || o.dom == 0) )
        remember(o.port);
}

OP(bind_interdomain)
{
    struct evtchn_bind_interdomain o = { .remote_dom = a[0], .remote_port = a[1] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_bind_interdomain, &o);
    r->val = o.local_port;
    if ( !r->rc )
        remember(o.local_port);
}

OP(status)
{
    (void)s;
    r->st.dom = a[0];
    r->st.port = a[1];
    r->rc = event_channel_op(EVTCHNOP_status, &r->st);
    r->has_status = !r->rc;
}

OP(close)
{
    struct evtchn_close o = { .port = a[0] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_close, &o);
}

OP(send)
{
    struct evtchn_send o = { .port = a[0] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_send, &o);
}

OP(unmask)
{
    struct evtchn_unmask o = { .port = a[0] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_unmask, &o);
}

OP(reset)
{
    struct evtchn_reset o = { .dom = a[0] };

    (void)s;
    r->rc = event_channel_op(EVTCHNOP_reset, &o);
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
    snprintf(path, sizeof(path), PUB "/%s", s->args[0]);
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
#define SCRIPT_OP_HARNESS(name)
#include "script-lang.h"
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
    for ( unsigned int i = 0; i < nr_doms; i++ )
        if ( !strcmp(doms[i].name, name) )
            return *id = doms[i].domid, 0;
    return -1;
}

static void case_begin(char *detail, size_t size)
{
    snprintf(detail, size, "(dom0 is not reset: it owns the toolstack ports)");
}

static void case_end(void)
{
    for ( unsigned int i = 0; i < nr_own; i++ )
    {
        struct evtchn_close o = { .port = own[i] };

        event_channel_op(EVTCHNOP_close, &o);
    }
    nr_own = 0;
}

static void out(const char *text, size_t len)
{
    /* One write a line: the domains' console relays share this console. */
    if ( write(STDOUT_FILENO, text, len) < 0 )
        die("writing the console");
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
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
        fprintf(stderr, "usage: evtchn-op <name> <script> [ROLE=domid ...]\n");
        return 2;
    }
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
    snprintf(prefix, sizeof(prefix), "[%s] ", argv[1]);
    text = read_file(argv[2], &len);
    if ( (privcmd = open("/dev/xen/privcmd", O_RDWR)) < 0 )
        die("/dev/xen/privcmd");
    if ( (xenbus = open("/dev/xen/xenbus", O_RDWR)) < 0 )
        die("/dev/xen/xenbus");
    pub_setup();

    t = script_interpret(&env, text, len);
    script_say("DONE pass=%u fail=%u", t.pass, t.fail);
    return t.bad_script ? 2 : 0;
}
