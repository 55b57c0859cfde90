/*
 * The guest as a place to run scripts (script_core.h): its table of ops
 * (ops.h), its domain names, the xenstore rendezvous and its clean start.
 * The contract is docs/guest-script.md.
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
#include "lib.h"
#include "ops.h"
#include "script.h"
#include "script_core.h"
#include "selfreset.h"
#include "xenstore.h"

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
    evtchn_reset_self(DOMID_SELF, 1, con, xs); /* also back to 2-level */
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

    ops_evtchn_case_begin();
    ops_events_case_begin();
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

/* Room for a script given through xenstore; a ramdisk brings its own. */
static char store_script[SCRIPT_STORE_MAX];

const char *script_from_store(const char **text, size_t *len)
{
    *text = store_script;
    return script_fetch(&guest_env, store_script, sizeof(store_script), len);
}
