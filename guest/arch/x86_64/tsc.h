/* The time stamp counter (x86-64). */
#ifndef GUEST_ARCH_TSC_H
#define GUEST_ARCH_TSC_H

#include <stdint.h>

/* lfence: not read ahead of the vcpu_time_info loads before it. */
static inline uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;

    asm volatile ("lfence; rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

#endif
