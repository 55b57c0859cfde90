/*
 * The run (fuzz.h's fuzz_run()): the draws, by ops.h's weights, every vcpu
 * fuzzing at once from its own stream of the seed, the finding reported and
 * shrunk, and what is left as it was at the end.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../event_fifo.h"
#include "../events.h"
#include "evt-lines.h"
#include "../hypercall.h"
#include "../lib.h"
#include "../smp.h"
#include "internal.h"

/* Ports the generator keeps open at most, all vcpus together: well below max_event_channels. */
#define MAX_OPEN 192
#define SWEEP_EVERY 1000

/* Drawn at all: a FUZZ_SMP_OP only with several vcpus, so one vcpu's draws are the others'. */
static int drawable(unsigned int op)
{
    return nvcpus > 1 || !fuzz_ops[op].smp;
}

/* An operation by its weight, of those drawable; draws: their weights' sum. */
static enum fuzz_op draw(struct fz *f, uint32_t draws)
{
    uint32_t k = below(f, draws);
    unsigned int op = 0;

    for ( ; ; op++ )
    {
        if ( !drawable(op) )
            continue;
        if ( k < fuzz_ops[op].weight )
            break;
        k -= fuzz_ops[op].weight;
    }
    return op;
}

static void run_op(struct fz *f, enum fuzz_op op)
{
    uint32_t a, b;

    fuzz_ops[op].pick(f, &a, &b);
    if ( nvcpus == 1 && f->op_index < LOG_MAX )
        oplog[f->op_index] = (struct logged){ .op = op, .a = a, .b = b };
    fuzz_issue(f, op, a, b);
}

static void fuzz_vcpu(unsigned int vcpu, void *arg)
{
    struct fz *f = &fz[vcpu];
    unsigned int max_open = MAX_OPEN / nvcpus;
    uint32_t draws = 0;

    (void)arg;
    for ( unsigned int op = 0; op < NR_FUZZ_OPS; op++ )
        draws += drawable(op) ? fuzz_ops[op].weight : 0;
    for ( ; f->op_index < f->nops && !__atomic_load_n(&stop, __ATOMIC_RELAXED); f->op_index++ )
    {
        f->grew = 0;
        f->fifo_ops += m_fifo;
        if ( nvcpus == 1 && below(f, 1000) == 0 )
            run_op(f, F_reset);
        else if ( f->nr_open >= max_open )
            run_op(f, F_close);
        else
            run_op(f, draw(f, draws));
        if ( f->grew )
            probe_valid();
        if ( f->op_index % SWEEP_EVERY == SWEEP_EVERY - 1 )
        {
            sweep(f, 0);
            if ( vcpu == 0 )
                beat(BEAT_OPS, f->op_index + 1);
        }
    }
}

static void kick(unsigned int vcpu)
{
    struct evtchn_send o = { .port = kick_port[vcpu] };

    HYPERVISOR_event_channel_op(EVTCHNOP_send, &o);
}

/* An IPI port per secondary vcpu, to wake it from SCHEDOP_block. */
static void bind_kick_ports(void)
{
    for ( unsigned int v = 1; v < nvcpus; v++ )
    {
        struct evtchn_bind_ipi o = { .vcpu = v };

        kick_port[v] = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &o) ? 0 : o.port;
        events_set_port_vcpu(kick_port[v], v);
    }
}

static void close_kick_ports(void)
{
    for ( unsigned int v = 1; v < nvcpus; v++ )
    {
        struct evtchn_close o = { .port = kick_port[v] };

        if ( kick_port[v] )
            HYPERVISOR_event_channel_op(EVTCHNOP_close, &o);
        events_set_port_vcpu(kick_port[v], 0);
        kick_port[v] = 0;
    }
}

