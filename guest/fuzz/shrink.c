/*
 * A finding shrunk (one vcpu): the logged operations replayed from the state
 * a case starts from, fewer and fewer while the same kind of mismatch comes
 * back; then written as the steps of a case file (EVT FUZZ-STEP lines, which
 * the orchestrator turns into cases/found/), each with the model's answer.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../event_fifo.h"
#include "../events.h"
#include "../lib.h"
#include "evt-lines.h"
#include "internal.h"
#include "script_parse.h"

#define SHRINK_MS 60000

static uint32_t cur[LOG_MAX], trial[LOG_MAX];

/* The state a case starts from, then the logged operations `idx`: does the mismatch come back? */
static long wants[LOG_MAX];

static int replay(const uint32_t *idx, size_t n, const char *what)
{
    struct fz *f = &fz[0];

    reset_self();
    events_clear_all_masks();   /* as `case` does (script.c case_clean()) */
    if ( start_fifo )
        fifo_init();            /* as the case's first step does */
    memset(f->virq_port, 0, sizeof(f->virq_port));
    f->nr_open = 0;
    f->op_index = 0;
    stop = 0;
    memset(ring[0].last, 0, sizeof(ring[0].last));     /* a crash now shows the replay's operations */
    model_init();
    for ( size_t i = 0; i < n && !stop; i++, f->op_index++ )
    {
        const struct logged *o = &oplog[idx[i]];

        f->grew = 0;
        f->last[i % FUZZ_LAST_OPS].want = 0;
        fuzz_issue(f, o->op, o->a, o->b);
        wants[i] = f->last[i % FUZZ_LAST_OPS].want;
        if ( f->grew )
            probe_valid();
    }
    if ( !stop )
        sweep(f, 1);
    return stop && found.what == what;
}

/*
 * Delta debugging (Zeller's ddmin, complements only): drop chunks of the
 * operations while the same kind of mismatch still comes back.  Time-boxed:
 * what is left when the time is up is still a reproducer.
 */
size_t shrink(size_t n, const char *what)
{
    uint64_t end = now_ns() + MS_TO_NS(SHRINK_MS);
    size_t chunks = 2;

    for ( size_t i = 0; i < n; i++ )
        cur[i] = i;
    while ( n >= 2 && now_ns() < end )
    {
        size_t size = (n + chunks - 1) / chunks;
        int reduced = 0;

        for ( size_t c = 0; c * size < n && now_ns() < end; c++ )
        {
            size_t m = 0;

            beat(BEAT_SHRUNK_TO, n);
            for ( size_t i = 0; i < n; i++ )
                if ( i < c * size || i >= (c + 1) * size )
                    trial[m++] = cur[i];
            if ( m && replay(trial, m, what) )
            {
                memcpy(cur, trial, m * sizeof(cur[0]));
                n = m;
                chunks = chunks > 2 ? chunks - 1 : 2;
                reduced = 1;
                break;
            }
        }
        if ( !reduced )
        {
            if ( chunks >= n )
                break;
            chunks = chunks * 2 < n ? chunks * 2 : n;
        }
    }
    return n;
}

/* What the model expected of the step that disagreed, as a case file says it. */
static void print_check(uint32_t port)
{
    static const char *const fields[][2] = {
        { "status-vcpu", "vcpu" }, { "status-unbound-dom", "dom" },
        { "status-interdomain-port", "port" }, { "status-interdomain-dom", "dom" },
        { "status-virq", "virq" },
    };
    int k = port < EVTCHN_2L_NR_CHANNELS ? script_kind_of(stat_of[m[port].kind]) : -1;

    if ( !strcmp(found.what, "upcalls") )
        EVT_PRINTF(EVT_FUZZ_STEP " count %u -> ok %ld", port, found.model - (long)count0[port]);
    else if ( !strcmp(found.what, "pending") )
        EVT_PRINTF(EVT_FUZZ_STEP " pending %u -> ok %ld", port, found.model);
    else if ( !strcmp(found.what, "status") && k >= 0 )
        EVT_PRINTF(EVT_FUZZ_STEP " status self %u -> ok %s", port, script_kinds[k].name);
    for ( unsigned int i = 0; i < ARRAY_SIZE(fields); i++ )
        if ( !strcmp(found.what, fields[i][0]) && k >= 0 )
            EVT_PRINTF(EVT_FUZZ_STEP " status self %u -> ok %s %s=%ld", port, script_kinds[k].name,
                       fields[i][1], found.model);
}

/* The shrunk operations, once more, each as a step with the model's expectation. */
void print_steps(size_t n, const char *what)
{
    char want[32], args[48];

    replay(cur, n, what);       /* leaves each op's expected answer in wants[] */
    if ( start_fifo )
        EVT_PRINTF(EVT_FUZZ_STEP " %s -> ok", script_ops[OP_fifo_init].name);
    for ( size_t i = 0; i < n; i++ )
    {
        const struct logged *o = &oplog[cur[i]];
        long rc = wants[i];

        if ( rc )
            script_fmt_rc(want, sizeof(want), rc);
        else
            snprintf(want, sizeof(want), "ok");
        fuzz_ops[o->op].args(args, sizeof(args), o->a, o->b);
        if ( i == n - 1 && !strcmp(what, "port") )
            snprintf(want, sizeof(want), "ok %ld", found.model);   /* the port it should have been */
        EVT_PRINTF(EVT_FUZZ_STEP " %s %s -> %s", fuzz_op_name(o->op), args, want);
    }
    print_check(found.port);
}
