/*
 * A finding's report: both views of the ports it concerns and the operations
 * that led to it; and a long run's signs of life.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../event_fifo.h"
#include "../events.h"
#include "evt-lines.h"
#include "../hypercall.h"
#include "../lib.h"
#include "internal.h"

static const char *const kind_name[] = {
    [K_FREE] = "closed", [K_RESERVED] = "reserved", [K_UNBOUND] = "unbound",
    [K_INTER] = "interdomain", [K_VIRQ] = "virq", [K_IPI] = "ipi", [K_HARNESS] = "harness",
    [K_CROSS] = "cross",
};

/* One port as the model and as Xen see it. */
static void explain(uint32_t p)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    const struct mport *mp;
    int pending = 0;

    if ( p >= EVTCHN_2L_NR_CHANNELS )
        return;
    mp = &m[p];
    events_port_pending(p, &pending);
    EVT_PRINTF(EVT_FUZZ_PORT, p, kind_name[mp->kind], mp->owner, mp->vcpu, mp->rdom, mp->rport, mp->pending,
               mp->masked, mp->count, mp->born, racy_state(p), (unsigned long)drained_at[p],
               (unsigned long)drain_clock, mp->uncounted, rc, st.status, st.vcpu, st.u.interdomain.dom,
               st.u.interdomain.port, pending, events_port_masked(p), events_count(p), events_count_on(p, 0),
               events_count(p) - events_count_on(p, 0), events_port_vcpu(p));
}

void print_finding(void)
{
    EVT_PRINTF(EVT_FUZZ_MISMATCH, (unsigned long)run_seed, found.vcpu, (unsigned long)found.op, found.what,
               found.port, found.model, found.xen);
    explain(found.port);
    if ( fifo_active() )
        fifo_explain(found.port);
    if ( found.port != (uint32_t)found.model && (uint64_t)found.model < EVTCHN_2L_NR_CHANNELS )
        explain(found.model);   /* a port number the model expected */
    if ( found.port < EVTCHN_2L_NR_CHANNELS && m[found.port].kind == K_INTER )
        explain(m[found.port].rport);   /* the other end, whose sends raise it */
    for ( unsigned int v = 0; v < nvcpus; v++ )
    {
        const struct fz *f = &fz[v];
        uint64_t end = f->op_index;     /* one past its last operation */

        for ( uint64_t i = end > FUZZ_LAST_OPS ? end - FUZZ_LAST_OPS : 0; i < end; i++ )
        {
            const struct fuzz_last_op *l = &f->last[i % FUZZ_LAST_OPS];
            char answer[48] = "not issued";     /* as orchestrator/lastops.py says it */

            if ( !l->name[0] || l->i != i )
                continue;
            if ( l->got == FUZZ_NO_ANSWER )
                snprintf(answer, sizeof(answer), "in flight");
            else if ( l->got != FUZZ_NOT_ISSUED )
                snprintf(answer, sizeof(answer), "model=%ld xen=%ld", (long)l->want, (long)l->got);
            EVT_PRINTF(EVT_FUZZ_LAST " %s", v, (unsigned long)l->i, l->name, l->a, l->b, answer);
        }
    }
}

/*
 * A fuzz step is one long step: on a busy host it can run well past its case's
 * budget, and the harness tells a slow guest from a hung one by its lines.
 */
void beat(enum beat_of what, uint64_t done)
{
    uint64_t now = now_ns();

    if ( now < beat_at )
        return;
    if ( what == BEAT_SHRUNK_TO )
        EVT_PRINTF(EVT_FUZZ_PROGRESS_SHRINK, (unsigned long)done);
    else
        EVT_PRINTF(EVT_FUZZ_PROGRESS, (unsigned long)done);
    beat_at = now + MS_TO_NS(BEAT_MS);
}
