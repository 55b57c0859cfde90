/*
 * The event channel fuzzer (fuzz.h): random operations on our own ports,
 * each checked against a model of what xen/common/event_channel.c does.
 *
 * Every vcpu that is up fuzzes at once, each from its own stream of the
 * seed.  A port belongs to the vcpu that got it from Xen, and only its owner
 * changes it, so each vcpu's view of its own ports is exact: every return
 * value, and after each operation the state of the ports it touched (status,
 * pending and mask bits, upcalls).  What concurrency leaves open is checked
 * within bounds instead:
 *   - which port Xen hands out: with one vcpu, exactly the lowest free one
 *     (get_free_port()); with more, one that is free and that nobody holds;
 *   - an upcall arrives when the vcpu it notifies takes it, which with
 *     several vcpus may be a little later than the operation that raised it:
 *     the count must reach the model's within UPCALL_WAIT_MS and
 *     MIN_YIELDS turns of the waiting vcpu (and never pass it).
 * Every SWEEP_EVERY operations each vcpu compares all its ports (and checks
 * that GUARD_PAGES of a known pattern are untouched), and at the end, with
 * every vcpu stopped, vcpu 0 compares every port.
 *
 * The run stays on the ABI it starts on (a fifo_init before it: FIFO), but
 * with one vcpu, where init_control switches a 2-level domain to FIFO and
 * reset switches it back, each about once in 1000 operations.  With several
 * vcpus the model's bits could not follow a switch, so they only try the
 * init_control calls that fail.
 *
 * Racing: with several vcpus, some of the channels a vcpu makes are shared
 * (racy[]), and every vcpu sends on any shared port while its owner binds,
 * moves, masks and closes it.  What those sends raise is nobody's to
 * predict, so a shared port's pending bit and upcalls are not checked; the
 * racer checks only that Xen answers 0 or EINVAL.  A channel bound to a
 * shared port is shared too, and so is a channel bound at a number a racer
 * may have sent on since the bind began (raced_since()).  At a close the
 * owner waits until no racer is still sending on the number (racing_on[]);
 * whoever binds the number next counts it afresh.
 *
 * Interdomain channels are made with ourselves at both ends (an unbound
 * port whose remote is our own domain, bound with bind_interdomain), so one
 * domain sees both sides of every send.  The console and xenstore ports, and
 * the ports that wake the other vcpus, are the harness's: looked at, never
 * touched, bound again after a reset.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "console.h"
#include "event_abi.h"
#include "event_fifo.h"
#include "events.h"
#include "fuzz.h"
#include "guard.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "script_parse.h"
#include "smp.h"
#include "xenstore.h"
#include <xen/errno.h>              /* the XEN_E* enum */

/* Ports the generator keeps open at most, all vcpus together: well below max_event_channels. */
#define MAX_OPEN 192
#define SWEEP_EVERY 1000
#define BEAT_MS 2000                /* how often a long fuzz step says it is still going */
/* Generous: a vcpu's host thread can starve on a loaded machine (200 ms was not enough). */
#define UPCALL_WAIT_MS 2000
#define MIN_YIELDS 2000             /* and at least as many turns on a cpu (wait_more()) */
#define NO_OWNER 0xff
#define BAD_VCPU 4096u              /* past any domain's vcpus */

/*
 * K_CROSS: a channel with the peer domain (fuzz_with), ours but for its other
 * end, which the peer binds, sends on and closes whenever it likes: unbound or
 * interdomain with the peer, its events and pending bit the peer's doing.
 */
enum kind { K_FREE, K_RESERVED, K_UNBOUND, K_INTER, K_VIRQ, K_IPI, K_HARNESS, K_CROSS };

/* What Xen keeps for each of our ports (struct evtchn), and what we see. */
static struct mport {
    uint8_t kind;
    uint8_t vcpu;               /* notify_vcpu_id */
    uint8_t virq;
    uint8_t pending, masked;    /* the current ABI's bits: shared_info's or the event word's */
    uint8_t masked_2l;          /* on FIFO: the shared_info mask bit, back at a reset */
    uint8_t xpend;              /* struct evtchn's FIFO `pending` flag: X_* */
    uint8_t uncounted;          /* was K_CROSS: its upcalls were the peer's doing, count unknown */
    uint8_t owner;              /* the vcpu that holds it, NO_OWNER */
    domid_t rdom;               /* unbound: remote_domid; interdomain: the peer */
    uint32_t rport;             /* interdomain: the peer's port */
    uint32_t count;             /* upcalls delivered */
    uint32_t born;              /* the owner's operation index that got it from Xen (a report's clue) */
} m[EVTCHN_2L_NR_CHANNELS];

/*
 * Xen's FIFO `pending` flag ("save the pending state for when the page is
 * added"): set by setup_ports() and by a set_pending with no event word,
 * cleared by nothing (cases/fifo.evt fifo-stale-pending), so a port's may be
 * left from before the run: unknown until an array page that covers it shows it.
 */
enum { X_CLEAR, X_SET, X_UNKNOWN };

static uint32_t valid;                  /* d->valid_evtchns, as last seen */
/* The ABI as Xen has it: d->evtchn_fifo, its array pages, each vcpu's control block. */
static int m_fifo;
static uint32_t m_pages;
static uint8_t m_cb[GUEST_MAX_VCPUS];
static int start_fifo;                  /* the run began on FIFO (a fifo_init before it) */
static domid_t peer = DOMID_INVALID;    /* fuzz_with: the domain fuzzing beside us */
static unsigned int nvcpus;             /* fuzzing, all at once */
static long (*reset_self)(void);
static uint64_t run_seed;

/*
 * Shared ports: any vcpu may send on them (racing); their events are nobody's
 * to predict.  RACY_DRAINING: closed, racers still sending on it are let
 * finish.  Each number's state carries a generation, bumped at every change,
 * so that a vcpu's compare-and-swap only ever undoes its own change: the
 * number may have been closed, bound, shared and closed again meanwhile
 * (a closer that compared states alone unshared a live pair: two-domain seed 13).
 */
enum { RACY_NO, RACY_DRAINING, RACY_SHARED };
#define RACY_STATE(v) ((v) & 3u)
#define RACY_NEXT(v, state) ((((v) >> 2) + 1) << 2 | (state))
static uint32_t racy[EVTCHN_2L_NR_CHANNELS];
static uint32_t racing_on[GUEST_MAX_VCPUS];     /* the shared port a vcpu is sending on, else 0 */
/* When each number's last drain ended, on a clock that ticks once a drain: see raced_since(). */
static uint64_t drain_clock, drained_at[EVTCHN_2L_NR_CHANNELS];

static uint32_t racy_state(uint32_t p)
{
    return RACY_STATE(__atomic_load_n(&racy[p], __ATOMIC_SEQ_CST));
}

/* Each vcpu's last operations, where the harness can read them after a Xen crash. */
static struct fuzz_ring ring[GUEST_MAX_VCPUS];

/* One vcpu's run. */
static struct fz {
    unsigned int vcpu;
    uint64_t rng, op_index, nops;
    uint64_t fifo_ops, switches;        /* ops issued on FIFO; ABI switches either way */
    uint64_t cross;                     /* channels made with the peer: offered, or bound to its port */
    uint64_t raced;                     /* sends on shared ports that Xen took (answered 0) */
    int grew;
    unsigned int nr_open;
    uint32_t virq_port[NR_VIRQS];       /* this vcpu's virq_to_evtchn[] */
    struct fuzz_last_op *last;          /* ring[vcpu].last */
} fz[GUEST_MAX_VCPUS];

/* The first mismatch stops every vcpu; vcpu 0 prints it at the end. */
static int stop;
static struct {
    unsigned int vcpu;
    uint64_t op;
    const char *what;
    uint32_t port;
    long model, xen;
} found;

/* ---- seeded choices ---- */

