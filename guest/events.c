/*
 * Event channels: shared_info mapping, the upcall handler that counts
 * upcalls per port and per (port, vcpu) on the ABI the domain is on
 * (event_2l.c, or once fifo_init ran event_fifo.c), vcpu system time, and
 * blocking with SCHEDOP_poll.  The script runs on vcpu 0; the secondary
 * vcpus (smp.c) only take upcalls.
 */
#include <stdint.h>
#include "guest.h"
#include "events.h"
#include "smp.h"
#include "event_abi.h"
#include "hypercall.h"
#include "lib.h"
#include "traps.h"
#include "page.h"
#include "tsc.h"

#define NR_PORTS    EVTCHN_2L_NR_CHANNELS

shared_info_t *shared_info;
static uint8_t shared_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint32_t upcall_count[NR_PORTS];
static uint32_t upcall_count_on[GUEST_MAX_VCPUS][NR_PORTS];
/* The vcpu Xen notifies for each port, as EVTCHNOP_status last said. */
uint8_t port_vcpu[NR_PORTS];
/* hold: vcpu 0 stays masked until release, whatever else unmasks. */
static int held;
/* Delivery order since hold: the position of each port's first upcall. */
static uint32_t deliveries;
static int32_t first_seq[NR_PORTS];
/* The event channel ABI the domain is on. */
static const struct evtchn_abi *abi = &evtchn_2l;

/* Set once Xen accepted a VCPUOP_register_vcpu_info; NULL: still in shared_info. */
static vcpu_info_t *vcpu_info_at[GUEST_MAX_VCPUS];
static uint8_t vcpu_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

vcpu_info_t *vcpu_info_of(unsigned int vcpu)
{
    vcpu_info_t *vi = vcpu < GUEST_MAX_VCPUS
                      ? __atomic_load_n(&vcpu_info_at[vcpu], __ATOMIC_ACQUIRE) : NULL;

    return vi ? vi : &shared_info->vcpu_info[vcpu];
}

static inline vcpu_info_t *vcpu0(void)
{
    return vcpu_info_of(0);
}

long events_register_vcpu_info(unsigned int vcpu, uint32_t offset)
{
    struct vcpu_register_vcpu_info info = {
        .mfn = page_gfn(vcpu_info_page), .offset = offset,
    };
    long rc;

    /*
     * Xen copies the old vcpu_info to the new place, our mask with it, and
     * marks every selector pending there ("a spurious event"): masked until
     * we look at the new place, the unmask then takes them.
     */
    events_mask();
    rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, vcpu, &info);
    if ( !rc && vcpu < GUEST_MAX_VCPUS && offset < PAGE_SIZE )
        __atomic_store_n(&vcpu_info_at[vcpu], (vcpu_info_t *)(vcpu_info_page + offset),
                         __ATOMIC_RELEASE);
    events_unmask();
    return rc;
}

void events_init(void)
{
    long rc;

    /* Replace our (already mapped) page with the machine page of shared_info. */
    rc = HYPERVISOR_update_va_mapping((unsigned long)shared_info_page,
                                      start_info->shared_info | PTE_PRESENT |
                                      PTE_RW | PTE_ACCESSED | PTE_DIRTY,
                                      UVMF_INVLPG);
    if ( rc )
        guest_shutdown(SHUTDOWN_crash);
    shared_info = (shared_info_t *)shared_info_page;
}

static evtchn_port_t driver_ports[NR_EVENTS_DRIVERS];

void events_driver_port(enum events_driver which, evtchn_port_t port)
{
    __atomic_store_n(&driver_ports[which], port, __ATOMIC_RELEASE);
}

static int is_driver_port(evtchn_port_t port)
{
    for ( unsigned int i = 0; i < NR_EVENTS_DRIVERS; i++ )
        if ( port && port == __atomic_load_n(&driver_ports[i], __ATOMIC_ACQUIRE) )
            return 1;
    return 0;
}

void events_reset_counts(void)
{
    for ( unsigned int i = 0; i < NR_PORTS; i++ )
    {
        __atomic_store_n(&upcall_count[i], 0, __ATOMIC_RELAXED);
        for ( unsigned int v = 0; v < GUEST_MAX_VCPUS; v++ )
            __atomic_store_n(&upcall_count_on[v][i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&first_seq[i], -1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&deliveries, 0, __ATOMIC_RELAXED);
    mb();
}

uint32_t events_count(evtchn_port_t port)
{
    return port < NR_PORTS ? __atomic_load_n(&upcall_count[port], __ATOMIC_SEQ_CST)
                           : 0;
}

uint32_t events_count_on(evtchn_port_t port, unsigned int vcpu)
{
    if ( port >= NR_PORTS || vcpu >= GUEST_MAX_VCPUS )
        return 0;
    return __atomic_load_n(&upcall_count_on[vcpu][port], __ATOMIC_SEQ_CST);
}

void events_track_port(evtchn_port_t port)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

    if ( port >= NR_PORTS )
        return;
    /* A closed port (or a failed query) is notified on vcpu 0 again. */
    if ( HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) ||
         st.status == EVTCHNSTAT_closed || st.vcpu >= GUEST_MAX_VCPUS )
        st.vcpu = 0;
    __atomic_store_n(&port_vcpu[port], st.vcpu, __ATOMIC_SEQ_CST);
}

