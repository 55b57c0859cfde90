/*
 * The script interpreter (script/script_core.c) on the host, in a made-up
 * place, for tests/unit/test_interpreter.py.
 *
 *   interp [ROLE=domid | /xenstore/path=value ...] < script
 *
 * EVT lines on stdout, as dom0's console shows them ("[g1-Dom0] EVT ...");
 * each op the place issued on stderr ("CALL op a0 a1", "PUT path value").
 * The ops answer as a tiny Xen would: alloc_unbound gives port 5, port 5 is
 * interdomain to domain 1 port 7, close works on port 5 only; anything else
 * is EINVAL (22), and an op the place lacks is ENOSYS (38).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "script_core.h"

#define EINVAL_ 22
#define ENOSYS_ 38

static struct { char *key, *val; } kv[256];
static unsigned int nr_kv;
static uint64_t clock_ns;

static void call(const struct stmt *s, const int64_t *a)
{
    fprintf(stderr, "CALL %s", script_ops[s->op].name);
    for ( unsigned int i = 0; i < s->nargs; i++ )
        fprintf(stderr, " %ld", (long)a[i]);
    fprintf(stderr, "\n");
}

#define OP(name) static void op_##name(const struct stmt *s, const int64_t *a, struct result *r)

OP(alloc_unbound)
{
    call(s, a);
    r->val = 5;
}

OP(status)
{
    call(s, a);
    if ( a[1] != 5 )
    {
        r->rc = -EINVAL_;
        return;
    }
    r->has_status = 1;
    r->st.status = EVTCHNSTAT_interdomain;
    r->st.u.interdomain.dom = 1;
    r->st.u.interdomain.port = 7;
}

OP(close)
{
    call(s, a);
    r->rc = a[0] == 5 ? 0 : -EINVAL_;
}

OP(other)
{
    call(s, a);
    r->rc = -ENOSYS_;
}

OP(put)
{
    char val[32];

    (void)r;
    snprintf(val, sizeof(val), "%ld", (long)a[1]);
    fprintf(stderr, "PUT %s %s\n", s->args[0], script_is_num_token(s->args[1]) ? val : s->args[1]);
}

OP(get)
{
    script_get(a[0], s->args[1], a[2], r);
}

static script_op_fn *const ops[NR_OPS] = {
    [OP_alloc_unbound] = op_alloc_unbound,
    [OP_status] = op_status,
    [OP_close] = op_close,
    [OP_send] = op_other,
    [OP_put] = op_put,
    [OP_get] = op_get,
};

static const char *lookup(const char *key)
{
    for ( unsigned int i = 0; i < nr_kv; i++ )
        if ( !strcmp(kv[i].key, key) )
            return kv[i].val;
    return NULL;
}

static int dom_lookup(const char *name, int64_t *id)
{
    const char *v = lookup(name);

    return v ? (*id = atol(v), 0) : -1;
}

static const char *xs_read(const char *path, char *buf, size_t size)
{
    const char *v = lookup(path);

    if ( !v )
        return "ENOENT";
    snprintf(buf, size, "%s", v);
    return NULL;
}

static void case_begin(char *detail, size_t size)
{
    snprintf(detail, size, "(a made-up place)");
}

static void case_end(void)
{
    fprintf(stderr, "CASE-END\n");
}

static void out(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
}

/* Time passes only while the script waits: a get's timeout costs nothing. */
static uint64_t now_ns(void)
{
    return clock_ns;
}

static void sleep_ms(uint64_t ms)
{
    clock_ns += ms * 1000000;
}

int main(int argc, char **argv)
{
    static char text[1 << 20];
    const struct script_env env = {
        .prefix = "[g1-Dom0] ",
        .ops = ops,
        .dom_lookup = dom_lookup,
        .case_begin = case_begin,
        .case_end = case_end,
        .xs_read = xs_read,
        .write = out,
        .now_ns = now_ns,
        .sleep_ms = sleep_ms,
    };
    struct script_totals t;
    /*
     * --from-store[=SIZE]: the script is in the made-up xenstore, as a standby guest is
     * given it, read into SIZE bytes (all of text's).
     */
    int from_store = argc > 1 && !strncmp(argv[1], "--from-store", 12);
    size_t room = from_store && argv[1][12] == '=' ? strtoul(argv[1] + 13, NULL, 10) : sizeof(text);
    size_t len = from_store ? 0 : fread(text, 1, sizeof(text) - 1, stdin);

    for ( int i = 1 + from_store; i < argc && nr_kv < sizeof(kv) / sizeof(kv[0]); i++ )
    {
        char *eq = strchr(argv[i], '=');

        if ( !eq )
            return 2;
        *eq = '\0';
        kv[nr_kv].key = argv[i];
        kv[nr_kv++].val = eq + 1;
    }
    if ( from_store )
    {
        const char *err = script_fetch(&env, text, room < sizeof(text) ? room : sizeof(text), &len);

        if ( err )
        {
            printf("fetch: %s\n", err);
            return 4;
        }
    }
    t = script_interpret(&env, text, len);
    script_say(EVT_DONE, t.pass, t.fail);
    return t.bad_script ? 3 : 0;
}