/* One stream per vcpu: a seed names a run exactly. */
static uint64_t rnd(struct fz *f)
{
    return splitmix64(&f->rng);
}

static uint32_t below(struct fz *f, uint32_t n)
{
    return rnd(f) % n;
}

static int mine(const struct fz *f, uint32_t p)
{
    return p < EVTCHN_2L_NR_CHANNELS && m[p].owner == f->vcpu;
}

/*
 * Mostly a port we hold; else an edge: port 0 (reserved), ports past the
 * table or the ABI.  With one vcpu also the last valid port, the first
 * invalid one and bucket boundaries, free or not: with more, those may be
 * another vcpu's, which only it may change.
 */
static uint32_t pick_port(struct fz *f)
{
    static const uint32_t edge[] = { 4095, 4096, 0xffffffffu, 63, 64, 127, 128, 1023, 1024 };
    uint32_t p = 0;

    switch ( below(f, 12) )
    {
    case 0: return 0;
    case 1: return edge[below(f, nvcpus > 1 ? 3 : ARRAY_SIZE(edge))];
    case 2: p = valid - 1; break;
    case 3: p = valid; break;
    case 4: p = below(f, valid + 64); break;
    default:
        for ( unsigned int tries = 0; tries < 8; tries++ )
            if ( mine(f, p = below(f, valid)) && m[p].kind != K_FREE )
                break;
    }
    if ( p >= EVTCHN_2L_NR_CHANNELS || mine(f, p) )
        return p;
    /* Free and nobody's, with one vcpu; else port 0: never another's, nor the harness's. */
    return nvcpus == 1 && m[p].kind != K_HARNESS ? p : 0;
}

static domid_t pick_dom(struct fz *f)
{
    static const domid_t doms[] = { DOMID_SELF, DOMID_SELF, 0, DOMID_INVALID };

    if ( peer != DOMID_INVALID && below(f, 3) == 0 )
        return peer;
    return below(f, 4) == 0 ? self_domid : doms[below(f, ARRAY_SIZE(doms))];
}

/* Our own vcpu mostly; any that exists; one that does not. */
static uint32_t pick_vcpu(struct fz *f)
{
    switch ( below(f, 6) )
    {
    case 0: return below(f, nvcpus + 1);    /* nvcpus: the first that does not exist */
    case 1: return below(f, 2) ? BAD_VCPU : 0xffffffffu;
    default: return f->vcpu;
    }
}

/* ---- the record of the last operations, for a mismatch report ---- */

static struct fuzz_last_op *record(struct fz *f, const char *name, uint32_t a, uint32_t b)
{
    struct fuzz_last_op *l = &f->last[f->op_index % FUZZ_LAST_OPS];
    unsigned int n = 0;

    *l = (struct fuzz_last_op){ .i = f->op_index, .a = a, .b = b, .got = FUZZ_NO_ANSWER };
    for ( ; name[n] && n < sizeof(l->name) - 1; n++ )
        l->name[n] = name[n];
    return l;
}

static void mismatch(struct fz *f, const char *what, uint32_t port, long model, long xen)
{
    if ( __atomic_exchange_n(&stop, 1, __ATOMIC_SEQ_CST) )
        return;
    found.vcpu = f->vcpu;
    found.op = f->op_index;
    found.what = what;
    found.port = port;
    found.model = model;
    found.xen = xen;
}

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
    printf("EVT FUZZ-PORT port=%u model=%s,owner=%u,vcpu=%u,rdom=%u,rport=%u,pending=%u,masked=%u,"
           "upcalls=%u,born=%u,racy=%u,drained=%lu/%lu,uncounted=%u xen=rc:%ld,status:%u,vcpu=%u,dom=%u,port=%u,"
           "pending=%u,masked=%u,upcalls=%u(%u+%u),handler=%u\n",
           p, kind_name[mp->kind], mp->owner, mp->vcpu, mp->rdom, mp->rport, mp->pending,
           mp->masked, mp->count, mp->born, racy_state(p), (unsigned long)drained_at[p], (unsigned long)drain_clock,
           mp->uncounted, rc, st.status, st.vcpu, st.u.interdomain.dom,
           st.u.interdomain.port, pending, events_port_masked(p), events_count(p), events_count_on(p, 0),
           events_count(p) - events_count_on(p, 0), events_port_vcpu(p));
}

static void print_finding(void)
{
    printf("EVT FUZZ-MISMATCH seed=%lu vcpu=%u op=%lu what=%s port=%u model=%ld xen=%ld\n",
           (unsigned long)run_seed, found.vcpu, (unsigned long)found.op, found.what,
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
            printf("EVT FUZZ-LAST vcpu=%u op=%lu %s(%u, %u) %s\n", v, (unsigned long)l->i, l->name,
                   l->a, l->b, answer);
        }
    }
}

/* ---- the model ---- */

/* get_free_port(): the lowest free port; past the table, a new bucket. */
static long m_get_port(struct fz *f)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = 1; p < end; p++ )
        if ( m[p].kind == K_FREE && m[p].owner == NO_OWNER )
            return p;
    f->grew = 1;                /* Xen allocates the bucket even if the op fails later */
    return end;
}

/* Learn d->valid_evtchns again: the first port status calls invalid. */
static void probe_valid(void)
{
    uint32_t p = __atomic_load_n(&valid, __ATOMIC_ACQUIRE), seen;

    for ( ; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        /* Ports past the old end are free in the model already (or just taken). */
        if ( HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == -XEN_EINVAL )
            break;
    }
    /* It only grows: keep the larger of what two vcpus probed. */
    seen = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);
    while ( p > seen && !__atomic_compare_exchange_n(&valid, &seen, p, 0, __ATOMIC_SEQ_CST,
                                                     __ATOMIC_SEQ_CST) )
        ;
}

/* A port Xen just gave us: free in the model, and nobody else's. */
static int claim(struct fz *f, struct fuzz_last_op *l, long want_port, uint32_t p)
{
    uint8_t none = NO_OWNER;

    if ( p >= EVTCHN_2L_NR_CHANNELS )
    {
        mismatch(f, "port-range", p, valid, p);
        return -1;
    }
    if ( nvcpus == 1 && p != want_port )
    {
        mismatch(f, "port", l->a, want_port, p);
        return -1;
    }
    if ( !__atomic_compare_exchange_n(&m[p].owner, &none, f->vcpu, 0, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST) || m[p].kind != K_FREE )
    {
        mismatch(f, "port-held", p, m[p].owner, f->vcpu);
        return -1;
    }
    if ( p >= __atomic_load_n(&valid, __ATOMIC_ACQUIRE) )
        f->grew = 1;
    f->nr_open++;
    m[p].born = f->op_index;
    return 0;
}

#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))

/* Has the port a place for its bits: always on 2-level; on FIFO, an array page. */
static int covered(uint32_t p)
{
    return !m_fifo || p < m_pages * WORDS_PER_PAGE;
}

/*
 * evtchn_2l_set_pending() or evtchn_fifo_set_pending(), then the notified
 * vcpu's upcall handler; the two ABIs agree but where FIFO has no word.
 */
static void m_set_pending(uint32_t p)
{
    if ( !covered(p) )
    {
        m[p].xpend = X_SET;
        return;
    }
    if ( m[p].pending )
        return;
    if ( m[p].masked )
        m[p].pending = 1;
    else
        m[p].count++;
}

/* The notified vcpu, as Xen has it, for the upcall handler. */
static void m_set_vcpu(uint32_t p, unsigned int vcpu)
{
    m[p].vcpu = vcpu;
    events_set_port_vcpu(p, vcpu);
}