void events_set_port_vcpu(evtchn_port_t port, unsigned int vcpu)
{
    if ( port < NR_PORTS )
        __atomic_store_n(&port_vcpu[port], vcpu, __ATOMIC_SEQ_CST);
}

void events_track_reset(void)
{
    for ( unsigned int i = 0; i < NR_PORTS; i++ )
        __atomic_store_n(&port_vcpu[i], 0, __ATOMIC_SEQ_CST);
}

unsigned int events_port_vcpu(evtchn_port_t port)
{
    return port < NR_PORTS ? __atomic_load_n(&port_vcpu[port], __ATOMIC_SEQ_CST) : 0;
}

const struct evtchn_abi *events_abi(void)
{
    /* Read by every vcpu's upcall; vcpu 0 switches it. */
    return __atomic_load_n(&abi, __ATOMIC_SEQ_CST);
}

void events_set_abi(const struct evtchn_abi *new)
{
    __atomic_store_n(&abi, new, __ATOMIC_SEQ_CST);
}

const char *events_abi_name(void)
{
    return events_abi()->name;
}

int events_port_mask(evtchn_port_t port)
{
    return events_abi()->mask(port);
}

int events_port_pending(evtchn_port_t port, int *pending)
{
    const struct evtchn_abi *a = events_abi();

    if ( !a->covers(port) )
        return -1;
    *pending = a->is_pending(port);
    return 0;
}

int events_port_masked(evtchn_port_t port)
{
    return events_abi()->is_masked(port);
}

void events_mask(void)
{
    vcpu_info_of(smp_this_vcpu())->evtchn_upcall_mask = 1;
    barrier();
}

void events_unmask(void)
{
    unsigned int v = smp_this_vcpu();
    vcpu_info_t *vi = vcpu_info_of(v);

    barrier();
    if ( v == 0 && __atomic_load_n(&held, __ATOMIC_SEQ_CST) )
        return;
    vi->evtchn_upcall_mask = 0;
    mb();
    /* Xen only delivers on its way back to us: give it a cheap exit. */
    if ( vi->evtchn_upcall_pending )
        HYPERVISOR_xen_version(XENVER_version, NULL);
}

