/*
 * The FIFO event channel ABI: a control block per vcpu (ready bitmap and
 * one queue head per priority) and event-array pages of event words, all
 * guest pages that Xen maps (xen/common/event_fifo.c).  The upcall walks
 * the queues as Linux's drivers/xen/events/events_fifo.c does.
 */
#include <stdint.h>
#include "guest.h"
#include "events.h"
#include "smp.h"
#include "event_abi.h"
#include "event_fifo.h"
#include "evt-lines.h"
#include "guard.h"
#include "hypercall.h"
#include "lib.h"
#include "page.h"

#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))

/*
 * The pages Xen maps from us, each after a guard page (guard.h), and one
 * guard after the last: a write of Xen's past a page it maps shows there.
 */
static struct {
    struct {
        uint8_t guard[PAGE_SIZE];
        uint8_t page[PAGE_SIZE];
    } cb[GUEST_MAX_VCPUS], array[FIFO_ARRAY_PAGES];
    uint8_t guard_end[PAGE_SIZE];
} shared __attribute__((aligned(PAGE_SIZE)));
static int guards_filled;

/* Xen's view, as far as it accepted our hypercalls. */
static evtchn_fifo_control_block_t *control_block[GUEST_MAX_VCPUS];
static unsigned int nr_array_pages;
/* Linux's per-cpu q->head: where each queue's walk stopped last time. */
static uint32_t local_head[GUEST_MAX_VCPUS][EVTCHN_FIFO_MAX_QUEUES];

uint64_t fifo_gfn_of(enum fifo_gfn_kind kind, const void *page)
{
    if ( kind == FIFO_GFN_PAGE )
        return page_gfn(page);
    /* Xen pinned it as our L4 at boot: get_page_type(PGT_writable_page) refuses it. */
    if ( kind == FIFO_GFN_PAGETABLE )
        return page_gfn((const void *)start_info->pt_base);
    return ~0ull;
}

int fifo_active(void)
{
    return events_abi() == &evtchn_fifo;
}

long fifo_init_control(enum fifo_gfn_kind kind, uint32_t offset, uint32_t vcpu)
{
    /* A vcpu we do not run still needs some page: Xen checks vcpu first. */
    unsigned int idx = vcpu < GUEST_MAX_VCPUS ? vcpu : 0;
    struct evtchn_init_control ic = {
        .control_gfn = fifo_gfn_of(kind, shared.cb[idx].page),
        .offset = offset,
        .vcpu = vcpu,
    };
    int fresh = vcpu < GUEST_MAX_VCPUS && !control_block[vcpu];
    long rc;

    /* Never scribble over a block Xen is using (the "twice" case). */
    if ( fresh && kind == FIFO_GFN_PAGE )
        memset(shared.cb[idx].page, 0, PAGE_SIZE);

    events_mask();
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &ic);
    if ( !rc && fresh && offset < PAGE_SIZE )
    {
        memset(local_head[vcpu], 0, sizeof(local_head[vcpu]));
        __atomic_store_n(&control_block[vcpu],
                         (evtchn_fifo_control_block_t *)(shared.cb[idx].page + offset),
                         __ATOMIC_SEQ_CST);
    }
    /* The first accepted block switches the whole domain (evtchn_fifo_init_control()). */
    if ( !rc )
        events_set_abi(&evtchn_fifo);
    events_unmask();
    return rc;
}

long fifo_expand_array(enum fifo_gfn_kind kind)
{
    struct evtchn_expand_array ea;
    unsigned int slot = nr_array_pages;
    long rc;

    if ( kind == FIFO_GFN_PAGE && slot >= FIFO_ARRAY_PAGES )
        return FIFO_NO_PAGE;
    ea.array_gfn = fifo_gfn_of(kind, shared.array[slot].page);
    if ( kind == FIFO_GFN_PAGE )
    {
        /* Zero words: unmasked, like 2-level ports after a bind. */
        memset(shared.array[slot].page, 0, PAGE_SIZE);
        /*
         * Counted before the call: add_page_to_event_array() re-raises
         * pending events at once, and another vcpu's upcall must find them.
         */
        __atomic_store_n(&nr_array_pages, slot + 1, __ATOMIC_SEQ_CST);
    }
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &ea);
    if ( rc && kind == FIFO_GFN_PAGE )
        __atomic_store_n(&nr_array_pages, slot, __ATOMIC_SEQ_CST);
    return rc;
}