/* evtchn_free(): pending cleared, back to vcpu 0; then nobody's. */
static void m_free(struct fz *f, uint32_t p)
{
    m[p].uncounted |= m[p].kind == K_CROSS;
    if ( m[p].kind == K_VIRQ )
        f->virq_port[m[p].virq] = 0;
    m[p].kind = K_FREE;
    m[p].pending = 0;
    m[p].vcpu = 0;
    f->nr_open--;
    __atomic_store_n(&m[p].owner, NO_OWNER, __ATOMIC_SEQ_CST);
}

/* ---- racing: shared ports ---- */

/* One channel in four a vcpu makes is shared, with several vcpus; by index, not a draw, so streams stay as they were. */
static int share_new(const struct fz *f)
{
    return nvcpus > 1 && f->op_index % 4 == 0;
}

/* From `was` to `state`, unless someone else changed the number since `was`. */
static int racy_move(uint32_t p, uint32_t *was, uint32_t state)
{
    return __atomic_compare_exchange_n(&racy[p], was, RACY_NEXT(*was, state), 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

static void share(uint32_t p)
{
    uint32_t was = __atomic_load_n(&racy[p], __ATOMIC_SEQ_CST);

    while ( !racy_move(p, &was, RACY_SHARED) )
        ;
}

/*
 * A port just closed, `was` its racy[] while it was ours (not RACY_NO: its
 * count already unknown, uncounted).  Once no racer is still sending on the
 * number (each says which, racing_on[], before it looks at racy[]: one of the
 * two sees the other's store), whoever binds the number next checks it
 * exactly again, counted from then on.  Until then it is still not checked: a
 * racer's send may yet land on the new binding.  If the number has changed
 * since `was` (shared again, or a drain of ours that has not ended was taken
 * over), it is someone else's to drain.
 */
static void unshare(uint32_t p, uint32_t was)
{
    if ( !racy_move(p, &was, RACY_DRAINING) )
        return;
    was = RACY_NEXT(was, RACY_DRAINING);
    for ( unsigned int v = 0; v < nvcpus; v++ )
        while ( __atomic_load_n(&racing_on[v], __ATOMIC_SEQ_CST) == p )
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    __atomic_store_n(&drained_at[p], __atomic_add_fetch(&drain_clock, 1, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
    racy_move(p, &was, RACY_NO);
}

/*
 * Could a racer have sent on number p since `since` (drain_clock then)?  If it
 * is shared or draining now, or its drain ended after then: a port Xen gave
 * us at that number in the meantime may have had a racer's send.
 */
static int raced_since(uint32_t p, uint64_t since)
{
    return racy_state(p) != RACY_NO || __atomic_load_n(&drained_at[p], __ATOMIC_SEQ_CST) > since;
}

/*
 * evtchn_fifo_init_control() of a domain on 2-level: setup_ports() keeps
 * each valid port's 2-level pending bit in its FIFO flag; until an array
 * page covers a port the guest sees neither bit.
 */
static void m_switch_to_fifo(unsigned int vcpu)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = 0; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        if ( p && p < end && m[p].pending )
            m[p].xpend = X_SET;
        m[p].masked_2l = m[p].masked;
        m[p].pending = m[p].masked = 0;
    }
    m_fifo = 1;
    m_pages = 0;
    m_cb[vcpu] = 1;
}

/*
 * add_page_to_event_array(): the page's words start at 0 (the guest zeroes
 * it), then every valid port it covers whose FIFO flag is set is raised,
 * whatever the port is now.  A flag left from before the run shows here.
 */
static void m_add_page(struct fz *f)
{
    uint32_t from = m_pages * WORDS_PER_PAGE, to = from + WORDS_PER_PAGE;
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    for ( uint32_t p = from; p < to && p < EVTCHN_2L_NR_CHANNELS; p++ )
        m[p].pending = m[p].masked = 0;
    m_pages++;
    for ( uint32_t p = from; p < to && p < end; p++ )
    {
        if ( racy_state(p) != RACY_NO )
        {
            m[p].xpend = X_UNKNOWN;     /* a racer's send may have set it */
            continue;
        }
        if ( m[p].xpend == X_UNKNOWN )
        {
            uint32_t seen = events_count(p);

            if ( seen != m[p].count && seen != m[p].count + 1 )
                mismatch(f, "upcalls", p, m[p].count, seen);
            m[p].xpend = seen != m[p].count ? X_SET : X_CLEAR;
        }
        if ( m[p].xpend == X_SET )
            m_set_pending(p);
    }
}

/* ---- checks ---- */

struct patience {
    uint64_t end;
    unsigned int yields;
};

static struct patience patience(void)
{
    return (struct patience){ .end = now_ns() + MS_TO_NS(UPCALL_WAIT_MS) };
}

/*
 * Yield once more, unless both UPCALL_WAIT_MS and MIN_YIELDS are over: with
 * more vcpus than host cores, a vcpu can be off its cpu for longer than the
 * time alone (4 vcpus on 2 cores: an IPI to itself counted "late" after 2 s
 * in which it hardly ran), and it runs again at each yield.
 */
static int wait_more(struct patience *w)
{
    if ( now_ns() >= w->end && w->yields >= MIN_YIELDS )
        return 0;
    w->yields++;
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    return 1;
}

/*
 * Upcalls to another vcpu arrive when it takes them; and with several vcpus
 * even our own may come a little late: when another vcpu's event sets the
 * same selector bit first, our send or unmask leaves the upcall to that
 * vcpu's vcpu_mark_events_pending() (evtchn_2l_set_pending(),
 * evtchn_2l_unmask()).  Wait that long, no longer.
 */
static uint32_t settled_count(struct fz *f, uint32_t p)
{
    struct patience w = patience();

    if ( (nvcpus == 1 && m[p].vcpu == f->vcpu) || racy_state(p) != RACY_NO || m[p].uncounted )
        return events_count(p);
    while ( events_count(p) < m[p].count && wait_more(&w) )
        ;
    return events_count(p);
}

static void check_port(struct fz *f, uint32_t p)
{
    uint32_t count;
    int pending = 0;

    if ( p >= EVTCHN_2L_NR_CHANNELS || p >= valid || m[p].kind == K_HARNESS )
        return;
    if ( m[p].kind == K_CROSS || racy_state(p) != RACY_NO || (m[p].uncounted && m[p].kind == K_FREE) )
    {
        /* The peer's events, or the racers': only our own mask bit is ours to know. */
        if ( m[p].kind != K_FREE && events_port_masked(p) != m[p].masked )
            mismatch(f, "masked", p, m[p].masked, events_port_masked(p));
        return;
    }
    if ( m[p].uncounted )
    {
        /*
         * A channel with the peer had the number before: count from here on.
         * An event this port's own binding raised is let arrive first.
         */
        struct patience w = patience();

        while ( !m[p].masked && events_port_pending(p, &pending) == 0 && pending && wait_more(&w) )
            ;
        /* Taken, but maybe not counted yet, by another vcpu's handler (not by ours: we are here). */
        while ( events_handling() > 0 && nvcpus > 1 && wait_more(&w) )
            ;
        m[p].count = events_count(p);
        events_port_pending(p, &pending);
        m[p].pending = pending;
        m[p].uncounted = 0;
        return;
    }
    if ( (count = settled_count(f, p)) != m[p].count )
        mismatch(f, "upcalls", p, m[p].count, count);
    events_port_pending(p, &pending);
    if ( pending != m[p].pending )
        mismatch(f, "pending", p, m[p].pending, pending);
    if ( events_port_masked(p) != m[p].masked )
        mismatch(f, "masked", p, m[p].masked, events_port_masked(p));
}

static const uint32_t stat_of[] = {
    [K_FREE] = EVTCHNSTAT_closed, [K_RESERVED] = EVTCHNSTAT_closed,
    [K_UNBOUND] = EVTCHNSTAT_unbound, [K_INTER] = EVTCHNSTAT_interdomain,
    [K_VIRQ] = EVTCHNSTAT_virq, [K_IPI] = EVTCHNSTAT_ipi,
    [K_HARNESS] = EVTCHNSTAT_interdomain, [K_CROSS] = EVTCHNSTAT_interdomain,
};

/* A port past the table when we looked: invalid, unless another vcpu has grown the table since. */
static void check_past_end(struct fz *f, uint32_t p, long rc)
{
    if ( rc != -XEN_EINVAL && (nvcpus == 1 || p >= EVTCHN_2L_NR_CHANNELS || rc) )
        mismatch(f, "status-rc", p, -XEN_EINVAL, rc);
}

/* evtchn_status(): what Xen should say of port p of ours. */
static void check_status(struct fz *f, uint32_t p, long rc, const struct evtchn_status *st)
{
    const struct mport *mp = &m[p < EVTCHN_2L_NR_CHANNELS ? p : 0];

    if ( p >= valid )
    {
        check_past_end(f, p, rc);
        return;
    }
    if ( rc )
        mismatch(f, "status-rc", p, 0, rc);
    else if ( mp->kind == K_CROSS )
    {
        /* Unbound for the peer, or bound by it: which, is the peer's doing. */
        if ( st->status != EVTCHNSTAT_unbound && st->status != EVTCHNSTAT_interdomain )
            mismatch(f, "status", p, EVTCHNSTAT_interdomain, st->status);
        else if ( st->vcpu != mp->vcpu )
            mismatch(f, "status-vcpu", p, mp->vcpu, st->vcpu);
        else if ( (st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom : st->u.interdomain.dom) != peer )
            mismatch(f, "status-cross-dom", p, peer, st->status == EVTCHNSTAT_unbound ? st->u.unbound.dom
                                                                                  : st->u.interdomain.dom);
    }
    else if ( mp->kind == K_HARNESS )
    {
        if ( st->status != EVTCHNSTAT_interdomain && st->status != EVTCHNSTAT_ipi )
            mismatch(f, "status", p, EVTCHNSTAT_interdomain, st->status);
    }
    else if ( st->status != stat_of[mp->kind] )
        mismatch(f, "status", p, stat_of[mp->kind], st->status);
    else if ( st->vcpu != mp->vcpu )
        mismatch(f, "status-vcpu", p, mp->vcpu, st->vcpu);
    else if ( mp->kind == K_UNBOUND && st->u.unbound.dom != mp->rdom )
        mismatch(f, "status-unbound-dom", p, mp->rdom, st->u.unbound.dom);
    else if ( mp->kind == K_INTER && st->u.interdomain.port != mp->rport )
        mismatch(f, "status-interdomain-port", p, mp->rport, st->u.interdomain.port);
    else if ( mp->kind == K_INTER && st->u.interdomain.dom != mp->rdom )
        mismatch(f, "status-interdomain-dom", p, mp->rdom, st->u.interdomain.dom);
    else if ( mp->kind == K_VIRQ && st->u.virq != mp->virq )
        mismatch(f, "status-virq", p, mp->virq, st->u.virq);
}

/* Every port this vcpu can vouch for: its own (all, once every vcpu has stopped). */
/*
 * Pages nothing writes to after fuzz_run() fills them: a byte that changes is a write
 * where none belongs (Xen's, as nothing of ours touches them), named by its offset.
 */
#define GUARD_PAGES 8
static uint8_t guard[GUARD_PAGES * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static void guard_check(struct fz *f)
{
    long at = guard_find(guard, sizeof(guard));
    uint8_t seen;

    if ( at >= 0 )
        mismatch(f, "guard-page-write", at, guard_byte(at), guard[at]);
    else if ( (at = fifo_guard_find(&seen)) >= 0 )
        mismatch(f, "guard-page-write-fifo", at, guard_byte(at % PAGE_SIZE), seen);
}

static void sweep(struct fz *f, int all)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    guard_check(f);

    for ( uint32_t p = 0; p <= end && p < EVTCHN_2L_NR_CHANNELS && !stop; p++ )
    {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };

        if ( !all && !mine(f, p) && p != end )
            continue;
        if ( p == end && !mine(f, p) )
        {
            /* Not `valid` now: the table may have grown, and the port be another vcpu's. */
            check_past_end(f, p, HYPERVISOR_event_channel_op(EVTCHNOP_status, &st));
            continue;
        }
        check_status(f, p, HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), &st);
        check_port(f, p);
    }
}

