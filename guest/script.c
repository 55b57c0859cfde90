/*
 * The guest as a place to run scripts (script_core.h): its ops, its
 * domain names and its clean start.  The contract is docs/guest-script.md.
 *
 * Each case starts from EVTCHNOP_reset with the console and xenstore ports
 * bound again, and whatever else a case could have left undone.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "guest.h"
#include "console.h"
#include "events.h"
#include "event_fifo.h"
#include "fuzz/fuzz.h"
#include "hypercall.h"
#include "lib.h"
#include "script.h"
#include "script_core.h"
#include "xenstore.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* ---- domain names ---- */

static struct {
    char name[NAME_LEN];
    domid_t domid;
} doms[32];
static unsigned int nr_doms;

/* @NAME: our own home's XS_DIR/dom/<NAME>, cached for the run. */
static int dom_lookup(const char *name, int64_t *v)
{
    char path[128], buf[32];
    int64_t id;

    for ( unsigned int i = 0; i < nr_doms; i++ )
        if ( !strcmp(doms[i].name, name) )
            return *v = doms[i].domid, 0;
    if ( !xs_available() || strlen(name) >= NAME_LEN )
        return -1;
    snprintf(path, sizeof(path), XS_DIR "/dom/%s", name);
    if ( xs_read(path, buf, sizeof(buf)) || parse_int(buf, &id) )
        return -1;
    if ( nr_doms < ARRAY_SIZE(doms) )
    {
        snprintf(doms[nr_doms].name, NAME_LEN, "%s", name);
        doms[nr_doms++].domid = id;
    }
    *v = id;
    return 0;
}

/* ---- console/xenstore ports across EVTCHNOP_reset ---- */

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
static void fmt_port(char *buf, size_t size, int have, long p)
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
static long reset_self(domid_t dom, int always, long *con, long *xs)
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
static unsigned int count_open_ports(void)
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

/* ---- xenstore rendezvous ---- */

static int pub_ready;

/* Create XS_DIR/pub owned by us, readable by every peer. */
static const char *pub_setup(void)
{
    static char list[1024], perms[1024];
    size_t len, plen;
    const char *err;

    if ( pub_ready )
        return NULL;
    if ( (err = xs_write(XS_DIR "/pub", "")) ||
         (err = xs_directory(XS_DIR "/dom", list, sizeof(list), &len)) )
        return err;

    plen = snprintf(perms, sizeof(perms), "n%u", self_domid) + 1;
    for ( size_t off = 0; off < len; off += strlen(list + off) + 1 )
    {
        int64_t id;

        if ( !list[off] || dom_lookup(list + off, &id) || id == self_domid )
            continue;
        if ( plen + 8 > sizeof(perms) )
            return "E2BIG";
        plen += snprintf(perms + plen, sizeof(perms) - plen, "r%u",
                         (unsigned int)id) + 1;
    }
    if ( (err = xs_set_perms(XS_DIR "/pub", perms, plen)) )
        return err;
    pub_ready = 1;
    return NULL;
}

/* ---- running one step ---- */

static int64_t mark_port = -1;
static uint32_t mark_base;

/*
 * `readonly_args 1`: each sub-command's argument goes to Xen through a
 * read-only mapping of the page it is copied to.  Xen reads it, does the
 * work, and cannot write the result back: do_event_channel_op()'s
 * __copy_to_guest() -> -EFAULT ("Cleaning up here would be a mess!").
 */
static uint8_t arg_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t arg_page_ro[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static int readonly_args;

static long evtchn_op(int cmd, void *arg, size_t size)
{
    if ( !readonly_args || !arg )
        return HYPERVISOR_event_channel_op(cmd, arg);
    memcpy(arg_page, arg, size);
    return HYPERVISOR_event_channel_op(cmd, arg_page_ro);
}

/*
 * One function per op of script-lang.h: s the step, a its arguments
 * resolved to numbers (a plain word stays in s->args).
 */
#define OP(name) static void op_##name(const struct stmt *s, const int64_t *a, \
                                       struct result *r)

/* The binding ops: a new port of ours, whose vcpu we follow. */
#define BIND_OP(name, field, ...)                               \
OP(name)                                                        \
{                                                               \
    struct evtchn_##name o = { __VA_ARGS__ };                   \
                                                                \
    (void)s;                                                    \
    r->rc = evtchn_op(EVTCHNOP_##name, &o, sizeof(o));                     \
    r->val = o.field;                                           \
    if ( !r->rc )                                               \
        events_track_port(o.field);                             \
}

OP(alloc_unbound)
{
    struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_alloc_unbound, &o, sizeof(o));
    r->val = o.port;
    if ( !r->rc && o.dom == DOMID_SELF )
        events_track_port(o.port);
}

