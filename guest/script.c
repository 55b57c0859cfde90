/*
 * The test-script interpreter: the contract is docs/guest-script.md.
 *
 * The whole script is checked first; if any line is bad, every error is
 * reported and nothing runs.  Then the cases run in order, each starting
 * from EVTCHNOP_reset with the console and xenstore ports bound again.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "guest.h"
#include "console.h"
#include "events.h"
#include "event_fifo.h"
#include "hypercall.h"
#include "lib.h"
#include "script.h"
#include "xenstore.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* ---- errno names, straight from xen/errno.h ---- */

static const struct errno_name {
    const char *name;
    int value;
} errno_names[] = {
#define XEN_ERRNO(name, value) { #name, value },
#include <xen/errno.h>
};

static const char *errno_to_name(long e)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(errno_names); i++ )
        if ( errno_names[i].value == e )
            return errno_names[i].name;
    return NULL;
}

static int name_to_errno(const char *s)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(errno_names); i++ )
        if ( !strcmp(errno_names[i].name, s) )
            return errno_names[i].value;
    return 0;
}

/* ---- ops ---- */

enum op_id {
    OP_ALLOC_UNBOUND, OP_BIND_INTERDOMAIN, OP_BIND_VIRQ, OP_BIND_IPI,
    OP_BIND_PIRQ, OP_CLOSE, OP_SEND, OP_STATUS, OP_BIND_VCPU, OP_UNMASK,
    OP_RESET, OP_RAW, OP_WAIT, OP_COUNT, OP_MARK, OP_PINGPONG, OP_PUT, OP_GET,
    OP_FAULT, OP_MASK, OP_PENDING, OP_SET_TIMER, OP_COUNT_ON,
    OP_FIFO_INIT, OP_INIT_CONTROL, OP_EXPAND_ARRAY, OP_SET_PRIORITY,
    OP_HOLD, OP_RELEASE, OP_SEQ,
};

enum val_kind { VAL_NONE, VAL_NUM, VAL_STATUS };

/*
 * Argument kinds: 'n' number (literal, $var, @NAME, self), 'w' first|second,
 * 'k' xenstore key, 'v' number or plain word, 'D' domain NAME or @NAME,
 * 'g' a gfn kind: page|bad or its number (enum fifo_gfn_kind).
 */
static const struct op_def {
    const char *name;
    enum op_id id;
    const char *args;
    enum val_kind val;
} ops[] = {
    { "alloc_unbound",    OP_ALLOC_UNBOUND,    "nn",   VAL_NUM },
    { "bind_interdomain", OP_BIND_INTERDOMAIN, "nn",   VAL_NUM },
    { "bind_virq",        OP_BIND_VIRQ,        "nn",   VAL_NUM },
    { "bind_ipi",         OP_BIND_IPI,         "n",    VAL_NUM },
    { "bind_pirq",        OP_BIND_PIRQ,        "nn",   VAL_NUM },
    { "close",            OP_CLOSE,            "n",    VAL_NONE },
    { "send",             OP_SEND,             "n",    VAL_NONE },
    { "status",           OP_STATUS,           "nn",   VAL_STATUS },
    { "bind_vcpu",        OP_BIND_VCPU,        "nn",   VAL_NONE },
    { "unmask",           OP_UNMASK,           "n",    VAL_NONE },
    { "reset",            OP_RESET,            "n",    VAL_NONE },
    { "raw",              OP_RAW,              "n",    VAL_NONE },
    { "wait",             OP_WAIT,             "nnn",  VAL_NUM },
    { "count",            OP_COUNT,            "n",    VAL_NUM },
    { "mark",             OP_MARK,             "n",    VAL_NUM },
    { "pingpong",         OP_PINGPONG,         "nnwn", VAL_NUM },
    { "put",              OP_PUT,              "kv",   VAL_NONE },
    { "get",              OP_GET,              "Dkn",  VAL_NUM },
    { "mask",             OP_MASK,             "n",    VAL_NONE },
    { "pending",          OP_PENDING,          "n",    VAL_NUM },
    { "set_timer",        OP_SET_TIMER,        "n",    VAL_NONE },
    { "count_on",         OP_COUNT_ON,         "nn",   VAL_NUM },
    { "fifo_init",        OP_FIFO_INIT,        "",     VAL_NONE },
    { "init_control",     OP_INIT_CONTROL,     "gnn",  VAL_NONE },
    { "expand_array",     OP_EXPAND_ARRAY,     "g",    VAL_NONE },
    { "set_priority",     OP_SET_PRIORITY,     "nn",   VAL_NONE },
    { "hold",             OP_HOLD,             "",     VAL_NONE },
    { "release",          OP_RELEASE,          "",     VAL_NONE },
    { "seq",              OP_SEQ,              "n",    VAL_NUM },
    /* The harness's self-test: read from an address, to prove a crash is caught. */
    { "fault",            OP_FAULT,            "n",    VAL_NONE },
};