/* The op's return value. */
static void check_rc(struct fz *f, struct fuzz_last_op *l, long want, long got)
{
    l->want = want;
    l->got = got;
    if ( want != got )
        mismatch(f, "rc", l->a, want, got);
}

/* ---- the operations: each picks its arguments, then runs with them ---- */

static void pick_port_arg(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f);
    *b = 0;
}

static void pick_alloc_unbound(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = below(f, 8) ? DOMID_SELF : pick_dom(f);
    *b = below(f, 3) ? DOMID_SELF : pick_dom(f);
}

static void do_alloc_unbound(struct fz *f, uint32_t a, uint32_t b)
{
    domid_t dom = a, remote = b;
    struct evtchn_alloc_unbound o = { .dom = dom, .remote_dom = remote };
    struct fuzz_last_op *l = record(f, "alloc_unbound", dom, remote);
    long want = 0, port = 0;

    if ( dom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else if ( dom != DOMID_SELF && dom != self_domid )
        want = -XEN_EPERM;      /* xsm_evtchn_unbound(XSM_TARGET): another's table */
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = peer != DOMID_INVALID && remote == peer ? K_CROSS : K_UNBOUND;
    f->cross += m[o.port].kind == K_CROSS;
    if ( m[o.port].kind == K_UNBOUND && share_new(f) )
        share(o.port);
    m[o.port].rdom = remote == DOMID_SELF ? self_domid : remote;
}

static void pick_bind_interdomain(struct fz *f, uint32_t *a, uint32_t *b)
{
    if ( peer != DOMID_INVALID && below(f, 3) == 0 )
    {
        /* One of the peer's ports, by guess: it offers some for us (alloc_unbound). */
        *a = peer;
        *b = below(f, 128);
        return;
    }
    *a = below(f, 6) ? DOMID_SELF : (below(f, 2) ? self_domid : DOMID_INVALID);
    *b = pick_port(f);
}

/*
 * To the peer's port: whether it is unbound for us right now is the peer's
 * business (and its other vcpus'), so Xen may answer 0 or EINVAL; a port it
 * gives us must still be free and nobody's, as every other.
 */
static void bind_cross(struct fz *f, struct fuzz_last_op *l, struct evtchn_bind_interdomain *o)
{
    long port = m_get_port(f);

    l->want = 0;
    l->got = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, o);
    if ( l->got == -XEN_EINVAL )
        return;
    if ( l->got )
    {
        mismatch(f, "rc", l->b, 0, l->got);
        return;
    }
    if ( claim(f, l, port, o->local_port) )
        return;
    m[o->local_port].kind = K_CROSS;
    f->cross++;
    m[o->local_port].rdom = peer;
    m[o->local_port].rport = o->remote_port;
}

