/*
 * The script interpreter (docs/guest-script.md), wherever it runs: the
 * place (a guest, dom0) is a struct script_env, see script_core.h.
 *
 * Each step's arguments are resolved, the op runs, and one EVT RESULT line
 * says what was expected and what came back.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "lib-host.h"
#include "script_core.h"

static const struct script_env *env;

/* ---- output ---- */

static void say_va(const char *fmt, va_list ap)
{
    char buf[600];
    size_t n = snprintf(buf, sizeof(buf), "%sEVT ", env->prefix);

    if ( n < sizeof(buf) )
        n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    if ( n > sizeof(buf) - 2 )
        n = sizeof(buf) - 2;    /* cut, but still a line */
    buf[n++] = '\n';
    env->write(buf, n);
}

void script_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say_va(fmt, ap);
    va_end(ap);
}

/* ---- run-time state ---- */

static struct {
    char name[NAME_LEN];
    int64_t val;
} vars[MAX_VARS];
static unsigned int nr_vars;

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

/* Resolve a number token; 0 on success, else -1 (undefined). */
static int resolve(const char *s, int64_t *v)
{
    if ( s[0] == '$' )
        return var_get(s + 1, v);
    if ( s[0] == '@' )
        return env->dom_lookup(s + 1, v);
    if ( !strcmp(s, "self") )
        return *v = DOMID_SELF, 0;
    return parse_int(s, v);
}

/* ---- xenstore rendezvous ---- */

static char get_buf[128];

void script_get(int64_t domid, const char *key, int64_t timeout_ms, struct result *r)
{
    uint64_t deadline = env->now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    char path[160];
    const char *err;

    snprintf(path, sizeof(path), "/local/domain/%u/" XS_DIR "/pub/%s",
             (unsigned int)domid, key);
    while ( (err = env->xs_read(path, get_buf, sizeof(get_buf))) )
    {
        /*
         * Absent or not yet readable: not published yet.  No reply in time (xenstored
         * busy; the late reply is skipped by its req_id): ask again, until our deadline.
         */
        if ( strcmp(err, "ENOENT") && strcmp(err, "EACCES") && strcmp(err, "ETIMEDOUT") )
        {
            r->err = err;
            return;
        }
        if ( env->now_ns() >= deadline )
        {
            r->err = "ETIMEDOUT";
            return;
        }
        env->sleep_ms(20);
    }
    r->has_val = 1;
    if ( parse_int(get_buf, &r->val) )
        r->val_str = get_buf;
}

const char *script_fetch(const struct script_env *e, char *text, size_t size, size_t *len)
{
    char key[64], n[24];
    const char *err;
    int64_t chunks;

    *len = 0;
    text[0] = '\0';
    if ( (err = e->xs_read(XS_DIR "/script/n", n, sizeof(n))) )
        return err;
    if ( parse_int(n, &chunks) || chunks < 0 )
        return "EINVAL";
    for ( int64_t i = 0; i < chunks; i++ )
    {
        size_t got;

        if ( *len + SCRIPT_CHUNK >= size )
            return "E2BIG";
        snprintf(key, sizeof(key), XS_DIR "/script/%ld", (long)i);
        if ( (err = e->xs_read(key, text + *len, SCRIPT_CHUNK + 1)) )
            return err;
        got = strlen(text + *len);
        /* Each chunk but the last is whole: a short one would join what follows it. */
        if ( got == 0 || (got != SCRIPT_CHUNK && i + 1 < chunks) )
            return "EBADMSG";
        *len += got;
    }
    return NULL;
}

/* ---- round trips ---- */

/* Heap sort: no recursion, no allocation, n log n for RTT_MAX samples. */
static void sift_down(uint64_t *v, size_t root, size_t n)
{
    for ( size_t child; (child = 2 * root + 1) < n; root = child )
    {
        uint64_t t;

        if ( child + 1 < n && v[child + 1] > v[child] )
            child++;
        if ( v[root] >= v[child] )
            return;
        t = v[root], v[root] = v[child], v[child] = t;
    }
}

static void sort_u64(uint64_t *v, size_t n)
{
    for ( size_t i = n / 2; i-- > 0; )
        sift_down(v, i, n);
    for ( size_t end = n; end-- > 1; )
    {
        uint64_t t = v[0];

        v[0] = v[end], v[end] = t;
        sift_down(v, 0, end);
    }
}