static const struct op_def *find_op(const char *name)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(ops); i++ )
        if ( !strcmp(ops[i].name, name) )
            return &ops[i];
    return NULL;
}

/* ---- status kinds and fields ---- */

static const struct {
    const char *name;
    uint32_t stat;
    unsigned int fields;        /* FLD_* bits the kind reports */
} kinds[] = {
#define FLD_DOM  (1u << 0)
#define FLD_PORT (1u << 1)
#define FLD_PIRQ (1u << 2)
#define FLD_VIRQ (1u << 3)
#define FLD_VCPU (1u << 4)
    { "closed",      EVTCHNSTAT_closed,      0 },
    { "unbound",     EVTCHNSTAT_unbound,     FLD_DOM | FLD_VCPU },
    { "interdomain", EVTCHNSTAT_interdomain, FLD_DOM | FLD_PORT | FLD_VCPU },
    { "pirq",        EVTCHNSTAT_pirq,        FLD_PIRQ | FLD_VCPU },
    { "virq",        EVTCHNSTAT_virq,        FLD_VIRQ | FLD_VCPU },
    { "ipi",         EVTCHNSTAT_ipi,         FLD_VCPU },
};

static const char *const field_names[] = { "dom", "port", "pirq", "virq", "vcpu" };
#define NR_FIELDS ARRAY_SIZE(field_names)

static int find_kind(const char *s)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(kinds); i++ )
        if ( !strcmp(kinds[i].name, s) )
            return i;
    return -1;
}

static int kind_of_stat(uint32_t stat)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(kinds); i++ )
        if ( kinds[i].stat == stat )
            return i;
    return -1;
}

static int64_t status_field(const struct evtchn_status *st, unsigned int f)
{
    switch ( f )
    {
    case 0: return st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom
                                                    : st->u.interdomain.dom;
    case 1: return st->u.interdomain.port;
    case 2: return st->u.pirq;
    case 3: return st->u.virq;
    default: return st->vcpu;
    }
}

/* ---- statements ---- */

/* The token a parse error is about, for the SCRIPT-ERROR line. */
static const char *bad_tok;

#define MAX_LINE  255
#define MAX_TOKS  32
#define MAX_ARGS  4
#define MAX_VARS  64
#define NAME_LEN  64

enum stmt_kind { ST_EMPTY, ST_CASE, ST_END, ST_STEP };
enum exp_kind { EX_OK, EX_OK_VAL, EX_OK_STATUS, EX_ERR };

struct stmt {
    enum stmt_kind kind;
    char *name;                         /* case name */
    int64_t line;                       /* case-file line of a step */
    const struct op_def *op;
    unsigned int nargs;
    char *args[MAX_ARGS];
    enum exp_kind ex;
    char *ex_val;                       /* EX_OK_VAL */
    int ex_kind;                        /* EX_OK_STATUS: kinds[] index */
    unsigned int ex_nfields;
    unsigned int ex_field[NR_FIELDS];
    char *ex_fval[NR_FIELDS];
    long ex_rc;                         /* EX_ERR: negative rc */
    char *var;                          /* => var, or NULL */
};

static int is_ident(const char *s)
{
    if ( !*s )
        return 0;
    for ( const char *p = s; *p; p++ )
        if ( !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
               *p == '_' || *p == '-' || (p != s && *p >= '0' && *p <= '9')) )
            return 0;
    return 1;
}