static void do_bind_interdomain(struct fz *f, uint32_t a, uint32_t rport)
{
    domid_t rdom = a;
    struct evtchn_bind_interdomain o = { .remote_dom = rdom, .remote_port = rport };
    struct fuzz_last_op *l = record(f, "bind_interdomain", rdom, rport);
    long want = 0, lport = -1;
    uint64_t since = __atomic_load_n(&drain_clock, __ATOMIC_SEQ_CST);

    if ( peer != DOMID_INVALID && rdom == peer )
    {
        bind_cross(f, l, &o);
        return;
    }
    if ( rdom == DOMID_INVALID )
        want = -XEN_ESRCH;
    else
    {
        lport = m_get_port(f);
        if ( rport >= valid )
            want = -XEN_EINVAL;     /* a bucket grown for lport holds no unbound port */
        else if ( m[rport].kind != K_UNBOUND || m[rport].rdom != self_domid )
            want = -XEN_EINVAL;
    }
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &o));
    if ( want || l->got || claim(f, l, lport, o.local_port) )
        return;
    m[o.local_port].kind = K_INTER;
    m[o.local_port].rdom = self_domid;
    m[o.local_port].rport = rport;
    m[rport].kind = K_INTER;
    m[rport].rdom = self_domid;
    m[rport].rport = o.local_port;
    if ( raced_since(rport, since) || raced_since(o.local_port, since) || share_new(f) )
    {
        /*
         * A racer's send on either number (shared, draining, or drained since
         * the bind began: one still on the number's previous channel) may
         * already have raised the other end.  Shared before either is checked.
         */
        share(o.local_port);
        share(rport);
    }
    /* "conservatively always setting a notification": a fresh port notifies vcpu 0 */
    m_set_pending(o.local_port);
    check_port(f, rport);
    check_port(f, o.local_port);
}

/* XENVER_version of the Xen under test: (major << 16) | minor. */
static unsigned long xen_ver;

/* virq_is_global(): all but TIMER, DEBUG, XENOPROF and XENPMU (x86: arch ones too). */
static int virq_global(uint32_t virq)
{
    return virq != VIRQ_TIMER && virq != VIRQ_DEBUG && virq != VIRQ_XENOPROF &&
           virq != VIRQ_XENPMU;
}

static void pick_bind_virq(struct fz *f, uint32_t *a, uint32_t *b)
{
    static const uint32_t virqs[] = { VIRQ_TIMER, VIRQ_DEBUG, VIRQ_CONSOLE, VIRQ_DOM_EXC,
                                      VIRQ_XENOPROF, VIRQ_XENPMU, VIRQ_ARCH_0,
                                      NR_VIRQS - 1, NR_VIRQS, 0xffffffffu };

    *a = virqs[below(f, ARRAY_SIZE(virqs))];
    *b = pick_vcpu(f);
    /* Each vcpu's table is its own: a vcpu binds per-vcpu virqs on itself, vcpu 0 the global ones. */
    if ( *b < nvcpus && *b != f->vcpu )
        *b = f->vcpu;
}

static void do_bind_virq(struct fz *f, uint32_t virq, uint32_t vcpu)
{
    struct evtchn_bind_virq o = { .virq = virq, .vcpu = vcpu };
    struct fuzz_last_op *l = record(f, "bind_virq", virq, vcpu);
    long want = 0, port = -1;

    if ( (int)virq < 0 || virq >= NR_VIRQS )
        want = -XEN_EINVAL;
    else if ( virq_global(virq) && vcpu != 0 )
        want = -XEN_EINVAL;
    else if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;
    else if ( virq_global(virq) && xen_ver >= (4ul << 16 | 21) )
        want = -XEN_EBUSY;      /* 4.21+ (eba922abdb): only the handler, dom0 here, binds it */
    else if ( f->virq_port[virq] )
        want = -XEN_EEXIST;
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = K_VIRQ;
    m[o.port].virq = virq;
    m_set_vcpu(o.port, vcpu);
    f->virq_port[virq] = o.port;
}

static void pick_bind_ipi(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_vcpu(f);
    *b = 0;
}

static void do_bind_ipi(struct fz *f, uint32_t vcpu, uint32_t b)
{
    struct evtchn_bind_ipi o = { .vcpu = vcpu };
    struct fuzz_last_op *l = record(f, "bind_ipi", vcpu, 0);
    long want = 0, port = -1;

    (void)b;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;
    else
        port = m_get_port(f);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &o));
    if ( want || l->got || claim(f, l, port, o.port) )
        return;
    m[o.port].kind = K_IPI;
    m_set_vcpu(o.port, vcpu);   /* before any send: its upcall handler must take it */
    if ( share_new(f) )
        share(o.port);
}

static void do_close(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_close o = { .port = p };
    struct fuzz_last_op *l = record(f, "close", p, b);
    long want = 0;
    int other = -1;             /* the other end, when it is ours too */
    uint32_t was = p < EVTCHN_2L_NR_CHANNELS ? __atomic_load_n(&racy[p], __ATOMIC_SEQ_CST) : RACY_NO;

    if ( p >= valid || m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        want = -XEN_EINVAL;
    else
    {
        settled_count(f, p);    /* what is on its way to another vcpu arrives first */
        if ( m[p].kind == K_INTER )
            other = m[p].rport;
        /*
         * Let go of it before Xen does: another vcpu may get the number from
         * Xen the moment the close is done.
         */
        events_set_port_vcpu(p, 0);
        m[p].uncounted |= RACY_STATE(was) != RACY_NO;  /* before another vcpu can bind the number */
        m_free(f, p);
    }
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_close, &o));
    if ( !want && RACY_STATE(was) != RACY_NO )
        unshare(p, was);
    if ( other >= 0 )
    {
        m[other].kind = K_UNBOUND;
        m[other].rdom = self_domid;
        check_port(f, other);
    }
}

static void do_send(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_send o = { .port = p };
    struct fuzz_last_op *l = record(f, "send", p, b);
    long want = 0;
    int target = -1;

    if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_INTER )
        target = m[p].rport;
    else if ( m[p].kind == K_IPI )
        target = p;
    else if ( m[p].kind == K_CROSS )
        ;                       /* to the peer, or dropped: 0 either way */
    else if ( m[p].kind != K_UNBOUND )
        want = -XEN_EINVAL;     /* closed, reserved, virq: "Only valid for ..." */
    /*
     * An upcall still on its way to another vcpu arrives first: while its
     * pending bit is set, Xen folds our send into it (evtchn_2l_set_pending()'s
     * test_and_set_bit) and one upcall comes where the model counts two
     * (soak seed 5 and seed 209: a bind's own notification to vcpu 0, sent on
     * by vcpu 1 a few operations later while vcpu 0 was off its cpu).
     */
    if ( target >= 0 )
        settled_count(f, target);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_send, &o));
    if ( target >= 0 && !l->got )
    {
        m_set_pending(target);
        check_port(f, target);
    }
}

/* A shared port, mostly another vcpu's; 0 when none turns up. */
static void pick_racing(struct fz *f, uint32_t *a, uint32_t *b)
{
    uint32_t end = __atomic_load_n(&valid, __ATOMIC_ACQUIRE);

    *a = *b = 0;
    for ( unsigned int tries = 0; tries < 8 && end > 1; tries++ )
    {
        uint32_t p = 1 + below(f, end - 1);

        if ( RACY_STATE(__atomic_load_n(&racy[p], __ATOMIC_RELAXED)) == RACY_SHARED )
        {
            *a = p;
            return;
        }
    }
}

/*
 * A send on a shared port, racing whatever its owner is doing to it: the
 * channel may be interdomain, IPI or unbound (0) or closed or a virq (EINVAL)
 * by the time Xen looks.  Nothing else is ours to check.
 */
static void do_send_racing(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_send o = { .port = p };
    struct fuzz_last_op *l = record(f, "send_racing", p, b);

    __atomic_store_n(&racing_on[f->vcpu], p, __ATOMIC_SEQ_CST);
    if ( p && racy_state(p) == RACY_SHARED )
    {
        l->got = HYPERVISOR_event_channel_op(EVTCHNOP_send, &o);
        if ( l->got != 0 && l->got != -XEN_EINVAL )
            mismatch(f, "rc", p, 0, l->got);
        f->raced += !l->got;
    }
    else
        l->got = FUZZ_NOT_ISSUED;   /* unshared meanwhile (or none found): not sent */
    __atomic_store_n(&racing_on[f->vcpu], 0, __ATOMIC_SEQ_CST);
}

static void pick_status(struct fz *f, uint32_t *a, uint32_t *b)
{
    *b = pick_port(f);
    *a = below(f, 10) ? (below(f, 2) ? DOMID_SELF : self_domid) : DOMID_INVALID;
}