BIND_OP(bind_interdomain, local_port, .remote_dom = a[0], .remote_port = a[1])
BIND_OP(bind_virq, port, .virq = a[0], .vcpu = a[1])
BIND_OP(bind_ipi, port, .vcpu = a[0])
BIND_OP(bind_pirq, port, .pirq = a[0], .flags = a[1])

OP(close)
{
    struct evtchn_close o = { .port = a[0] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_close, &o, sizeof(o));
    events_track_port(o.port);
}

OP(send)
{
    (void)s;
    r->rc = evtchn_notify(a[0]);
}

/* n sends back to back, for what meets them (a peer unbinding, say); stops at a refusal. */
OP(send_many)
{
    (void)s;
    for ( r->val = 0; r->val < a[1] && !(r->rc = evtchn_notify(a[0])); r->val++ )
        ;
}

OP(status)
{
    (void)s;
    r->st.dom = a[0];
    r->st.port = a[1];
    r->rc = evtchn_op(EVTCHNOP_status, &r->st, sizeof(r->st));
    r->has_status = !r->rc;
}

OP(bind_vcpu)
{
    struct evtchn_bind_vcpu o = { .port = a[0], .vcpu = a[1] };
    int was_masked = events_port_masked(o.port);

    (void)s;
    /*
     * As Linux does: masked while it moves, so a pending event is not
     * left in the old vcpu's selector; the unmask re-raises it on the
     * new vcpu (evtchn_2l_unmask()).
     */
    events_port_mask(o.port);
    r->rc = evtchn_op(EVTCHNOP_bind_vcpu, &o, sizeof(o));
    events_track_port(o.port);
    if ( !was_masked && o.port < EVTCHN_2L_NR_CHANNELS )
    {
        struct evtchn_unmask u = { .port = o.port };

        evtchn_op(EVTCHNOP_unmask, &u, sizeof(u));
    }
}

OP(unmask)
{
    struct evtchn_unmask o = { .port = a[0] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_unmask, &o, sizeof(o));
}

OP(reset)
{
    struct evtchn_reset o = { .dom = a[0] };
    long con, xs;

    (void)s;
    /* Our console/xenstore ports go too: bind them again at once. */
    if ( o.dom == DOMID_SELF || o.dom == self_domid )
        r->rc = reset_self(o.dom, 0, &con, &xs);
    else
        r->rc = evtchn_op(EVTCHNOP_reset, &o, sizeof(o));
}

OP(raw)
{
    /* Large enough for any EVTCHNOP_* argument. */
    uint64_t zero[16] = { 0 };

    (void)s;
    r->rc = evtchn_op(a[0], zero, sizeof(zero));
}

/*
 * The first MiB of the guest's address space is left unmapped (main.c), so
 * Xen's copy of the argument from address 0 faults.
 */
OP(bad_arg)
{
    (void)s;
    r->rc = evtchn_op(a[0], (void *)0, 0);
}

OP(readonly_args)
{
    (void)s;
    /* The alias of arg_page, read-only; arg_page_ro's own frame stays ours, unmapped. */
    if ( a[0] )
        r->rc = HYPERVISOR_update_va_mapping((unsigned long)arg_page_ro,
                                             (page_gfn(arg_page) << PAGE_SHIFT) |
                                             PTE_PRESENT | PTE_ACCESSED,
                                             UVMF_INVLPG);
    readonly_args = a[0] && !r->rc;
}

static enum fifo_gfn_kind gfn_kind(int64_t frame)
{
    return frame == FRAME_PAGE ? FIFO_GFN_PAGE : FIFO_GFN_BAD;
}

/*
 * init_control with its argument read-only: issued here, not by the FIFO
 * driver, since Xen may switch the domain to FIFO and still answer EFAULT.
 * The driver is not told; the next case's reset takes the domain back to
 * 2-level.  Its control block is a page of its own, never the driver's.
 */