static int is_key(const char *s)
{
    if ( !*s )
        return 0;
    for ( ; *s; s++ )
        if ( !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
               (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.') )
            return 0;
    return 1;
}

/* Syntax of a number-valued token: literal, $var, @NAME or self. */
static int is_num_token(const char *s)
{
    int64_t v;

    if ( s[0] == '$' || s[0] == '@' )
        return is_ident(s + 1);
    return !strcmp(s, "self") || !parse_int(s, &v);
}

static const char *parse_expect(struct stmt *st, char **tok, unsigned int n)
{
    if ( !n )
        return "'->' without an expectation";

    if ( strcmp(tok[0], "ok") )
    {
        int64_t v;

        bad_tok = tok[0];
        if ( n != 1 )
            return "an error expectation takes no value";
        st->ex = EX_ERR;
        if ( !strncmp(tok[0], "ERR", 3) && !parse_int(tok[0] + 3, &v) && v )
            st->ex_rc = v > 0 ? -v : v;
        else if ( name_to_errno(tok[0]) )
            st->ex_rc = -name_to_errno(tok[0]);
        else
            return "unknown expectation (not ok, an errno name or ERR<n>)";
        return NULL;
    }

    if ( n == 1 )
    {
        st->ex = EX_OK;
        return NULL;
    }

    switch ( st->op->val )
    {
    case VAL_NONE:
        return "this op has no value to expect";

    case VAL_NUM:
        if ( n != 2 )
            return "'ok' takes one value";
        if ( !is_num_token(tok[1]) && !(st->op->id == OP_GET && is_key(tok[1])) )
            return "bad expected value";
        st->ex = EX_OK_VAL;
        st->ex_val = tok[1];
        return NULL;

    case VAL_STATUS:
        st->ex = EX_OK_STATUS;
        bad_tok = tok[1];
        st->ex_kind = find_kind(tok[1]);
        if ( st->ex_kind < 0 )
            return "unknown status kind";
        for ( unsigned int i = 2; i < n; i++ )
        {
            char *eq = strchr(tok[i], '=');
            unsigned int f;

            bad_tok = tok[i];
            if ( !eq )
                return "status field must be <field>=<value>";
            *eq = '\0';
            for ( f = 0; f < NR_FIELDS; f++ )
                if ( !strcmp(tok[i], field_names[f]) )
                    break;
            if ( f == NR_FIELDS )
                return "unknown status field";
            if ( !(kinds[st->ex_kind].fields & (1u << f)) )
                return "status field not reported for this kind";
            if ( !is_num_token(eq + 1) )
                return "bad status field value";
            st->ex_field[st->ex_nfields] = f;
            st->ex_fval[st->ex_nfields++] = eq + 1;
        }
        return NULL;
    }
    return "bad expectation";
}

/* Parse one line (NUL-terminated, modified in place). NULL or an error. */
static const char *parse_line(char *line, struct stmt *st)
{
    char *tok[MAX_TOKS];
    unsigned int n = 0, arrow = 0, fat = 0, end_args;
    char *p;

    memset(st, 0, sizeof(*st));
    bad_tok = NULL;

    if ( (p = strchr(line, '#')) )
        *p = '\0';
    for ( p = line; *p; )
    {
        while ( *p == ' ' || *p == '\t' || *p == '\r' )
            *p++ = '\0';
        if ( !*p )
            break;
        if ( n == MAX_TOKS )
            return "too many tokens";
        tok[n++] = p;
        while ( *p && *p != ' ' && *p != '\t' && *p != '\r' )
            p++;
    }

    if ( !n )
    {
        st->kind = ST_EMPTY;
        return NULL;
    }
    if ( !strcmp(tok[0], "case") )
    {
        if ( n != 2 )
            return "'case' takes exactly one name";
        st->kind = ST_CASE;
        st->name = tok[1];
        return NULL;
    }
    if ( !strcmp(tok[0], "end") )
    {
        if ( n != 1 )
            return "'end' takes no arguments";
        st->kind = ST_END;
        return NULL;
    }

    st->kind = ST_STEP;
    bad_tok = tok[0];
    if ( parse_int(tok[0], &st->line) || st->line <= 0 )
        return "expected a line number, 'case' or 'end'";
    if ( n < 2 )
        return "missing op";
    bad_tok = tok[1];
    st->op = find_op(tok[1]);
    if ( !st->op )
        return "unknown op";

    for ( unsigned int i = 2; i < n; i++ )
    {
        if ( !strcmp(tok[i], "->") )
        {
            if ( arrow || fat )
                return "misplaced '->'";
            arrow = i;
        }
        else if ( !strcmp(tok[i], "=>") )
        {
            if ( fat )
                return "more than one '=>'";
            fat = i;
        }
    }
    end_args = arrow ? arrow : fat ? fat : n;

    if ( end_args - 2 != strlen(st->op->args) )
        return "wrong number of arguments";
    st->nargs = end_args - 2;
    for ( unsigned int i = 0; i < st->nargs; i++ )
    {
        char *a = tok[2 + i];

        st->args[i] = a;
        bad_tok = a;
        switch ( st->op->args[i] )
        {
        case 'n':
            if ( !is_num_token(a) )
                return "bad number argument";
            break;
        case 'w':
            if ( strcmp(a, "first") && strcmp(a, "second") )
                return "expected 'first' or 'second'";
            break;
        case 'k':
            if ( !is_key(a) )
                return "bad key";
            break;
        case 'v':
            if ( !is_num_token(a) && !is_key(a) )
                return "bad value";
            break;
        case 'D':
            if ( !is_ident(a[0] == '@' ? a + 1 : a) )
                return "bad domain name";
            break;
        case 'g':
            if ( strcmp(a, "page") && strcmp(a, "bad") && !is_num_token(a) )
                return "expected 'page', 'bad' or a number";
            break;
        }
    }

    bad_tok = NULL;
    st->ex = EX_OK;
    if ( arrow )
    {
        const char *err = parse_expect(st, &tok[arrow + 1],
                                       (fat ? fat : n) - arrow - 1);
        if ( err )
            return err;
    }
    bad_tok = NULL;
    if ( fat )
    {
        if ( fat + 2 != n )
            return "'=>' takes exactly one variable name";
        if ( st->op->val != VAL_NUM )
            return "this op has no value to store";
        if ( !is_ident(tok[fat + 1]) || strlen(tok[fat + 1]) >= NAME_LEN )
            return "bad variable name";
        st->var = tok[fat + 1];
    }
    return NULL;
}

/* ---- run-time state ---- */

static struct {
    char name[NAME_LEN];
    int64_t val;
} vars[MAX_VARS];
static unsigned int nr_vars;

static struct {
    char name[NAME_LEN];
    domid_t domid;
} doms[32];
static unsigned int nr_doms;

static const char *cur_case;
static unsigned int case_pass, case_fail;

static int var_get(const char *name, int64_t *v)
{
    for ( unsigned int i = 0; i < nr_vars; i++ )
        if ( !strcmp(vars[i].name, name) )
            return *v = vars[i].val, 0;
    return -1;
}

static void var_set(const char *name, int64_t v)
{
    unsigned int i;

    for ( i = 0; i < nr_vars; i++ )
        if ( !strcmp(vars[i].name, name) )
            break;
    if ( i == MAX_VARS )
        return;                 /* full: later uses show UNDEFINED */
    if ( i == nr_vars )
        nr_vars++;
    snprintf(vars[i].name, NAME_LEN, "%s", name);
    vars[i].val = v;
}

/* @NAME: our own home's data/evtchn-test/dom/<NAME>, cached for the run. */
static int dom_lookup(const char *name, int64_t *v)
{
    char path[128], buf[32];
    int64_t id;

    for ( unsigned int i = 0; i < nr_doms; i++ )
        if ( !strcmp(doms[i].name, name) )
            return *v = doms[i].domid, 0;
    if ( !xs_available() || strlen(name) >= NAME_LEN )
        return -1;
    snprintf(path, sizeof(path), "data/evtchn-test/dom/%s", name);
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

/* Resolve a number token; 0 on success, else -1 (undefined). */
static int resolve(const char *s, int64_t *v)
{
    if ( s[0] == '$' )
        return var_get(s + 1, v);
    if ( s[0] == '@' )
        return dom_lookup(s + 1, v);
    if ( !strcmp(s, "self") )
        return *v = DOMID_SELF, 0;
    return parse_int(s, v);
}

struct result {
    long rc;                    /* 0 or -errno from Xen */
    const char *err;            /* errno name from xenstore, if set */
    int has_val;
    int64_t val;
    const char *val_str;        /* a non-numeric value (get) */
    int has_status;
    struct evtchn_status st;
};

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

static void fmt_port(char *buf, size_t size, int have, long p)
{
    const char *n;

    if ( !have )
        snprintf(buf, size, "none");
    else if ( p >= 0 )
        snprintf(buf, size, "%ld", p);
    else if ( (n = errno_to_name(-p)) )
        snprintf(buf, size, "%s", n);
    else
        snprintf(buf, size, "ERR%ld", p);
}

/*
 * EVTCHNOP_reset(DOMID_SELF), then console/xenstore ports bound again.
 * Returns the number of ports that were open before.
 */
static unsigned int reset_self(long *con, long *xs)
{
    struct evtchn_reset r = { .dom = DOMID_SELF };
    unsigned int open = 0;

    remember_remote(console_port(), &con_remote);
    remember_remote(xs_port(), &xs_remote);

    /* Count what the reset will close: ports are valid from 0 upwards. */
    for ( evtchn_port_t p = 1; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

        if ( rc == -XEN_EINVAL )
            break;              /* past the last valid port */
        if ( !rc && st.status != EVTCHNSTAT_closed )
            open++;
    }

    events_mask();
    /* Success also puts a FIFO domain back on 2-level (evtchn_reset()). */
    if ( !HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r) )
        fifo_reset();
    events_track_reset();
    /* Stale pending bits would count as upcalls on reused port numbers. */
    events_clear_all_pending();
    *con = console_port() ? rebind(&con_remote) : 0;
    *xs = xs_port() ? rebind(&xs_remote) : 0;
    if ( xs_port() )
        xs_set_port(*xs > 0 ? *xs : 0);
    if ( console_port() )
        console_set_port(*con > 0 ? *con : 0);
    events_unmask();
    return open;
}

/* ---- xenstore rendezvous ---- */

static int pub_ready;

/* Create data/evtchn-test/pub owned by us, readable by every peer. */
static const char *pub_setup(void)
{
    static char list[1024], perms[1024];
    size_t len, plen;
    const char *err;

    if ( pub_ready )
        return NULL;
    if ( (err = xs_write("data/evtchn-test/pub", "")) ||
         (err = xs_directory("data/evtchn-test/dom", list, sizeof(list), &len)) )
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
    if ( (err = xs_set_perms("data/evtchn-test/pub", perms, plen)) )
        return err;
    pub_ready = 1;
    return NULL;
}

static char get_buf[128];

static void op_get(int64_t domid, const char *key, int64_t timeout_ms,
                   struct result *r)
{
    uint64_t deadline = now_ns() + MS_TO_NS(timeout_ms > 0 ? timeout_ms : 0);
    char path[160];
    const char *err;

    snprintf(path, sizeof(path), "/local/domain/%u/data/evtchn-test/pub/%s",
             (unsigned int)domid, key);
    for ( ;; )
    {
        err = xs_read(path, get_buf, sizeof(get_buf));
        if ( !err )
            break;
        /* Absent or not yet readable: not published yet. */
        if ( strcmp(err, "ENOENT") && strcmp(err, "EACCES") )
        {
            r->err = err;
            return;
        }
        if ( now_ns() >= deadline )
        {
            r->err = "ETIMEDOUT";
            return;
        }
        sleep_ms(20);
    }
    r->has_val = 1;
    if ( parse_int(get_buf, &r->val) )
        r->val_str = get_buf;
}

/* ---- running one step ---- */

static int64_t mark_port = -1;
static uint32_t mark_base;

static long evtchn_op(int cmd, void *arg)
{
    return HYPERVISOR_event_channel_op(cmd, arg);
}

static void run_op(const struct stmt *s, const int64_t *a, struct result *r)
{
    switch ( s->op->id )
    {
    case OP_ALLOC_UNBOUND:
    {
        struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };
        r->rc = evtchn_op(EVTCHNOP_alloc_unbound, &o);
        r->val = o.port;
        if ( !r->rc && o.dom == DOMID_SELF )
            events_track_port(o.port);
        break;
    }
    case OP_BIND_INTERDOMAIN:
    {
        struct evtchn_bind_interdomain o = { .remote_dom = a[0], .remote_port = a[1] };
        r->rc = evtchn_op(EVTCHNOP_bind_interdomain, &o);
        r->val = o.local_port;
        if ( !r->rc )
            events_track_port(o.local_port);
        break;
    }
    case OP_BIND_VIRQ:
    {
        struct evtchn_bind_virq o = { .virq = a[0], .vcpu = a[1] };
        r->rc = evtchn_op(EVTCHNOP_bind_virq, &o);
        r->val = o.port;
        if ( !r->rc )
            events_track_port(o.port);
        break;
    }
    case OP_BIND_IPI:
    {
        struct evtchn_bind_ipi o = { .vcpu = a[0] };
        r->rc = evtchn_op(EVTCHNOP_bind_ipi, &o);
        r->val = o.port;
        if ( !r->rc )
            events_track_port(o.port);
        break;
    }
    case OP_BIND_PIRQ:
    {
        struct evtchn_bind_pirq o = { .pirq = a[0], .flags = a[1] };
        r->rc = evtchn_op(EVTCHNOP_bind_pirq, &o);
        r->val = o.port;
        if ( !r->rc )
            events_track_port(o.port);
        break;
    }
    case OP_CLOSE:
    {
        struct evtchn_close o = { .port = a[0] };
        r->rc = evtchn_op(EVTCHNOP_close, &o);
        events_track_port(o.port);
        break;
    }
    case OP_SEND:
        r->rc = evtchn_notify(a[0]);
        break;
    case OP_STATUS:
        r->st.dom = a[0];
        r->st.port = a[1];
        r->rc = evtchn_op(EVTCHNOP_status, &r->st);
        r->has_status = !r->rc;
        break;
    case OP_BIND_VCPU:
    {
        struct evtchn_bind_vcpu o = { .port = a[0], .vcpu = a[1] };
        int was_masked = events_port_masked(o.port);

        /*
         * As Linux does: masked while it moves, so a pending event is not
         * left in the old vcpu's selector; the unmask re-raises it on the
         * new vcpu (evtchn_2l_unmask()).
         */
        events_port_mask(o.port);
        r->rc = evtchn_op(EVTCHNOP_bind_vcpu, &o);
        events_track_port(o.port);
        if ( !was_masked && o.port < EVTCHN_2L_NR_CHANNELS )
        {
            struct evtchn_unmask u = { .port = o.port };

            evtchn_op(EVTCHNOP_unmask, &u);
        }
        break;
    }
    case OP_UNMASK:
    {
        struct evtchn_unmask o = { .port = a[0] };
        r->rc = evtchn_op(EVTCHNOP_unmask, &o);
        break;
    }
    case OP_RESET:
    {
        struct evtchn_reset o = { .dom = a[0] };
        long con, xs;

        if ( (domid_t)a[0] == DOMID_SELF || (domid_t)a[0] == self_domid )
        {
            /* Our console/xenstore ports go too: bind them again at once
             * (same layout as at case start) so results keep flowing. */
            remember_remote(console_port(), &con_remote);
            remember_remote(xs_port(), &xs_remote);
            events_mask();
            r->rc = evtchn_op(EVTCHNOP_reset, &o);
            if ( !r->rc )
            {
                /* evtchn_reset(): evtchn_fifo_destroy(), evtchn_2l_init() */
                fifo_reset();
                events_track_reset();
                events_clear_all_pending();
                con = console_port() ? rebind(&con_remote) : 0;
                xs = xs_port() ? rebind(&xs_remote) : 0;
                if ( xs_port() )
                    xs_set_port(xs > 0 ? xs : 0);
                if ( console_port() )
                    console_set_port(con > 0 ? con : 0);
            }
            events_unmask();
        }
        else
            r->rc = evtchn_op(EVTCHNOP_reset, &o);
        break;
    }
    case OP_RAW:
    {
        /* Large enough for any EVTCHNOP_* argument. */
        uint64_t zero[16] = { 0 };
        r->rc = evtchn_op(a[0], zero);
        break;
    }
    case OP_WAIT:
        r->val = wait_for_count(a[0], a[1], a[2] > 0 ? a[2] : 0);
        break;
    case OP_COUNT:
        r->val = events_count(a[0]);
        break;
    case OP_MARK:
        /*
         * The count a following pingpong starts from. Taken before the barrier
         * that releases the peer, so the peer's first event cannot slip in.
         */
        mark_port = a[0];
        mark_base = r->val = events_count(a[0]);
        break;
    case OP_PINGPONG:
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
        break;
    }
    case OP_PUT:
    {
        char path[160], val[32];
        const char *v = s->args[1];

        if ( !xs_available() )
        {
            r->err = "ENOSYS";
            break;
        }
        if ( is_num_token(v) )  /* published as the resolved number */
        {
            snprintf(val, sizeof(val), "%ld", (long)a[1]);
            v = val;
        }
        snprintf(path, sizeof(path), "data/evtchn-test/pub/%s", s->args[0]);
        if ( !(r->err = pub_setup()) )
            r->err = xs_write(path, v);
        r->val = 0;
        break;
    }
    case OP_GET:
        if ( !xs_available() )
            r->err = "ENOSYS";
        else
            op_get(a[0], s->args[1], a[2], r);
        break;
    case OP_FAULT:
        r->val = *(volatile uint64_t *)(uintptr_t)a[0];
        break;
    case OP_MASK:
        if ( a[0] < 0 || events_port_mask(a[0]) )
            r->err = "EINVAL";          /* a port the current ABI cannot name */
        break;
    case OP_PENDING:
    {
        int p = 0;

        if ( a[0] < 0 || events_port_pending(a[0], &p) )
            r->err = "EINVAL";
        r->val = p;
        break;
    }
    case OP_SET_TIMER:
        /* One-shot VIRQ_TIMER on this vcpu (0), ms from now. */
        r->rc = events_set_timer(now_ns() + MS_TO_NS(a[0] > 0 ? a[0] : 0));
        break;
    case OP_COUNT_ON:
        if ( a[1] < 0 || a[1] >= GUEST_MAX_VCPUS )
            r->err = "EINVAL";
        else
            r->val = events_count_on(a[0], a[1]);
        break;    case OP_FIFO_INIT:
        r->rc = fifo_init();
        if ( r->rc == FIFO_NO_PAGE )
            r->err = "ENOBUFS";
        break;
    case OP_INIT_CONTROL:
        if ( a[0] != FIFO_GFN_PAGE && a[0] != FIFO_GFN_BAD )
            r->err = "EDOM";            /* not a gfn kind: nothing issued */
        else
            r->rc = fifo_init_control(a[0], a[1], a[2]);
        break;
    case OP_EXPAND_ARRAY:
        if ( a[0] != FIFO_GFN_PAGE && a[0] != FIFO_GFN_BAD )
            r->err = "EDOM";
        else if ( (r->rc = fifo_expand_array(a[0])) == FIFO_NO_PAGE )
            r->err = "ENOBUFS";         /* the guest's pages ran out, not Xen */
        break;
    case OP_SET_PRIORITY:
    {
        struct evtchn_set_priority o = { .port = a[0], .priority = a[1] };
        r->rc = evtchn_op(EVTCHNOP_set_priority, &o);
        break;
    }
    case OP_HOLD:
        events_hold();
        break;
    case OP_RELEASE:
        events_release();
        break;
    case OP_SEQ:
        r->val = events_seq(a[0]);
        break;
    }
    if ( !r->rc && !r->err && s->op->val == VAL_NUM )
        r->has_val = 1;
}