static void do_status(struct fz *f, uint32_t a, uint32_t p)
{
    domid_t dom = a;
    struct evtchn_status st = { .dom = dom, .port = p };
    struct fuzz_last_op *l = record(f, "status", dom, p);
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

    l->got = rc;
    if ( dom == DOMID_INVALID )
        check_rc(f, l, -XEN_ESRCH, rc);
    else
        check_status(f, p, rc, &st);
}

/*
 * As Linux moves a port: masked while it moves, so a pending event is not
 * left in the old vcpu's selector; the unmask raises it on the new vcpu.
 */
static void pick_bind_vcpu(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f);
    *b = pick_vcpu(f);
}

static void do_bind_vcpu(struct fz *f, uint32_t p, uint32_t vcpu)
{
    struct evtchn_bind_vcpu o = { .port = p, .vcpu = vcpu };
    struct evtchn_unmask u = { .port = p };
    struct fuzz_last_op *l = record(f, "bind_vcpu", p, vcpu);
    int movable = mine(f, p) && p < valid && vcpu < nvcpus && m[p].kind != K_HARNESS;
    long want = 0;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;     /* checked before the port */
    else if ( p >= valid )
        want = -XEN_EINVAL;
    else if ( m[p].kind == K_VIRQ && !virq_global(m[p].virq) )
        want = -XEN_EINVAL;
    else if ( m[p].kind != K_VIRQ && m[p].kind != K_UNBOUND && m[p].kind != K_INTER && m[p].kind != K_CROSS )
        want = -XEN_EINVAL;
    if ( movable && !m[p].masked )
        events_port_mask(p);
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &o));
    if ( !want && !l->got )
        m_set_vcpu(p, vcpu);
    if ( movable && !m[p].masked )  /* not pending either: every send was taken */
        HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
    if ( movable )
        check_port(f, p);
}

static void do_unmask(struct fz *f, uint32_t p, uint32_t b)
{
    struct evtchn_unmask o = { .port = p };
    struct fuzz_last_op *l = record(f, "unmask", p, b);

    check_rc(f, l, p >= valid ? -XEN_EINVAL : 0,
             HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &o));
    if ( p >= valid || l->got )
        return;
    /* evtchn_port_unmask(): nothing for a port that is not evtchn_usable(). */
    if ( m[p].kind == K_FREE || m[p].kind == K_RESERVED || !covered(p) )
        return;
    if ( m[p].kind == K_CROSS || racy_state(p) != RACY_NO )
    {
        m[p].masked = 0;        /* whether it was pending, and so raised now, is the peer's or a racer's doing */
        return;
    }
    /* evtchn_2l_unmask(), evtchn_fifo_unmask(): only a port that was masked and is pending is delivered. */
    if ( m[p].masked && m[p].pending )
    {
        m[p].pending = 0;
        m[p].count++;
    }
    m[p].masked = 0;
    check_port(f, p);
}

/* The guest's own half: the mask bit in shared_info (no hypercall). */
static void pick_mask(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_port(f) % EVTCHN_2L_NR_CHANNELS;
    *b = 0;
}

static void do_mask(struct fz *f, uint32_t p, uint32_t b)
{
    struct fuzz_last_op *l = record(f, "mask", p, b);

    l->got = FUZZ_NOT_ISSUED;   /* the guest's own bit: no hypercall */
    if ( m[p].kind == K_HARNESS || (nvcpus > 1 && !mine(f, p) && p) )
        return;
    /*
     * An upcall still on its way to another vcpu arrives first: masked under
     * it, the event would stay pending there instead (seeds 202 and 255: a
     * bind's own notification to vcpu 0, masked by vcpu 1 just after).
     */
    settled_count(f, p);
    l->got = events_port_mask(p);
    if ( covered(p) )
        m[p].masked = 1;
    check_port(f, p);
}

/* The ports the harness holds: theirs, never masked, notified where they are. */
static evtchn_port_t kick_port[GUEST_MAX_VCPUS];

static void adopt_harness_ports(void)
{
    evtchn_port_t ports[2 + GUEST_MAX_VCPUS] = { console_port(), xs_port() };

    for ( unsigned int v = 1; v < nvcpus; v++ )
        ports[1 + v] = kick_port[v];
    for ( unsigned int i = 0; i < ARRAY_SIZE(ports); i++ )
    {
        struct evtchn_unmask u = { .port = ports[i] };

        if ( !ports[i] )
            continue;
        HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
        m[ports[i]] = (struct mport){ .kind = K_HARNESS, .owner = NO_OWNER };
    }
}

/* With one vcpu only: a reset closes every vcpu's ports at once. */
static void pick_reset(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = below(f, 4) ? DOMID_SELF : (below(f, 2) ? 0 : DOMID_INVALID);
    *b = 0;
}

static void do_reset(struct fz *f, uint32_t a, uint32_t b)
{
    domid_t dom = a;
    struct evtchn_reset o = { .dom = dom };
    struct fuzz_last_op *l = record(f, "reset", dom, b);

    if ( dom != DOMID_SELF )
    {
        /* rcu_lock_domain_by_any_id(), then xsm_evtchn_reset(XSM_TARGET) */
        check_rc(f, l, dom == DOMID_INVALID ? -XEN_ESRCH : -XEN_EPERM,
                 HYPERVISOR_event_channel_op(EVTCHNOP_reset, &o));
        return;
    }
    check_rc(f, l, 0, reset_self());
    /*
     * evtchn_reset(): evtchn_close() of every port; the mask bits stay, and
     * a FIFO domain is back on 2-level with shared_info's.  The guest clears
     * every pending bit; Xen's FIFO flags stay.
     */
    for ( uint32_t p = 1; p < EVTCHN_2L_NR_CHANNELS; p++ )
        m[p] = (struct mport){ .kind = K_FREE, .owner = NO_OWNER, .count = m[p].count,
                               .xpend = m[p].xpend,
                               .uncounted = m[p].uncounted || m[p].kind == K_CROSS,
                               .masked = m_fifo ? m[p].masked_2l : m[p].masked };
    f->switches += m_fifo;
    m_fifo = 0;
    m_pages = 0;
    memset(m_cb, 0, sizeof(m_cb));
    memset(f->virq_port, 0, sizeof(f->virq_port));
    f->nr_open = 0;
    adopt_harness_ports();
}

/* ---- the FIFO ABI: switching to it, its array, priorities ---- */

/* init_control's (gfn, offset) choices: good ones, then each check's edge. */
static const struct { enum fifo_gfn_kind gfn; uint32_t offset; } cb_at[] = {
    { FIFO_GFN_PAGE, 0 }, { FIFO_GFN_PAGE, 8 },
    { FIFO_GFN_PAGE, PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) },
    { FIFO_GFN_PAGE, 4 }, { FIFO_GFN_PAGE, PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) + 8 },
    { FIFO_GFN_PAGE, 0xffffffffu }, { FIFO_GFN_BAD, 0 },
};
#define CB_GOOD 3               /* the first 3 of cb_at[] pass every check */

/*
 * With several vcpus the domain keeps its ABI: the model's bits could not
 * follow a switch under the others' feet.  So they only try what fails.
 */
static void pick_init_control(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = pick_vcpu(f);
    *b = below(f, ARRAY_SIZE(cb_at));
    /* One vcpu: a switch about as rare as the reset back, so each ABI has half the run. */
    if ( !m_fifo && *b < CB_GOOD && (nvcpus > 1 || peer != DOMID_INVALID || below(f, 16)) )
        *b = CB_GOOD + below(f, ARRAY_SIZE(cb_at) - CB_GOOD);
}

