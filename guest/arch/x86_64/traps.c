/*
 * Trap table and callbacks.  Every exception is fatal: it ends in what
 * traps_init() was handed (one "EVT CRASH" line, then SHUTDOWN_crash).
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/callback.h>
#include "../../guest.h"
#include "../../hypercall.h"
#include "../../lib.h"
#include "../../traps.h"

#define NR_VECTORS 20

/* entry.asm stubs, exc_0 .. exc_19 */
#define X(n) extern char exc_##n[];
X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
#undef X
extern char failsafe_callback[];
/* entry.asm: vcpu n's upcall entry (it tells the handler n) */
extern const unsigned long upcall_entries[GUEST_MAX_VCPUS];

static char *const stubs[NR_VECTORS] = {
    exc_0, exc_1, exc_2, exc_3, exc_4, exc_5, exc_6, exc_7, exc_8, exc_9,
    exc_10, exc_11, exc_12, exc_13, exc_14, exc_15, exc_16, exc_17, exc_18,
    exc_19,
};

static const char *const names[NR_VECTORS] = {
    "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO",
    "TS", "NP", "SS", "GP", "PF", "RSVD15", "MF", "AC", "MC", "XM",
};

/* trap_info.flags: bits 0-1 privilege level, 4 (bit 2) masks events on entry. */
#define TI_MASK_EVENTS 4
#define TI_DPL3        3

static struct trap_info trap_table[NR_VECTORS + 1];
static const struct trap_fatal *fatal;

void traps_init(const struct trap_fatal *report)
{
    struct callback_register ev = {
        .type = CALLBACKTYPE_event,
        .address = upcall_entries[0],
    };
    struct callback_register fs = {
        .type = CALLBACKTYPE_failsafe,
        .flags = CALLBACKF_mask_events,
        .address = (unsigned long)failsafe_callback,
    };

    fatal = report;             /* before any exception can reach us */
    for ( unsigned int v = 0; v < NR_VECTORS; v++ )
    {
        trap_table[v].vector = v;
        /* int3/into may be raised by software in the kernel. */
        trap_table[v].flags = TI_MASK_EVENTS | ((v == 3 || v == 4) ? TI_DPL3 : 0);
        trap_table[v].cs = FLAT_KERNEL_CS;
        trap_table[v].address = (unsigned long)stubs[v];
    }
    /* trap_table[NR_VECTORS].address == 0 terminates the table. */
    if ( HYPERVISOR_set_trap_table(trap_table) ||
         HYPERVISOR_callback_op(CALLBACKOP_register, &ev) ||
         HYPERVISOR_callback_op(CALLBACKOP_register, &fs) )
        guest_shutdown(SHUTDOWN_crash);
}

/*
 * A secondary vcpu's first state for VCPUOP_initialise: our page tables,
 * trap table and callbacks, its own stack and upcall entry, Xen's default
 * GDT (gdt_ents 0 leaves only Xen's reserved FLAT_* descriptors).
 */
void traps_vcpu_context(struct vcpu_guest_context *c, unsigned int vcpu,
                        void (*entry)(unsigned int), unsigned long stack_top)
{
    const xen_pfn_t *mfn_list = (const xen_pfn_t *)start_info->mfn_list;

    memset(c, 0, sizeof(*c));
    c->flags = VGCF_in_kernel;
    c->user_regs.rip = (unsigned long)entry;
    /* As after a call: entry's frame expects rsp + 8 to be 16-aligned. */
    c->user_regs.rsp = (stack_top & ~15ul) - 8;
    c->user_regs.rdi = vcpu;
    c->user_regs.cs = FLAT_KERNEL_CS;
    c->user_regs.ss = FLAT_KERNEL_SS;
    c->kernel_ss = FLAT_KERNEL_SS;
    c->kernel_sp = stack_top & ~15ul;
    memcpy(c->trap_ctxt, trap_table, sizeof(trap_table));
    c->event_callback_eip = upcall_entries[vcpu];
    c->failsafe_callback_eip = (unsigned long)failsafe_callback;
    /* VIRT_BASE 0: pt_base's pfn is its address >> PAGE_SHIFT; CR3 wants the mfn. */
    c->ctrlreg[3] = xen_pfn_to_cr3(mfn_list[start_info->pt_base >> PAGE_SHIFT]);
}

/* entry.asm's exception stubs end here. */
void trap_fatal(struct trap_frame *f);
void trap_fatal(struct trap_frame *f)
{
    fatal->trap(f, f->vector < NR_VECTORS ? names[f->vector] : "?");
    guest_shutdown(SHUTDOWN_crash);     /* it does not return: in case it did */
}

/* entry.asm's failsafe_callback ends here. */
void failsafe_fatal(uint64_t *frame);
void failsafe_fatal(uint64_t *frame)
{
    fatal->failsafe(frame);
    guest_shutdown(SHUTDOWN_crash);
}