/* "ok", "ok:<v>", "ok:<kind>,f=v..", an errno name or ERR<n> */
static void fmt_result(char *buf, size_t size, const struct result *r)
{
    const char *n;
    size_t len;

    if ( r->err )
        snprintf(buf, size, "%s", r->err);
    else if ( r->rc )
    {
        if ( r->rc < 0 && (n = errno_to_name(-r->rc)) )
            snprintf(buf, size, "%s", n);
        else
            snprintf(buf, size, "ERR%ld", r->rc);
    }
    else if ( r->has_status )
    {
        int k = kind_of_stat(r->st.status);

        if ( k < 0 )
        {
            snprintf(buf, size, "ok:status%u", r->st.status);
            return;
        }
        len = snprintf(buf, size, "ok:%s", kinds[k].name);
        for ( unsigned int f = 0; f < NR_FIELDS; f++ )
            if ( kinds[k].fields & (1u << f) && len < size )
                len += snprintf(buf + len, size - len, ",%s=%ld", field_names[f],
                                (long)status_field(&r->st, f));
    }
    else if ( r->has_val && r->val_str )
        snprintf(buf, size, "ok:%s", r->val_str);
    else if ( r->has_val )
        snprintf(buf, size, "ok:%ld", (long)r->val);
    else
        snprintf(buf, size, "ok");
}