static long init_control_readonly(const int64_t *a)
{
    static uint8_t block[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
    struct evtchn_init_control o = {
        .control_gfn = a[0] == FRAME_PAGE ? page_gfn(block) : ~0ull,
        .offset = a[1],
        .vcpu = a[2],
    };

    memset(block, 0, sizeof(block));
    return evtchn_op(EVTCHNOP_init_control, &o, sizeof(o));
}

OP(init_control)
{
    (void)s;
    if ( a[0] != FRAME_PAGE && a[0] != FRAME_BAD )
        r->err = "EDOM";            /* not a frame word: nothing issued */
    else if ( readonly_args )
        r->rc = init_control_readonly(a);
    else
        r->rc = fifo_init_control(gfn_kind(a[0]), a[1], a[2]);
}

OP(expand_array)
{
    (void)s;
    if ( a[0] != FRAME_PAGE && a[0] != FRAME_BAD )
        r->err = "EDOM";
    else if ( (r->rc = fifo_expand_array(gfn_kind(a[0]))) == FIFO_NO_PAGE )
        r->err = "ENOBUFS";         /* the guest's pages ran out, not Xen */
}

OP(set_priority)
{
    struct evtchn_set_priority o = { .port = a[0], .priority = a[1] };

    (void)s;
    r->rc = evtchn_op(EVTCHNOP_set_priority, &o, sizeof(o));
}

OP(wait)
{
    (void)s;
    r->val = wait_for_count(a[0], a[1], a[2] > 0 ? a[2] : 0);
}

OP(count)
{
    (void)s;
    r->val = events_count(a[0]);
}

OP(pingpong)
{
    uint32_t base = mark_port == a[0] ? mark_base : events_count(a[0]);
    int first = !strcmp(s->args[2], "first");
    int64_t done = 0;

    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint32_t want = base + i + 1;

        if ( first && (r->rc = evtchn_notify(a[0])) )
            break;
        if ( wait_for_count(a[0], want, a[3] > 0 ? a[3] : 0) < want )
            break;
        if ( !first && (r->rc = evtchn_notify(a[0])) )
            break;
        done++;
    }
    r->val = done;
}

/* rtt's samples. */
static uint64_t rtt_ns[RTT_MAX];

/*
 * pingpong, timed: `first` times each round trip (its send to the reply's
 * upcall being counted) and prints one EVT RTT line; `second` only answers.
 */
OP(rtt)
{
    uint32_t base = mark_port == a[0] ? mark_base : events_count(a[0]);
    int first = !strcmp(s->args[2], "first");
    int64_t done = 0, early = 0;

    if ( a[1] > RTT_MAX )
    {
        r->err = "E2BIG";           /* a $var past what the parser lets through */
        return;
    }
    for ( int64_t i = 0; i < a[1]; i++ )
    {
        uint32_t want = base + i + 1;
        uint64_t t0 = tsc_now();

        /* A reply counted before we asked for it: that sample times nothing. */
        if ( first && events_count(a[0]) >= want )
            early++;
        if ( first && (r->rc = evtchn_notify(a[0])) )
            break;
        if ( wait_for_count(a[0], want, a[3] > 0 ? a[3] : 0) < want )
            break;
        if ( first )
            rtt_ns[done] = tsc_to_ns(tsc_now() - t0);
        if ( !first && (r->rc = evtchn_notify(a[0])) )
            break;
        done++;
    }
    r->val = done;
    if ( first )
        script_rtt_report(s, rtt_ns, done, early);
}

OP(fault)
{
    (void)s;
    r->val = *(volatile uint64_t *)(uintptr_t)a[0];
}

OP(mask)
{
    (void)s;
    if ( a[0] < 0 || events_port_mask(a[0]) )
        r->err = "EINVAL";          /* a port the current ABI cannot name */
}

OP(pending)
{
    int p = 0;

    (void)s;
    if ( a[0] < 0 || events_port_pending(a[0], &p) )
        r->err = "EINVAL";
    r->val = p;
}

OP(set_timer)
{
    (void)s;
    /* One-shot VIRQ_TIMER on this vcpu (0), ms from now. */
    r->rc = events_set_timer(now_ns() + MS_TO_NS(a[0] > 0 ? a[0] : 0));
}

OP(count_on)
{
    (void)s;
    if ( a[1] < 0 || a[1] >= GUEST_MAX_VCPUS )
        r->err = "EINVAL";
    else
        r->val = events_count_on(a[0], a[1]);
}

OP(fifo_init)
{
    (void)s, (void)a;
    r->rc = fifo_init();
    if ( r->rc == FIFO_NO_PAGE )
        r->err = "ENOBUFS";
}

OP(hold)
{
    (void)s, (void)a, (void)r;
    events_hold();
}

OP(release)
{
    (void)s, (void)a, (void)r;
    events_release();
}

OP(seq)
{
    (void)s;
    r->val = events_seq(a[0]);
}

OP(shutdown)
{
    (void)s, (void)r;
    console_flush();
    guest_shutdown(a[0]);       /* SCHEDOP_shutdown: no DONE, no return */
}

OP(register_vcpu_info)
{
    (void)s;
    r->rc = events_register_vcpu_info(a[0], a[1]);
}

static long fuzz_reset(void)
{
    long con, xs;

    return reset_self(DOMID_SELF, 0, &con, &xs);
}

/* Value: mismatches (0 or 1). */
static void run_fuzz(struct result *r, const int64_t *a, domid_t peer)
{
    struct fuzz_report rep;

    fuzz_run(a[0], a[1] > 0 ? a[1] : 0, peer, fuzz_reset, &rep);
    r->val = rep.mismatches;
}