/* The run's ports, closed at its end: a later step finds the table as the run did. */
static void close_own_ports(void)
{
    for ( uint32_t p = 1; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        struct evtchn_close o = { .port = p };

        if ( m[p].owner == NO_OWNER || m[p].kind == K_FREE )
            continue;
        events_set_port_vcpu(p, 0);
        HYPERVISOR_event_channel_op(EVTCHNOP_close, &o);
    }
}

void fuzz_run(uint64_t seed, uint64_t nops, domid_t with, long (*reset)(void), struct fuzz_report *out)
{
    uint64_t start, ops = 0, fifo_ops = 0, switches = 0, cross = 0, raced = 0;
    unsigned int open = 0;
    struct fz *f0 = &fz[0];
    char mfns[GUEST_MAX_VCPUS * 17];    /* each a 64-bit frame in hex, and its comma */
    size_t mfns_len = 0;

    nvcpus = nr_vcpus_up;
    peer = with;
    start_fifo = fifo_active();
    xen_ver = (unsigned long)HYPERVISOR_xen_version(XENVER_version, NULL);
    reset_self = reset;
    run_seed = seed;
    stop = 0;
    memset(fz, 0, sizeof(fz));
    memset(racy, 0, sizeof(racy));
    memset(drained_at, 0, sizeof(drained_at));
    drain_clock = 0;
    for ( unsigned int v = 0; v < nvcpus; v++ )
    {
        fz[v].vcpu = v;
        fz[v].rng = seed ^ (v * 0xd1b54a32d192ed03ull);    /* a stream of its own */
        fz[v].nops = nops / nvcpus + (v < nops % nvcpus);
        fz[v].last = ring[v].last;
        ring[v] = (struct fuzz_ring){ .seed = seed, .vcpu = v, .running = 1 };
        memcpy(ring[v].magic, FUZZ_RING_MAGIC, sizeof(ring[v].magic));
    }
    for ( unsigned int v = 0; v < nvcpus; v++ )
        mfns_len += snprintf(mfns + mfns_len, sizeof(mfns) - mfns_len, "%s%lx", v ? "," : "",
                             (unsigned long)page_gfn(&ring[v]));
    EVT_PRINTF(EVT_FUZZ_RING, (unsigned long)seed, nvcpus, mfns);
    bind_kick_ports();
    guards_fill();
    model_init();
    sweep(f0, 1);               /* the model starts from what Xen says */

    start = now_ns();
    beat_at = start + MS_TO_NS(BEAT_MS);
    if ( nvcpus > 1 )
        smp_run_all(fuzz_vcpu, NULL, kick);
    else
        fuzz_vcpu(0, NULL);
    out->ns = now_ns() - start;

    if ( !stop )
        sweep(f0, 1);           /* every vcpu has stopped: every port, every count */
    for ( unsigned int v = 0; v < nvcpus; v++ )
    {
        ops += fz[v].op_index;
        open += fz[v].nr_open;
        fifo_ops += fz[v].fifo_ops;
        switches += fz[v].switches;
        cross += fz[v].cross;
        raced += fz[v].raced;
    }
    out->ops = ops;
    out->mismatches = stop;
    if ( stop )
        print_finding();
    if ( stop && nvcpus == 1 && peer == DOMID_INVALID && f0->op_index <= LOG_MAX )
    {
        const char *what = found.what;
        uint64_t from = f0->op_index;
        size_t n = shrink(from, what);

        EVT_PRINTF(EVT_FUZZ_SHRUNK, (unsigned long)seed, (unsigned long)from, (unsigned long)n);
        print_steps(n, what);
    }
    for ( unsigned int v = 0; v < nvcpus; v++ )
        ring[v].running = 0;    /* only now: the shrink above issues operations too */
    EVT_PRINTF(EVT_FUZZ, (unsigned long)seed, nvcpus, (unsigned long)ops, stop, (unsigned long)out->ns, valid,
               open, (unsigned long)fifo_ops, (unsigned long)switches, (unsigned long)cross, (unsigned long)raced);
    close_own_ports();
    close_kick_ports();
}