/* Returns the first undefined token, or NULL with the expectation resolved. */
static const char *resolve_expect(const struct stmt *s, int64_t *ev, int64_t *fv)
{
    if ( s->ex == EX_OK_VAL && is_num_token(s->ex_val) && resolve(s->ex_val, ev) )
        return s->ex_val;
    for ( unsigned int i = 0; s->ex == EX_OK_STATUS && i < s->ex_nfields; i++ )
        if ( resolve(s->ex_fval[i], &fv[i]) )
            return s->ex_fval[i];
    return NULL;
}

static void fmt_expect(char *buf, size_t size, const struct stmt *s,
                       const int64_t ev, const int64_t *fv)
{
    const char *n;
    size_t len;

    switch ( s->ex )
    {
    case EX_OK:
        snprintf(buf, size, "ok");
        break;
    case EX_OK_VAL:
        if ( is_num_token(s->ex_val) )
            snprintf(buf, size, "ok:%ld", (long)ev);
        else
            snprintf(buf, size, "ok:%s", s->ex_val);
        break;
    case EX_OK_STATUS:
        len = snprintf(buf, size, "ok:%s", kinds[s->ex_kind].name);
        for ( unsigned int i = 0; i < s->ex_nfields && len < size; i++ )
            len += snprintf(buf + len, size - len, ",%s=%ld",
                            field_names[s->ex_field[i]], (long)fv[i]);
        break;
    case EX_ERR:
        if ( (n = errno_to_name(-s->ex_rc)) )
            snprintf(buf, size, "%s", n);
        else
            snprintf(buf, size, "ERR%ld", s->ex_rc);
        break;
    }
}