static void do_init_control(struct fz *f, uint32_t vcpu, uint32_t at)
{
    uint32_t offset = cb_at[at].offset;
    struct fuzz_last_op *l = record(f, "init_control", vcpu, at);
    long want = 0;

    if ( vcpu >= nvcpus )
        want = -XEN_ENOENT;     /* domain_vcpu() == NULL, checked first */
    else if ( offset > PAGE_SIZE - sizeof(evtchn_fifo_control_block_t) || (offset & 7) )
        want = -XEN_EINVAL;     /* "Must not cross page boundary", "Must be 8-bytes aligned" */
    else if ( m_fifo && m_cb[vcpu] )
        want = -XEN_EINVAL;     /* map_control_block(): a block already */
    else if ( cb_at[at].gfn == FIFO_GFN_BAD )
        want = -XEN_EINVAL;     /* map_guest_page(); on 2-level evtchn_fifo_destroy() undoes all */
    check_rc(f, l, want, fifo_init_control(cb_at[at].gfn, offset, vcpu));
    if ( want || l->got )
        return;
    if ( m_fifo )
        m_cb[vcpu] = 1;
    else
    {
        m_switch_to_fifo(vcpu);
        f->switches++;
    }
}

/* Another vcpu's page would race fifo_expand_array()'s slot: vcpu 0 adds pages, all try bad ones. */
static void pick_expand_array(struct fz *f, uint32_t *a, uint32_t *b)
{
    *a = f->vcpu == 0 && below(f, 2) ? FIFO_GFN_PAGE : FIFO_GFN_BAD;
    *b = 0;
}

static void do_expand_array(struct fz *f, uint32_t gfn, uint32_t b)
{
    struct fuzz_last_op *l = record(f, "expand_array", gfn, b);
    long want = 0;

    if ( gfn == FIFO_GFN_PAGE && m_pages >= FIFO_ARRAY_PAGES )
    {
        l->got = FUZZ_NOT_ISSUED;   /* the guest has no page left (FIFO_NO_PAGE) */
        return;
    }
    if ( !m_fifo )
        want = -XEN_EOPNOTSUPP; /* evtchn_fifo_expand_array(): !d->evtchn_fifo */
    else if ( gfn == FIFO_GFN_BAD )
        want = -XEN_EINVAL;     /* map_guest_page() */
    check_rc(f, l, want, fifo_expand_array(gfn));
    if ( !want && !l->got )
        m_add_page(f);
}

static void pick_set_priority(struct fz *f, uint32_t *a, uint32_t *b)
{
    static const uint32_t prio[] = { EVTCHN_FIFO_PRIORITY_MAX, EVTCHN_FIFO_PRIORITY_DEFAULT,
                                     EVTCHN_FIFO_PRIORITY_MIN, EVTCHN_FIFO_PRIORITY_MIN + 1,
                                     0xffffffffu };

    *a = pick_port(f);
    *b = below(f, 2) ? below(f, EVTCHN_FIFO_MAX_QUEUES) : prio[below(f, ARRAY_SIZE(prio))];
}

/* Which queue a later event goes to: no state the guest can read back, only its answer. */
static void do_set_priority(struct fz *f, uint32_t p, uint32_t prio)
{
    struct evtchn_set_priority o = { .port = p, .priority = prio };
    struct fuzz_last_op *l = record(f, "set_priority", p, prio);
    long want = 0;

    if ( p >= valid )
        want = -XEN_EINVAL;     /* evtchn_set_priority(): _evtchn_from_port() == NULL */
    else if ( !m_fifo )
        want = -XEN_ENOSYS;     /* evtchn_port_set_priority(): 2-level has none */
    else if ( m[p].kind == K_FREE || m[p].kind == K_RESERVED )
        want = -XEN_EACCES;     /* evtchn_port_set_priority(): !evtchn_usable() */
    else if ( prio > EVTCHN_FIFO_PRIORITY_MIN )
        want = -XEN_EINVAL;     /* evtchn_fifo_set_priority() */
    check_rc(f, l, want, HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, &o));
}

/* ---- the run ---- */

enum fuzz_op {
    F_ALLOC_UNBOUND, F_BIND_INTERDOMAIN, F_BIND_VIRQ, F_BIND_IPI, F_CLOSE, F_SEND,
    F_STATUS, F_BIND_VCPU, F_UNMASK, F_MASK, F_RESET, F_INIT_CONTROL, F_EXPAND_ARRAY,
    F_SET_PRIORITY, F_SEND_RACING,
};

static const struct fuzz_op_def {
    void (*pick)(struct fz *f, uint32_t *a, uint32_t *b);
    void (*run)(struct fz *f, uint32_t a, uint32_t b);
} op_defs[] = {
    [F_ALLOC_UNBOUND] = { pick_alloc_unbound, do_alloc_unbound },
    [F_BIND_INTERDOMAIN] = { pick_bind_interdomain, do_bind_interdomain },
    [F_BIND_VIRQ] = { pick_bind_virq, do_bind_virq },
    [F_BIND_IPI] = { pick_bind_ipi, do_bind_ipi },
    [F_CLOSE] = { pick_port_arg, do_close },
    [F_SEND] = { pick_port_arg, do_send },
    [F_STATUS] = { pick_status, do_status },
    [F_BIND_VCPU] = { pick_bind_vcpu, do_bind_vcpu },
    [F_UNMASK] = { pick_port_arg, do_unmask },
    [F_MASK] = { pick_mask, do_mask },
    [F_RESET] = { pick_reset, do_reset },
    [F_INIT_CONTROL] = { pick_init_control, do_init_control },
    [F_EXPAND_ARRAY] = { pick_expand_array, do_expand_array },
    [F_SET_PRIORITY] = { pick_set_priority, do_set_priority },
    [F_SEND_RACING] = { pick_racing, do_send_racing },
};

/* How often each is drawn. */
static const uint8_t weighted[] = {
    F_ALLOC_UNBOUND, F_ALLOC_UNBOUND, F_ALLOC_UNBOUND,
    F_BIND_INTERDOMAIN, F_BIND_INTERDOMAIN, F_BIND_INTERDOMAIN,
    F_BIND_VIRQ, F_BIND_IPI, F_BIND_IPI,
    F_CLOSE, F_CLOSE, F_CLOSE,
    F_SEND, F_SEND, F_SEND, F_SEND,
    F_STATUS, F_STATUS,
    F_BIND_VCPU,
    F_UNMASK, F_UNMASK,
    F_MASK, F_MASK,
    F_INIT_CONTROL, F_EXPAND_ARRAY, F_SET_PRIORITY, F_SET_PRIORITY,
    /* Last, and drawn only with several vcpus: one vcpu's streams are as they were. */
    F_SEND_RACING, F_SEND_RACING, F_SEND_RACING,
};
#define RACING_WEIGHT 3

/*
 * With one vcpu the run is exact and its operations are kept, so that a
 * finding can be shrunk to the few that still make it (shrink()).
 */
#define LOG_MAX 200000
static struct logged {
    uint8_t op;
    uint32_t a, b;
} oplog[LOG_MAX];

static void run_op(struct fz *f, enum fuzz_op op)
{
    uint32_t a, b;

    op_defs[op].pick(f, &a, &b);
    if ( nvcpus == 1 && f->op_index < LOG_MAX )
        oplog[f->op_index] = (struct logged){ .op = op, .a = a, .b = b };
    op_defs[op].run(f, a, b);
}

/*
 * A fuzz step is one long step: on a busy host it can run well past its case's
 * budget, and the harness tells a slow guest from a hung one by its lines.
 */
static uint64_t beat_at;

static void beat(const char *what, uint64_t done)
{
    uint64_t now = now_ns();

    if ( now < beat_at )
        return;
    printf("EVT FUZZ-PROGRESS %s=%lu\n", what, (unsigned long)done);
    beat_at = now + MS_TO_NS(BEAT_MS);
}

