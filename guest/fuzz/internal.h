/*
 * The event channel fuzzer (fuzz.h), inside: what its files share.  Random
 * operations on our own ports, each checked against a model of what
 * xen/common/event_channel.c does.
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
 *
 * Its files, one concern each:
 *   ops.h      the list of operations: name, weight, argument picker, how a
 *              finding writes them (adding one: a line there, pick_ and do_)
 *   state.c    the state below: the model's ports, the run's settings,
 *              each vcpu's, shared ports', the first mismatch
 *   record.c   each vcpu's last operations, and the first mismatch
 *   choices.c  the seeded choices: one stream per vcpu, ports, domains, vcpus
 *   args.c     arguments as a case file's step writes them
 *   model.c    the model: each port as Xen keeps it, and how it changes
 *   racing.c   shared ports, and the send that races their owner
 *   check.c    the model against what Xen says and what the guest sees
 *   bind.c     the operations that make a channel
 *   ops.c      the operations on a port
 *   fifo.c     the FIFO ABI's operations, and its part of the model
 *   table.c    the table of operations that ops.h lists
 *   report.c   a finding's report, and a long run's signs of life
 *   shrink.c   a finding shrunk (one vcpu), and written as case-file steps
 *   run.c      the run: the draws, every vcpu at once
 * each using only those above it in this list.
 */
#ifndef GUEST_FUZZ_INTERNAL_H
#define GUEST_FUZZ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../guest.h"
#include "fuzz.h"
#include "page.h"
#include "script_parse.h"           /* enum op_id: the case language's ops */

#define NO_OWNER 0xff
#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))

/*
 * K_CROSS: a channel with the peer domain (fuzz_with), ours but for its other
 * end, which the peer binds, sends on and closes whenever it likes: unbound or
 * interdomain with the peer, its events and pending bit the peer's doing.
 */
enum kind { K_FREE, K_RESERVED, K_UNBOUND, K_INTER, K_VIRQ, K_IPI, K_HARNESS, K_CROSS };

/* What Xen keeps for each of our ports (struct evtchn), and what we see. */
struct mport {
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
};
extern struct mport m[EVTCHN_2L_NR_CHANNELS];

/*
 * Xen's FIFO `pending` flag ("save the pending state for when the page is
 * added"): set by setup_ports() and by a set_pending with no event word,
 * cleared by nothing (cases/fifo.evt fifo-stale-pending), so a port's may be
 * left from before the run: unknown until an array page that covers it shows it.
 */
enum { X_CLEAR, X_SET, X_UNKNOWN };

/*
 * The state the files share: all of it defined in state.c, below every file
 * that reads or changes it.
 */

/* The model (model.c changes it). */
extern uint32_t valid;                  /* d->valid_evtchns, as last seen */
/* The ABI as Xen has it: d->evtchn_fifo, its array pages, each vcpu's control block. */
extern int m_fifo;
extern uint32_t m_pages;
extern uint8_t m_cb[GUEST_MAX_VCPUS];
/* Each port's upcalls before the run: a case file counts from its start. */
extern uint32_t count0[EVTCHN_2L_NR_CHANNELS];

/* The run's settings (fuzz_run()). */
extern int start_fifo;                  /* the run began on FIFO (a fifo_init before it) */
extern domid_t peer;                    /* fuzz_with: the domain fuzzing beside us */
extern unsigned int nvcpus;             /* fuzzing, all at once */
extern long (*reset_self)(void);
extern uint64_t run_seed;
/* XENVER_version of the Xen under test: (major << 16) | minor. */
extern unsigned long xen_ver;
/* The ports that wake the secondary vcpus (the harness's, as the console's). */
extern evtchn_port_t kick_port[GUEST_MAX_VCPUS];

/*
 * Shared ports (racing.c): any vcpu may send on them (racing); their events
 * are nobody's to predict.  RACY_DRAINING: closed, racers still sending on it
 * are let finish.  Each number's state carries a generation, bumped at every change,
 * so that a vcpu's compare-and-swap only ever undoes its own change: the
 * number may have been closed, bound, shared and closed again meanwhile
 * (a closer that compared states alone unshared a live pair: two-domain seed 13).
 */
enum { RACY_NO, RACY_DRAINING, RACY_SHARED };
#define RACY_STATE(v) ((v) & 3u)
#define RACY_NEXT(v, state) ((((v) >> 2) + 1) << 2 | (state))
extern uint32_t racy[EVTCHN_2L_NR_CHANNELS];
/* When each number's last drain ended, on a clock that ticks once a drain: see raced_since(). */
extern uint64_t drain_clock, drained_at[EVTCHN_2L_NR_CHANNELS];

/* Each vcpu's last operations, where the harness can read them after a Xen crash. */
extern struct fuzz_ring ring[GUEST_MAX_VCPUS];