static int verdict(const struct stmt *s, const struct result *r,
                   const char *got, const char *exp, int64_t ev, const int64_t *fv)
{
    int ok = !r->rc && !r->err;

    switch ( s->ex )
    {
    case EX_OK:
        return ok;
    case EX_OK_VAL:
        if ( !ok || !r->has_val )
            return 0;
        if ( r->val_str || !is_num_token(s->ex_val) )
            return !strcmp(got, exp);
        return r->val == ev;
    case EX_OK_STATUS:
        if ( !ok || !r->has_status || r->st.status != kinds[s->ex_kind].stat )
            return 0;
        for ( unsigned int i = 0; i < s->ex_nfields; i++ )
            if ( status_field(&r->st, s->ex_field[i]) != fv[i] )
                return 0;
        return 1;
    case EX_ERR:
        return !ok && !strcmp(got, exp);   /* both are errno names or ERR<n> */
    }
    return 0;
}

static void run_step(const struct stmt *s)
{
    char args[160], exp[128], got[128];
    int64_t a[MAX_ARGS] = { 0 }, ev = 0, fv[NR_FIELDS] = { 0 };
    const char *undef = NULL;
    struct result r;
    size_t len = 0;
    int pass;

    /* Resolve arguments; a plain word stands for itself. */
    args[0] = '\0';
    for ( unsigned int i = 0; i < s->nargs; i++ )
    {
        const char *t = s->args[i];
        char kind = s->op->args[i];
        int numeric = kind == 'n' || ((kind == 'v' || kind == 'g') && is_num_token(t)) ||
                      (kind == 'D');

        if ( kind == 'D' && t[0] != '@' )
        {
            /* get's NAME: a domain name, '@' optional */
            if ( dom_lookup(t, &a[i]) && !undef )
                undef = t;
        }
        else if ( numeric && resolve(t, &a[i]) && !undef )
            undef = t;
        else if ( kind == 'g' && !numeric )
            a[i] = strcmp(t, "page") ? FIFO_GFN_BAD : FIFO_GFN_PAGE;

        if ( undef == t || !numeric )
            len += snprintf(args + len, sizeof(args) - len, "%s%s", i ? "," : "", t);
        else
            len += snprintf(args + len, sizeof(args) - len, "%s%ld", i ? "," : "",
                            (long)a[i]);
        if ( len >= sizeof(args) )
            len = sizeof(args) - 1;
    }
    if ( !undef )
        undef = resolve_expect(s, &ev, fv);
    fmt_expect(exp, sizeof(exp), s, ev, fv);

    if ( undef )
    {
        /* The step does not run. */
        snprintf(got, sizeof(got), "UNDEFINED:%s", undef);
        pass = 0;
    }
    else
    {
        memset(&r, 0, sizeof(r));
        run_op(s, a, &r);
        fmt_result(got, sizeof(got), &r);
        pass = verdict(s, &r, got, exp, ev, fv);
        if ( s->var && r.has_val && !r.val_str && !r.rc && !r.err )
            var_set(s->var, r.val);
    }

    pass ? case_pass++ : case_fail++;
    printf("EVT RESULT case=%s line=%ld op=%s args=%s expect=%s got=%s verdict=%s\n",
           cur_case, (long)s->line, s->op->name, args, exp, got,
           pass ? "PASS" : "FAIL");
}