void events_hold(void)
{
    events_mask();
    for ( unsigned int i = 0; i < NR_PORTS; i++ )
        __atomic_store_n(&first_seq[i], -1, __ATOMIC_RELAXED);
    __atomic_store_n(&deliveries, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
}

void events_release(void)
{
    __atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
    events_unmask();
}

int32_t events_seq(evtchn_port_t port)
{
    return port < NR_PORTS ? __atomic_load_n(&first_seq[port], __ATOMIC_SEQ_CST) : -1;
}

/* One upcall on port, handled by vcpu: the counters every op reads. */
static void deliver(evtchn_port_t port, unsigned int vcpu)
{
    int32_t none = -1;

    if ( port >= NR_PORTS || vcpu >= GUEST_MAX_VCPUS )
        return;
    __atomic_fetch_add(&upcall_count[port], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&upcall_count_on[vcpu][port], 1, __ATOMIC_SEQ_CST);
    /* The harness's own traffic would shift every position. */
    if ( is_driver_port(port) )
        return;
    if ( __atomic_load_n(&first_seq[port], __ATOMIC_SEQ_CST) < 0 )
    {
        uint32_t n = __atomic_fetch_add(&deliveries, 1, __ATOMIC_SEQ_CST);

        __atomic_compare_exchange_n(&first_seq[port], &none, (int32_t)n, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
}

/* Called from entry.asm (vcpu's own entry) with upcalls masked by Xen. */
/* Upcall handlers running now, all vcpus: one may have taken an event it has not counted yet. */
static unsigned int handling;

unsigned int events_handling(void)
{
    return __atomic_load_n(&handling, __ATOMIC_SEQ_CST);
}

void evtchn_do_upcall(struct trap_frame *frame, unsigned int vcpu);
void evtchn_do_upcall(struct trap_frame *frame, unsigned int vcpu)
{
    (void)frame;
    __atomic_fetch_add(&handling, 1, __ATOMIC_SEQ_CST);
    vcpu_info_of(vcpu)->evtchn_upcall_pending = 0;
    events_abi()->handle_upcall(vcpu, deliver);
    __atomic_fetch_sub(&handling, 1, __ATOMIC_SEQ_CST);
}

/* TSC ticks in ns, as the time record scales them (tsc_to_system_mul, tsc_shift). */
static uint64_t scale_tsc(uint64_t delta, uint32_t mul, int8_t shift)
{
    if ( shift < 0 )
        delta >>= -shift;
    else
        delta <<= shift;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/* One consistent read of vcpu 0's time record, and the TSC at that moment. */
struct time_snap {
    uint64_t tsc_ts, sys, tsc;
    uint32_t mul;
    int8_t shift;
};

static void read_time(struct time_snap *s)
{
    volatile struct vcpu_time_info *t = &vcpu0()->time;
    uint32_t ver;

    do {
        ver = t->version;
        rmb();
        s->tsc_ts = t->tsc_timestamp;
        s->sys = t->system_time;
        s->mul = t->tsc_to_system_mul;
        s->shift = t->tsc_shift;
        s->tsc = rdtsc_ordered();
        rmb();
    } while ( (ver & 1) || ver != t->version );
}

uint64_t now_ns(void)
{
    struct time_snap s;

    read_time(&s);
    return s.sys + scale_tsc(s.tsc - s.tsc_ts, s.mul, s.shift);
}

uint64_t tsc_now(void)
{
    return rdtsc_ordered();
}

uint64_t tsc_to_ns(uint64_t ticks)
{
    struct time_snap s;

    read_time(&s);
    return scale_tsc(ticks, s.mul, s.shift);
}

/* SCHEDOP_poll with an absolute deadline; nr == 0 sleeps until any event. */
static long poll_ports(evtchn_port_t *ports, unsigned int nr, uint64_t deadline)
{
    struct sched_poll p = { .nr_ports = nr, .timeout = deadline ? deadline : 1 };

    set_xen_guest_handle(p.ports, ports);
    return HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

void sleep_ms(uint64_t ms)
{
    uint64_t deadline = now_ns() + MS_TO_NS(ms);

    while ( now_ns() < deadline )
    {
        events_mask();
        if ( poll_ports(NULL, 0, deadline) )
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        events_unmask();
    }
}

uint32_t wait_for_count(evtchn_port_t port, uint32_t n, uint64_t timeout_ms)
{
    uint64_t deadline = now_ns() + MS_TO_NS(timeout_ms);
    uint32_t c;

    if ( port >= NR_PORTS )
        return 0;

    for ( ;; )
    {
        uint64_t slice;
        int elsewhere;

        /* Masked: an event arriving now stays pending, so poll sees it. */
        events_mask();
        c = events_count(port);
        if ( c >= n || now_ns() >= deadline )
            break;
        /*
         * Short slices: a port notified on another vcpu is handled (and its
         * pending bit cleared) there, perhaps before our poll looks at it.
         */
        elsewhere = events_port_vcpu(port) != 0;
        slice = now_ns() + MS_TO_NS(elsewhere ? 1 : 10);
        if ( slice > deadline )
            slice = deadline;
        if ( events_abi()->is_pending(port) )
        {
            /* Per-port masked, or another vcpu's: no upcall here for it. */
            if ( elsewhere || events_port_masked(port) )
                poll_ports(NULL, 0, slice);
            /* else: unmasking below delivers (and counts) it. */
        }
        else if ( poll_ports(&port, 1, slice) )
            poll_ports(NULL, 0, slice);         /* bad port: just sleep */
        events_unmask();
    }
    events_unmask();
    return c;
}

int wait_until(evtchn_port_t port, int (*cond)(void *), void *arg,
               uint64_t deadline)
{
    for ( ;; )
    {
        uint64_t now, slice;
        int ok;

        events_mask();
        if ( port )
            events_abi()->clear_pending(port);
        ok = cond(arg);
        now = now_ns();
        if ( ok || now >= deadline )
        {
            events_unmask();
            return ok;
        }
        /* Re-check every 10ms even without a notification. */
        slice = now + MS_TO_NS(10);
        if ( slice > deadline )
            slice = deadline;
        if ( !port || poll_ports(&port, 1, slice) )
            poll_ports(NULL, 0, slice);
        events_unmask();
    }
}

/* Deadline of the one-shot timer we armed; Xen keeps it across EVTCHNOP_reset. */
static uint64_t timer_deadline;

long events_set_timer(uint64_t deadline)
{
    long rc = HYPERVISOR_set_timer_op(deadline);

    timer_deadline = rc ? 0 : deadline;
    return rc;
}

int events_cancel_timer(void)
{
    int armed = timer_deadline && now_ns() < timer_deadline;

    HYPERVISOR_set_timer_op(0);     /* do_set_timer_op(): 0 stops it */
    timer_deadline = 0;
    return armed;
}

int events_held(void)
{
    return __atomic_load_n(&held, __ATOMIC_SEQ_CST);
}

long evtchn_notify(evtchn_port_t port)
{
    struct evtchn_send s = { .port = port };

    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}