/* Nearest rank: the smallest sample with at least pct percent at or below it. */
static uint64_t rank_pct(const uint64_t *sorted, size_t n, unsigned int pct)
{
    size_t rank = (n * pct + 99) / 100;

    return sorted[rank ? rank - 1 : 0];
}

void script_rtt_report(const struct stmt *s, uint64_t *ns, size_t n, int64_t early)
{
    if ( !n )
        return;
    sort_u64(ns, n);
    script_say(EVT_RTT, cur_case, (long)s->line, (unsigned long)n, (long)early, (unsigned long)ns[0],
               (unsigned long)rank_pct(ns, n, 50), (unsigned long)rank_pct(ns, n, 99),
               (unsigned long)ns[n - 1]);
}

/* ---- results ---- */

static int64_t status_field(const struct evtchn_status *st, enum status_field f)
{
    switch ( f )
    {
    case SF_dom: return st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom
                                                         : st->u.interdomain.dom;
    case SF_port: return st->u.interdomain.port;
    case SF_pirq: return st->u.pirq;
    case SF_virq: return st->u.virq;
    default: return st->vcpu;
    }
}

/* "ok", "ok:<v>", "ok:<kind>,f=v..", an errno name or ERR<n> */
static void fmt_result(char *buf, size_t size, const struct result *r)
{
    size_t len;

    if ( r->err )
        snprintf(buf, size, "%s", r->err);
    else if ( r->rc )
        script_fmt_rc(buf, size, r->rc);
    else if ( r->has_status )
    {
        int k = script_kind_of(r->st.status);

        if ( k < 0 )
        {
            snprintf(buf, size, "ok:status%u", r->st.status);
            return;
        }
        len = snprintf(buf, size, "ok:%s", script_kinds[k].name);
        for ( unsigned int f = 0; f < NR_FIELDS; f++ )
            if ( script_kinds[k].fields & (1u << f) && len < size )
                len += snprintf(buf + len, size - len, ",%s=%ld", script_fields[f],
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
    if ( s->ex == EX_OK_VAL && resolve(s->ex_val, ev) )
        return s->ex_val;
    for ( unsigned int i = 0; s->ex == EX_OK_STATUS && i < s->ex_nfields; i++ )
        if ( resolve(s->ex_fval[i], &fv[i]) )
            return s->ex_fval[i];
    return NULL;
}

static void fmt_expect(char *buf, size_t size, const struct stmt *s,
                       const int64_t ev, const int64_t *fv)
{
    size_t len;

    switch ( s->ex )
    {
    case EX_OK:
        snprintf(buf, size, "ok");
        break;
    case EX_OK_VAL:
        snprintf(buf, size, "ok:%ld", (long)ev);
        break;
    case EX_OK_STATUS:
        len = snprintf(buf, size, "ok:%s", script_kinds[s->ex_kind].name);
        for ( unsigned int i = 0; i < s->ex_nfields && len < size; i++ )
            len += snprintf(buf + len, size - len, ",%s=%ld",
                            script_fields[s->ex_field[i]], (long)fv[i]);
        break;
    case EX_ERR:
        script_fmt_rc(buf, size, s->ex_rc);
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
        if ( r->val_str )
            return !strcmp(got, exp);
        return r->val == ev;
    case EX_OK_STATUS:
        if ( !ok || !r->has_status || r->st.status != script_kinds[s->ex_kind].stat )
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

/*
 * Passing put/get/mark steps are about half of all console output, and the
 * console is what a run waits on.  Each case keeps them here and prints them
 * at its end only if it failed, where they show how far its peers got.
 */
static char quiet[8192];
static size_t quiet_len;
static unsigned int quiet_lines, quiet_lost;

static void quiet_add(int64_t line, const char *op, const char *args,
                      const char *exp, const char *got)
{
    char buf[512];
    size_t n = snprintf(buf, sizeof(buf), EVT_RESULT, cur_case, (long)line, op, args, exp, got, "PASS");

    if ( n >= sizeof(buf) || quiet_len + n + 1 >= sizeof(quiet) )
    {
        quiet_lost++;
        return;
    }
    memcpy(quiet + quiet_len, buf, n + 1);  /* each line kept with its NUL */
    quiet_len += n + 1;
    quiet_lines++;
}

/* At the end of a case: print the kept lines if it failed, and forget them. */
static void quiet_flush(int failed)
{
    for ( size_t off = 0; failed && off < quiet_len; off += strlen(quiet + off) + 1 )
        script_say("%s", quiet + off);
    if ( failed )
        case_pass += quiet_lines;
    if ( failed && quiet_lost )
        script_say(EVT_NOTE " %u passing rendezvous line(s) of case %s not kept", quiet_lost, cur_case);
    quiet_len = quiet_lines = quiet_lost = 0;
}

/* ---- one step ---- */

static void run_op(const struct stmt *s, const int64_t *a, struct result *r)
{
    if ( !env->ops[s->op] )
    {
        r->err = "ENOSYS";      /* the checker keeps such steps out; say so if one slips in */
        return;
    }
    env->ops[s->op](s, a, r);
    if ( !r->rc && !r->err && script_ops[s->op].val == VAL_NUM )
        r->has_val = 1;
}

static void run_step(const struct stmt *s)
{
    char args[160], exp[128], got[128];
    int64_t a[MAX_ARGS] = { 0 }, ev = 0, fv[NR_FIELDS] = { 0 };
    const struct op_def *op = &script_ops[s->op];
    const char *undef = NULL;
    struct result r;
    size_t len = 0;
    int pass;

    /* Resolve arguments; a plain word stands for itself. */
    args[0] = '\0';
    for ( unsigned int i = 0; i < s->nargs; i++ )
    {
        const char *t = s->args[i];
        char kind = op->args[i];
        int numeric = kind == 'n' || ((kind == 'v' || kind == 'g') && script_is_num_token(t)) ||
                      (kind == 'D');

        if ( kind == 'D' && t[0] != '@' )
        {
            /* get's NAME: a domain name, '@' optional */
            if ( env->dom_lookup(t, &a[i]) && !undef )
                undef = t;
        }
        else if ( numeric && resolve(t, &a[i]) && !undef )
            undef = t;
        else if ( kind == 'g' && !numeric )
            a[i] = !strcmp(t, "page") ? FRAME_PAGE : !strcmp(t, "pagetable") ? FRAME_PAGETABLE : FRAME_BAD;

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

    if ( pass && op->who == WHO_HARNESS )
    {
        /* The harness's own rendezvous: shown only if the case fails. */
        quiet_add(s->line, op->name, args, exp, got);
        return;
    }
    pass ? case_pass++ : case_fail++;
    script_say(EVT_RESULT, cur_case, (long)s->line, op->name, args, exp, got, pass ? "PASS" : "FAIL");
}

/* ---- the script ---- */

static uint64_t case_start_ns;

static void case_begin(const char *name)
{
    char detail[160];

    cur_case = name;
    case_start_ns = env->now_ns();
    case_pass = case_fail = 0;
    nr_vars = 0;
    env->case_begin(detail, sizeof(detail));
    script_say(EVT_CASE_BEGIN " %s", name, detail);
}

static void case_end(struct script_totals *t)
{
    env->case_end();
    quiet_flush(case_fail != 0);
    script_say(EVT_CASE_END, cur_case, case_pass, case_fail,
               (unsigned long)((env->now_ns() - case_start_ns) / 1000));
    t->pass += case_pass;
    t->fail += case_fail;
}

/*
 * Walk the lines; mode 0 checks (printing SCRIPT-ERROR lines), mode 1 runs.
 * Returns the number of errors found in mode 0.
 */
static unsigned int walk(const char *text, size_t len, int run,
                         struct script_totals *t)
{
    static struct script_reader rd;
    static char case_name[MAX_LINE + 1];
    unsigned int errors = 0;
    struct stmt st;
    int rc;

    script_reader_init(&rd, text, len);
    while ( (rc = script_next(&rd, &st)) )
    {
        if ( rc < 0 )
        {
            if ( !run )
                script_say(EVT_SCRIPT_ERROR " %s", rd.lineno, rd.msg);
            errors++;
            continue;
        }
        if ( !run )
            continue;
        switch ( st.kind )
        {
        case ST_CASE:
            memcpy(case_name, st.name, strlen(st.name) + 1);
            case_begin(case_name);
            break;
        case ST_END:
            case_end(t);
            break;
        case ST_STEP:
            run_step(&st);
            break;
        case ST_EMPTY:
            break;
        }
    }
    return errors;
}

struct script_totals script_interpret(const struct script_env *e, const char *text, size_t len)
{
    struct script_totals t = { 0, 0, 0, 0 };

    env = e;
    if ( !text )
    {
        script_say(EVT_SCRIPT_ERROR " no script", 0u);
        t.bad_script = 1;
        return t;
    }
    if ( walk(text, len, 0, &t) )
    {
        t.bad_script = 1;
        return t;
    }
    walk(text, len, 1, &t);
    return t;
}
