/* Atomic bit operations on xen_ulong_t arrays (x86-64: lock-prefixed). */
#ifndef GUEST_ARCH_BITOPS_H
#define GUEST_ARCH_BITOPS_H

#include <stdint.h>
#include <xen/xen.h>

#define BITS_PER_WORD (sizeof(xen_ulong_t) * 8)

static inline void clear_bit_atomic(volatile xen_ulong_t *arr, unsigned int nr)
{
    asm volatile ("lock btr %1, %0"
                  : "+m" (arr[nr / BITS_PER_WORD])
                  : "r" ((xen_ulong_t)(nr % BITS_PER_WORD)) : "memory");
}

/* Another vcpu may take the same bit: only the one that clears it counts. */
static inline int test_and_clear_bit_atomic(volatile xen_ulong_t *arr,
                                            unsigned int nr)
{
    uint8_t old;

    asm volatile ("lock btr %2, %0; setc %1"
                  : "+m" (arr[nr / BITS_PER_WORD]), "=qm" (old)
                  : "r" ((xen_ulong_t)(nr % BITS_PER_WORD)) : "memory");
    return old;
}

static inline void set_bit_atomic(volatile xen_ulong_t *arr, unsigned int nr)
{
    asm volatile ("lock bts %1, %0"
                  : "+m" (arr[nr / BITS_PER_WORD])
                  : "r" ((xen_ulong_t)(nr % BITS_PER_WORD)) : "memory");
}

#endif
