/* Exception/upcall frame and trap setup (arch/x86_64). */
#ifndef GUEST_TRAPS_H
#define GUEST_TRAPS_H

#include <stdint.h>

/* Layout built by entry.asm: SAVE_GPRS block, then vector/error, then the
 * frame Xen bounced to us (after rcx/r11 were popped). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

/*
 * What a fatal exception, or Xen's failsafe callback, ends in: whoever calls
 * traps_init() says (crash.c: the EVT CRASH line, then SHUTDOWN_crash), so
 * the arch code uses nothing of the guest above it.  Neither returns.
 */
struct trap_fatal {
    /* An exception: its frame, and its vector's name ("PF"; "?" past the table). */
    void (*trap)(const struct trap_frame *f, const char *name);
    /* The failsafe callback's frame: rcx, r11, ds, es, fs, gs, rip, cs, rflags, rsp, ss. */
    void (*failsafe)(const uint64_t *frame);
};

void traps_init(const struct trap_fatal *fatal);

struct vcpu_guest_context;
/* The first register state of secondary vcpu `vcpu`, entering entry(vcpu). */
void traps_vcpu_context(struct vcpu_guest_context *c, unsigned int vcpu,
                        void (*entry)(unsigned int), unsigned long stack_top);

#endif