OP(fuzz)
{
    (void)s;
    run_fuzz(r, a, DOMID_INVALID);
}

OP(fuzz_with)
{
    (void)s;
    run_fuzz(r, a, a[2]);
}

OP(mark)
{
    (void)s;
    /*
     * The count a following pingpong or rtt starts from. Taken before the barrier
     * that releases the peer, so the peer's first event cannot slip in.
     */
    mark_port = a[0];
    mark_base = r->val = events_count(a[0]);
}

OP(put)
{
    char path[160], val[32];
    const char *v = s->args[1];

    if ( !xs_available() )
    {
        r->err = "ENOSYS";
        return;
    }
    if ( script_is_num_token(v) )  /* published as the resolved number */
    {
        snprintf(val, sizeof(val), "%ld", (long)a[1]);
        v = val;
    }
    snprintf(path, sizeof(path), XS_DIR "/pub/%s", s->args[0]);
    if ( !(r->err = pub_setup()) )
        r->err = xs_write(path, v);
    r->val = 0;
}

OP(get)
{
    if ( !xs_available() )
        r->err = "ENOSYS";
    else
        script_get(a[0], s->args[1], a[2], r);
}

static script_op_fn *const guest_ops[NR_OPS] = {
#define SCRIPT_OP(name, args, value, who) SCRIPT_OP_##who(name)
#define SCRIPT_OP_GUEST(name) [OP_##name] = op_##name,
#define SCRIPT_OP_DOM0(name) [OP_##name] = op_##name,
#define SCRIPT_OP_PRIV(name)    /* the toolstack's: Dom0 only */
#define SCRIPT_OP_HARNESS(name) [OP_##name] = op_##name,
#include "script-lang.h"
#undef SCRIPT_OP_GUEST
#undef SCRIPT_OP_DOM0
#undef SCRIPT_OP_PRIV
#undef SCRIPT_OP_HARNESS
};

/*
 * The state every case starts from (docs/guest-script.md, "What a case may
 * assume"): whatever the previous case left behind that a case could
 * observe is undone here, and named in `cleaned` ("none" if nothing was).
 * Returns the number of ports the reset closed.
 */
static unsigned int case_clean(long *con, long *xs, char *cleaned, size_t size)
{
    int held = events_held(), fifo = fifo_active(), timer;
    unsigned int closed, masked;
    size_t len = 0;

    events_release();                   /* a case that ended in hold */
    timer = events_cancel_timer();      /* Xen keeps it across the reset */
    closed = count_open_ports();
    reset_self(DOMID_SELF, 1, con, xs); /* also back to 2-level */
    masked = events_clear_all_masks();  /* reset leaves shared_info's mask bits */
    events_reset_counts();

    /* A comma-separated list: what had to be undone, or "none". */
    len = snprintf(cleaned, size, "%s", masked || timer || held || fifo ? "" : "none");
    if ( masked )
        len += snprintf(cleaned + len, size - len, "masked:%u,", masked);
    if ( timer )
        len += snprintf(cleaned + len, size - len, "timer,");
    if ( held )
        len += snprintf(cleaned + len, size - len, "hold,");
    if ( fifo )
        len += snprintf(cleaned + len, size - len, "fifo,");
    if ( len && cleaned[len - 1] == ',' )
        cleaned[len - 1] = '\0';
    return closed;
}

static void case_begin(char *detail, size_t size)
{
    long con = 0, xs = 0;
    unsigned int closed;
    char cbuf[24], xbuf[24], cleaned[64];

    mark_port = -1;
    readonly_args = 0;
    closed = case_clean(&con, &xs, cleaned, sizeof(cleaned));
    fmt_port(cbuf, sizeof(cbuf), console_port() || con, con);
    fmt_port(xbuf, sizeof(xbuf), xs_available(), xs);
    snprintf(detail, size, "reset ports=%u rebound console=%s store=%s abi=%s cleaned=%s",
             closed, cbuf, xbuf, events_abi_name(), cleaned);
}

static void case_end(void)
{
    /* case_begin's reset closes whatever the case opened. */
}

static void console_out(const char *text, size_t len)
{
    console_write(text, len);
}

static const struct script_env guest_env = {
    .prefix = "",               /* dom0's relay names us */
    .ops = guest_ops,
    .dom_lookup = dom_lookup,
    .case_begin = case_begin,
    .case_end = case_end,
    .xs_read = xs_read,
    .write = console_out,
    .now_ns = now_ns,
    .sleep_ms = sleep_ms,
};

struct script_totals script_run(const char *text, size_t len)
{
    return script_interpret(&guest_env, text, len);
}