long fifo_init(void)
{
    long rc = 0;

    for ( unsigned int v = 0; v < nr_vcpus_up && !rc; v++ )
        rc = fifo_init_control(FIFO_GFN_PAGE, 0, v);
    if ( !rc )
        rc = fifo_expand_array(FIFO_GFN_PAGE);
    return rc;
}

void fifo_reset(void)
{
    /* evtchn_reset(): evtchn_fifo_destroy() unmapped every page. */
    events_set_abi(&evtchn_2l);
    __atomic_store_n(&nr_array_pages, 0, __ATOMIC_SEQ_CST);
    for ( unsigned int v = 0; v < GUEST_MAX_VCPUS; v++ )
        __atomic_store_n(&control_block[v], NULL, __ATOMIC_SEQ_CST);
}

#define NR_GUARDS (GUEST_MAX_VCPUS + FIFO_ARRAY_PAGES + 1)

/* The i-th guard page of `shared`, in address order. */
static uint8_t *guard_page(unsigned int i)
{
    if ( i < GUEST_MAX_VCPUS )
        return shared.cb[i].guard;
    i -= GUEST_MAX_VCPUS;
    return i < FIFO_ARRAY_PAGES ? shared.array[i].guard : shared.guard_end;
}

void fifo_guard_fill(void)
{
    for ( unsigned int i = 0; i < NR_GUARDS; i++ )
        guard_fill(guard_page(i), PAGE_SIZE);
    guards_filled = 1;
}

long fifo_guard_find(uint8_t *seen)
{
    const uint8_t *base = (const uint8_t *)&shared;

    for ( unsigned int i = 0; i < NR_GUARDS && guards_filled; i++ )
    {
        long at = guard_find(guard_page(i), PAGE_SIZE);

        if ( at >= 0 )
        {
            at += guard_page(i) - base;
            *seen = base[at];
            return at;
        }
    }
    return -1;
}

unsigned int fifo_nr_pages(void)
{
    return __atomic_load_n(&nr_array_pages, __ATOMIC_SEQ_CST);
}

/* The port's event word, or NULL if no array page covers it. */
static event_word_t *fifo_word(evtchn_port_t port)
{
    unsigned int page = port / WORDS_PER_PAGE;

    if ( page >= __atomic_load_n(&nr_array_pages, __ATOMIC_SEQ_CST) )
        return NULL;
    return (event_word_t *)shared.array[page].page + port % WORDS_PER_PAGE;
}

void fifo_explain(evtchn_port_t port)
{
    event_word_t *w = fifo_word(port);

    EVT_PRINTF(EVT_FUZZ_FIFO_PORT, port,
               w ? __atomic_load_n(w, __ATOMIC_SEQ_CST) : 0, fifo_nr_pages());
    for ( unsigned int v = 0; v < nr_vcpus_up && v < GUEST_MAX_VCPUS; v++ )
    {
        evtchn_fifo_control_block_t *cb = __atomic_load_n(&control_block[v], __ATOMIC_SEQ_CST);

        if ( !cb )
            continue;
        /* In pieces: a line of all 16 queues is longer than one printf() takes. */
        printf("EVT " EVT_FUZZ_FIFO_VCPU, v, cb->ready);
        for ( unsigned int q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++ )
            if ( cb->head[q] || local_head[v][q] )
            {
                event_word_t *h = fifo_word(cb->head[q]);

                printf(" q%u=head:%u,word:0x%08x,walk:%u", q, cb->head[q],
                       h ? __atomic_load_n(h, __ATOMIC_SEQ_CST) : 0, local_head[v][q]);
            }
        printf("\n");
    }
}