static uint64_t case_start_ns;

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
    closed = reset_self(con, xs);       /* also back to 2-level */
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

static void case_begin(const char *name)
{
    long con = 0, xs = 0;
    unsigned int closed;
    char cbuf[24], xbuf[24], cleaned[64];

    cur_case = name;
    case_start_ns = now_ns();
    case_pass = case_fail = 0;
    nr_vars = 0;
    mark_port = -1;
    closed = case_clean(&con, &xs, cleaned, sizeof(cleaned));
    fmt_port(cbuf, sizeof(cbuf), console_port() || con, con);
    fmt_port(xbuf, sizeof(xbuf), xs_available(), xs);
    printf("EVT CASE-BEGIN %s reset ports=%u rebound console=%s store=%s abi=%s cleaned=%s\n",
           name, closed, cbuf, xbuf, fifo_active() ? "fifo" : "2l", cleaned);
}

/* ---- the script ---- */

/*
 * Walk the lines; mode 0 checks (printing SCRIPT-ERROR lines), mode 1 runs.
 * Returns the number of errors found in mode 0.
 */
static unsigned int walk(const char *text, size_t len, int run,
                         struct script_totals *t)
{
    static char line[MAX_LINE + 1];
    static char case_name[MAX_LINE + 1];
    unsigned int errors = 0, lineno = 0;
    int in_case = 0;
    size_t pos = 0;
    struct stmt st;

#define SCRIPT_ERROR(...) do { printf("EVT SCRIPT-ERROR line=%u ", lineno); \
                               printf(__VA_ARGS__); printf("\n"); errors++; } while (0)

    while ( pos < len )
    {
        size_t n = 0;
        const char *err;
        int bad_char = 0;

        lineno++;
        while ( pos + n < len && text[pos + n] != '\n' )
        {
            unsigned char c = text[pos + n];
            if ( c >= 0x80 || (c < 0x20 && c != '\t' && c != '\r') )
                bad_char = 1;
            n++;
        }
        if ( n > MAX_LINE )
        {
            if ( !run )
                SCRIPT_ERROR("line longer than %u characters", MAX_LINE);
            pos += n + 1;
            continue;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if ( bad_char )
        {
            if ( !run )
                SCRIPT_ERROR("non-ASCII or control character");
            continue;
        }

        if ( (err = parse_line(line, &st)) )
        {
            /* eq-split field tokens keep only their name: fine for a hint */
            if ( !run && bad_tok )
                SCRIPT_ERROR("%s: '%s'", err, bad_tok);
            else if ( !run )
                SCRIPT_ERROR("%s", err);
            continue;
        }

        switch ( st.kind )
        {
        case ST_EMPTY:
            break;
        case ST_CASE:
            if ( in_case && !run )
                SCRIPT_ERROR("'case %s' before 'end' of the previous case", st.name);
            in_case = 1;
            if ( run )
            {
                memcpy(case_name, st.name, strlen(st.name) + 1);
                case_begin(case_name);
            }
            break;
        case ST_END:
            if ( !in_case && !run )
                SCRIPT_ERROR("'end' outside a case");
            if ( run && in_case )
            {
                printf("EVT CASE-END %s pass=%u fail=%u us=%lu\n", cur_case,
                       case_pass, case_fail,
                       (unsigned long)((now_ns() - case_start_ns) / 1000));
                t->pass += case_pass;
                t->fail += case_fail;
            }
            in_case = 0;
            break;
        case ST_STEP:
            if ( !in_case && !run )
                SCRIPT_ERROR("step outside a case");
            if ( run )
                run_step(&st);
            break;
        }
    }
    if ( in_case && !run )
    {
        lineno++;
        SCRIPT_ERROR("missing 'end' at end of script");
    }
#undef SCRIPT_ERROR
    return errors;
}

struct script_totals script_run(char *text, size_t len)
{
    struct script_totals t = { 0, 0, 0, 0 };

    if ( !text )
    {
        printf("EVT SCRIPT-ERROR line=0 no script module\n");
        t.bad_script = 1;
        return t;
    }
    /* Trailing NUL padding is not part of the script. */
    for ( size_t i = 0; i < len; i++ )
        if ( !text[i] )
        {
            len = i;
            break;
        }

    if ( walk(text, len, 0, &t) )
    {
        t.bad_script = 1;
        return t;
    }
    walk(text, len, 1, &t);
    return t;
}