static void fuzz_vcpu(unsigned int vcpu, void *arg)
{
    struct fz *f = &fz[vcpu];
    unsigned int max_open = MAX_OPEN / nvcpus;
    unsigned int draws = ARRAY_SIZE(weighted) - (nvcpus == 1 ? RACING_WEIGHT : 0);

    (void)arg;
    for ( ; f->op_index < f->nops && !__atomic_load_n(&stop, __ATOMIC_RELAXED); f->op_index++ )
    {
        f->grew = 0;
        f->fifo_ops += m_fifo;
        if ( nvcpus == 1 && below(f, 1000) == 0 )
            run_op(f, F_RESET);
        else if ( f->nr_open >= max_open )
            run_op(f, F_CLOSE);
        else
            run_op(f, weighted[below(f, draws)]);
        if ( f->grew )
            probe_valid();
        if ( f->op_index % SWEEP_EVERY == SWEEP_EVERY - 1 )
        {
            sweep(f, 0);
            if ( vcpu == 0 )
                beat("ops", f->op_index + 1);
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

/* Each port's upcalls before the run: a case file counts from its start. */
static uint32_t count0[EVTCHN_2L_NR_CHANNELS];

static void model_init(void)
{
    memset(m, 0, sizeof(m));
    valid = 0;
    probe_valid();
    m_fifo = fifo_active();
    m_pages = fifo_nr_pages();
    for ( unsigned int v = 0; v < GUEST_MAX_VCPUS; v++ )
        m_cb[v] = m_fifo && v < nvcpus;     /* fifo_init() set up every vcpu */
    for ( uint32_t p = 0; p < EVTCHN_2L_NR_CHANNELS; p++ )
    {
        m[p].owner = NO_OWNER;
        m[p].masked = events_port_masked(p);
        m[p].masked_2l = m_fifo ? evtchn_2l.is_masked(p) : 0;
        m[p].count = count0[p] = events_count(p);
        /* Buckets made from here on start zeroed (alloc_evtchn_bucket()). */
        m[p].xpend = p < valid ? X_UNKNOWN : X_CLEAR;
    }
    m[0].kind = K_RESERVED;     /* evtchn_init() */
    adopt_harness_ports();
}

/* ---- shrinking a finding (one vcpu) ---- */

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
        op_defs[o->op].run(f, o->a, o->b);
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
static size_t shrink(size_t n, const char *what)
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

            beat("shrunk-to", n);
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

/* An argument as a case file writes it. */
static const char *dom_word(uint32_t dom, char *buf, size_t size)
{
    if ( dom == DOMID_SELF )
        return "self";
    if ( dom == self_domid )
        return "@A";
    snprintf(buf, size, "%u", dom);
    return buf;
}

static const char *const case_op[] = {
    [F_ALLOC_UNBOUND] = "alloc_unbound", [F_BIND_INTERDOMAIN] = "bind_interdomain",
    [F_BIND_VIRQ] = "bind_virq", [F_BIND_IPI] = "bind_ipi", [F_CLOSE] = "close",
    [F_SEND] = "send", [F_STATUS] = "status", [F_BIND_VCPU] = "bind_vcpu",
    [F_UNMASK] = "unmask", [F_MASK] = "mask", [F_RESET] = "reset",
    [F_INIT_CONTROL] = "init_control", [F_EXPAND_ARRAY] = "expand_array",
    [F_SET_PRIORITY] = "set_priority",
};

static const char *const gfn_word[] = { [FIFO_GFN_PAGE] = "page", [FIFO_GFN_BAD] = "bad" };

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
        printf("EVT FUZZ-STEP A count %u -> ok %ld\n", port, found.model - (long)count0[port]);
    else if ( !strcmp(found.what, "pending") )
        printf("EVT FUZZ-STEP A pending %u -> ok %ld\n", port, found.model);
    else if ( !strcmp(found.what, "status") && k >= 0 )
        printf("EVT FUZZ-STEP A status self %u -> ok %s\n", port, script_kinds[k].name);
    for ( unsigned int i = 0; i < ARRAY_SIZE(fields); i++ )
        if ( !strcmp(found.what, fields[i][0]) && k >= 0 )
            printf("EVT FUZZ-STEP A status self %u -> ok %s %s=%ld\n", port, script_kinds[k].name,
                   fields[i][1], found.model);
}

/* The shrunk operations, once more, each as a step with the model's expectation. */
static void print_steps(size_t n, const char *what)
{
    char d1[16], d2[16], want[32];

    replay(cur, n, what);       /* leaves each op's expected answer in wants[] */
    if ( start_fifo )
        printf("EVT FUZZ-STEP A fifo_init -> ok\n");
    for ( size_t i = 0; i < n; i++ )
    {
        const struct logged *o = &oplog[cur[i]];
        long rc = wants[i];

        if ( rc )
            script_fmt_rc(want, sizeof(want), rc);
        else
            snprintf(want, sizeof(want), "ok");
        switch ( o->op )
        {
        case F_ALLOC_UNBOUND:
        case F_BIND_INTERDOMAIN:
        case F_STATUS:
        case F_RESET:
            printf("EVT FUZZ-STEP A %s %s", case_op[o->op], dom_word(o->a, d1, sizeof(d1)));
            if ( o->op == F_ALLOC_UNBOUND )
                printf(" %s", dom_word(o->b, d2, sizeof(d2)));
            else if ( o->op != F_RESET )
                printf(" %u", o->b);
            break;
        case F_BIND_VIRQ:
        case F_BIND_VCPU:
        case F_SET_PRIORITY:
            printf("EVT FUZZ-STEP A %s %u %u", case_op[o->op], o->a, o->b);
            break;
        case F_INIT_CONTROL:
            printf("EVT FUZZ-STEP A init_control %s %u %u", gfn_word[cb_at[o->b].gfn],
                   cb_at[o->b].offset, o->a);
            break;
        case F_EXPAND_ARRAY:
            printf("EVT FUZZ-STEP A expand_array %s", gfn_word[o->a]);
            break;
        default:
            printf("EVT FUZZ-STEP A %s %u", case_op[o->op], o->a);
        }
        if ( i == n - 1 && !strcmp(what, "port") )
            snprintf(want, sizeof(want), "ok %ld", found.model);   /* the port it should have been */
        printf(" -> %s\n", want);
    }
    print_check(found.port);
}

void fuzz_run(uint64_t seed, uint64_t nops, domid_t with, long (*reset)(void), struct fuzz_report *out)
{
    uint64_t start, ops = 0, fifo_ops = 0, switches = 0, cross = 0, raced = 0;
    unsigned int open = 0;
    struct fz *f0 = &fz[0];

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
    printf("EVT FUZZ-RING seed=%lu vcpus=%u mfns=", (unsigned long)seed, nvcpus);
    for ( unsigned int v = 0; v < nvcpus; v++ )
        printf("%s%lx", v ? "," : "", (unsigned long)page_gfn(&ring[v]));
    printf("\n");
    bind_kick_ports();
    guard_fill(guard, sizeof(guard));
    fifo_guard_fill();
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

        printf("EVT FUZZ-SHRUNK seed=%lu from=%lu to=%lu\n", (unsigned long)seed,
               (unsigned long)from, (unsigned long)n);
        print_steps(n, what);
    }
    for ( unsigned int v = 0; v < nvcpus; v++ )
        ring[v].running = 0;    /* only now: the shrink above issues operations too */
    printf("EVT FUZZ seed=%lu vcpus=%u ops=%lu mismatches=%u ns=%lu valid=%u open=%u "
           "fifo_ops=%lu switches=%lu cross=%lu raced=%lu\n", (unsigned long)seed, nvcpus, (unsigned long)ops,
           stop, (unsigned long)out->ns, valid, open, (unsigned long)fifo_ops, (unsigned long)switches,
           (unsigned long)cross, (unsigned long)raced);
    close_own_ports();
    close_kick_ports();
}