/* Unlink the head event; its LINK is the next one (0: queue now empty). */
static uint32_t clear_linked(event_word_t *word)
{
    event_word_t old = __atomic_load_n(word, __ATOMIC_SEQ_CST), new;

    do {
        new = old & ~((1u << EVTCHN_FIFO_LINKED) | EVTCHN_FIFO_LINK_MASK);
    } while ( !__atomic_compare_exchange_n(word, &old, new, 0, __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST) );
    return old & EVTCHN_FIFO_LINK_MASK;
}

static void consume_one(unsigned int vcpu, evtchn_fifo_control_block_t *cb,
                        unsigned int q, uint32_t *ready, evtchn_deliver_t deliver)
{
    uint32_t head = local_head[vcpu][q];
    evtchn_port_t port;
    event_word_t *word;

    /* Reached the tail last time: Xen may have set a new head since. */
    if ( !head )
        head = __atomic_load_n(&cb->head[q], __ATOMIC_SEQ_CST);
    port = head;
    word = fifo_word(port);
    if ( !word )
    {
        /* A head we have no page for: nothing sane to walk. */
        *ready &= ~(1u << q);
        local_head[vcpu][q] = 0;
        return;
    }

    head = clear_linked(word);
    if ( !head )
        *ready &= ~(1u << q);

    /* Masked: left PENDING (unlinked); EVTCHNOP_unmask relinks it. */
    if ( !(__atomic_load_n(word, __ATOMIC_SEQ_CST) & (1u << EVTCHN_FIFO_MASKED)) &&
         (__atomic_fetch_and(word, ~(1u << EVTCHN_FIFO_PENDING), __ATOMIC_SEQ_CST) &
          (1u << EVTCHN_FIFO_PENDING)) )
        deliver(port, vcpu);

    local_head[vcpu][q] = head;
}

/* Consume vcpu's ready queues, highest priority first. */
static void evtchn_fifo_handle_upcall(unsigned int vcpu, evtchn_deliver_t deliver)
{
    evtchn_fifo_control_block_t *cb;
    uint32_t ready;

    if ( vcpu >= GUEST_MAX_VCPUS ||
         !(cb = __atomic_load_n(&control_block[vcpu], __ATOMIC_SEQ_CST)) )
        return;

    ready = __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST);
    while ( ready )
    {
        /* Queue 0 is EVTCHN_FIFO_PRIORITY_MAX: lowest set bit first. */
        unsigned int q = __builtin_ctz(ready);

        consume_one(vcpu, cb, q, &ready, deliver);
        ready |= __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST);
    }
}

static inline int word_bit(const event_word_t *w, unsigned int bit)
{
    return (__atomic_load_n(w, __ATOMIC_SEQ_CST) >> bit) & 1;
}

static int evtchn_fifo_covers(evtchn_port_t port)
{
    return fifo_word(port) != NULL;
}

static int evtchn_fifo_is_pending(evtchn_port_t port)
{
    event_word_t *w;

    return (w = fifo_word(port)) && word_bit(w, EVTCHN_FIFO_PENDING);
}

static int evtchn_fifo_is_masked(evtchn_port_t port)
{
    event_word_t *w;

    return (w = fifo_word(port)) && word_bit(w, EVTCHN_FIFO_MASKED);
}

static void evtchn_fifo_clear_pending(evtchn_port_t port)
{
    event_word_t *w;

    /* Allowed on a LINKED word; the upcall then skips it. */
    if ( (w = fifo_word(port)) )
        __atomic_fetch_and(w, ~(1u << EVTCHN_FIFO_PENDING), __ATOMIC_SEQ_CST);
}

static int evtchn_fifo_mask(evtchn_port_t port)
{
    event_word_t *w;

    if ( !(w = fifo_word(port)) )
        return -1;
    __atomic_fetch_or(w, 1u << EVTCHN_FIFO_MASKED, __ATOMIC_SEQ_CST);
    return 0;
}

const struct evtchn_abi evtchn_fifo = {
    .name = "fifo",
    .covers = evtchn_fifo_covers,
    .is_pending = evtchn_fifo_is_pending,
    .is_masked = evtchn_fifo_is_masked,
    .clear_pending = evtchn_fifo_clear_pending,
    .mask = evtchn_fifo_mask,
    .handle_upcall = evtchn_fifo_handle_upcall,
};