/* One vcpu's run. */
struct fz {
    unsigned int vcpu;
    uint64_t rng, op_index, nops;
    uint64_t fifo_ops, switches;        /* ops issued on FIFO; ABI switches either way */
    uint64_t cross;                     /* channels made with the peer: offered, or bound to its port */
    uint64_t raced;                     /* sends on shared ports that Xen took (answered 0) */
    int grew;
    unsigned int nr_open;
    uint32_t virq_port[NR_VIRQS];       /* this vcpu's virq_to_evtchn[] */
    struct fuzz_last_op *last;          /* ring[vcpu].last */
    const char *name;                   /* the operation it is issuing (fuzz_issue()) */
};
extern struct fz fz[GUEST_MAX_VCPUS];

/* The first mismatch (mismatch()) stops every vcpu; vcpu 0 prints it at the end. */
extern int stop;
extern struct found {
    unsigned int vcpu;
    uint64_t op;
    const char *what;
    uint32_t port;
    long model, xen;
} found;

/*
 * With one vcpu the run is exact and its operations are kept, so that a
 * finding can be shrunk to the few that still make it (shrink()).
 */
#define LOG_MAX 200000
struct logged {
    uint8_t op;
    uint32_t a, b;
};
extern struct logged oplog[LOG_MAX];
/* When a long fuzz step next says that it is still going (beat()), every BEAT_MS. */
extern uint64_t beat_at;
#define BEAT_MS 2000

/* ---- the operations (ops.h) ---- */

/* Draws an operation's two arguments from the model's state. */
typedef void fuzz_pick_fn(struct fz *f, uint32_t *a, uint32_t *b);
/* Issues it with them, checks Xen's answer and updates the model. */
typedef void fuzz_do_fn(struct fz *f, uint32_t a, uint32_t b);
/* Writes them as a case file's step does (buf: NUL-terminated). */
typedef void fuzz_args_fn(char *buf, size_t size, uint32_t a, uint32_t b);

enum fuzz_op {
#define FUZZ_OP(name, weight, pick, args) F_##name,
#define FUZZ_SMP_OP(name, weight, pick) F_##name,
#include "ops.h"
    NR_FUZZ_OPS
};

#define FUZZ_OP(name, weight, pick, args) fuzz_pick_fn pick; fuzz_do_fn do_##name; fuzz_args_fn args;
#define FUZZ_SMP_OP(name, weight, pick) fuzz_pick_fn pick; fuzz_do_fn do_##name;
#include "ops.h"

struct fuzz_op_def {
    enum op_id step;            /* its op in the case language; NR_OPS: none */
    const char *name;           /* a FUZZ_SMP_OP's own name */
    unsigned int weight;
    int smp;                    /* a FUZZ_SMP_OP: drawn only with several vcpus */
    fuzz_pick_fn *pick;
    fuzz_do_fn *run;
    fuzz_args_fn *args;         /* a FUZZ_SMP_OP's (never written: one vcpu never draws it): args_num */
};
extern const struct fuzz_op_def fuzz_ops[NR_FUZZ_OPS];

/* table.c */
/* Its name: the case language's (script_ops[]), or a FUZZ_SMP_OP's own. */
const char *fuzz_op_name(enum fuzz_op op);
/* Runs op with its arguments (the draw's, or a replay's). */
void fuzz_issue(struct fz *f, enum fuzz_op op, uint32_t a, uint32_t b);

/* choices.c */
uint32_t below(struct fz *f, uint32_t n);
int mine(const struct fz *f, uint32_t p);
uint32_t pick_port(struct fz *f);
domid_t pick_dom(struct fz *f);
uint32_t pick_vcpu(struct fz *f);

/* record.c */
/* The operation f is issuing, into its ring: name, arguments, no answer yet. */
struct fuzz_last_op *record(struct fz *f, uint32_t a, uint32_t b);
void mismatch(struct fz *f, const char *what, uint32_t port, long model, long xen);

/* model.c */
long m_get_port(struct fz *f);
void probe_valid(void);
int claim(struct fz *f, struct fuzz_last_op *l, long want_port, uint32_t p);
int covered(uint32_t p);
void m_set_pending(uint32_t p);
void m_set_vcpu(uint32_t p, unsigned int vcpu);
void m_free(struct fz *f, uint32_t p);
void adopt_harness_ports(void);
void model_init(void);

/* racing.c */
uint32_t racy_state(uint32_t p);
int share_new(const struct fz *f);
void share(uint32_t p);
void unshare(uint32_t p, uint32_t was);
int raced_since(uint32_t p, uint64_t since);

/* check.c */
extern const uint32_t stat_of[];        /* enum kind -> EVTCHNSTAT_* */
uint32_t settled_count(struct fz *f, uint32_t p);
void check_port(struct fz *f, uint32_t p);
void check_status(struct fz *f, uint32_t p, long rc, const struct evtchn_status *st);
void guards_fill(void);
void sweep(struct fz *f, int all);
void check_rc(struct fz *f, struct fuzz_last_op *l, long want, long got);

/* bind.c */
int virq_global(uint32_t virq);

/* report.c */
void print_finding(void);
/* A long fuzz step says now and then that it is still going (EVT FUZZ-PROGRESS): done of what. */
enum beat_of { BEAT_OPS, BEAT_SHRUNK_TO };
void beat(enum beat_of what, uint64_t done);

/* shrink.c */
size_t shrink(size_t n, const char *what);
void print_steps(size_t n, const char *what);

#endif
