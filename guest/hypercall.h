/*
 * Hypercall wrappers: each calls its 32-byte stub in the hypercall page Xen
 * filled in (XEN_ELFNOTE_HYPERCALL_PAGE).  x86-64 PV ABI: args in rdi, rsi,
 * rdx, r10, r8; result in rax; the stub's syscall clobbers rcx and r11.
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/event_channel.h>
#include <xen/callback.h>
#include <xen/version.h>
#include <xen/vcpu.h>
#include "page.h"

extern char hypercall_page[PAGE_SIZE];


/* Arguments are passed as longs; nr must be a compile-time constant. */
#define _hypercall1(nr, a1) ({                                          \
    long res_, d_ = (long)(a1);                                         \
    asm volatile ("call hypercall_page + %c[off]"                       \
                  : "=a" (res_), "+D" (d_)                              \
                  : [off] "i" ((nr) * 32)                               \
                  : "memory", "rcx", "r11", "rsi", "rdx", "r10", "r8"); \
    res_; })

#define _hypercall2(nr, a1, a2) ({                                      \
    long res_, d_ = (long)(a1), s_ = (long)(a2);                         \
    asm volatile ("call hypercall_page + %c[off]"                       \
                  : "=a" (res_), "+D" (d_), "+S" (s_)                   \
                  : [off] "i" ((nr) * 32)                               \
                  : "memory", "rcx", "r11", "rdx", "r10", "r8");        \
    res_; })

#define _hypercall3(nr, a1, a2, a3) ({                                  \
    long res_, d_ = (long)(a1), s_ = (long)(a2), x_ = (long)(a3);        \
    asm volatile ("call hypercall_page + %c[off]"                       \
                  : "=a" (res_), "+D" (d_), "+S" (s_), "+d" (x_)        \
                  : [off] "i" ((nr) * 32)                               \
                  : "memory", "rcx", "r11", "r10", "r8");               \
    res_; })

static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_event_channel_op, cmd, arg);
}

static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_sched_op, cmd, arg);
}

static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_xen_version, cmd, arg);
}

static inline long HYPERVISOR_console_io(int cmd, unsigned int len, const char *buf)
{
    return _hypercall3(__HYPERVISOR_console_io, cmd, len, buf);
}

static inline long HYPERVISOR_update_va_mapping(unsigned long va, uint64_t pte,
                                                unsigned long flags)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags);
}

static inline long HYPERVISOR_set_trap_table(const struct trap_info *table)
{
    return _hypercall2(__HYPERVISOR_set_trap_table, table, 0);
}

static inline long HYPERVISOR_callback_op(int cmd, const void *arg)
{
    return _hypercall2(__HYPERVISOR_callback_op, cmd, arg);
}

static inline long HYPERVISOR_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
    return _hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, arg);
}

/* x86-64: one argument, the absolute system time (ns); 0 cancels. */
static inline long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    return _hypercall1(__HYPERVISOR_set_timer_op, timeout);
}

#endif
