/* Guard pages (guard.h): a pattern that differs from page to page and from zeros. */
#include "guard.h"

uint8_t guard_byte(size_t i)
{
    return 0xa5 ^ (uint8_t)(i * 7) ^ (uint8_t)(i >> 12);
}

/*
 * guard_byte() of the 8 bytes from i, a multiple of 8, as one word: byte k
 * is i * 7 + k * 7, added bytewise (no carry between bytes), and the page's part.
 */
static uint64_t guard_word(size_t i)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    const uint64_t steps = 0x312a231c150e0700ull;   /* k * 7 in byte k */
    uint64_t base = (uint8_t)(i * 7) * ones;
    uint64_t sum = ((base & ~high) + (steps & ~high)) ^ ((base ^ steps) & high);

    return sum ^ (uint8_t)(0xa5 ^ (i >> 12)) * ones;
}

void guard_fill(uint8_t *p, size_t len)
{
    for ( size_t i = 0; i < len; i++ )
        p[i] = guard_byte(i);
}

long guard_find(const uint8_t *p, size_t len)
{
    size_t i = 0;

    /*
     * A word at a time while the words match: every sweep checks some 20
     * pages, and byte by byte that was a good part of a sweep under TCG.
     * The first word that differs is looked at byte by byte.
     */
    if ( !((uintptr_t)p & 7) )
        for ( ; i + 8 <= len; i += 8 )
            if ( __atomic_load_n((const uint64_t *)(p + i), __ATOMIC_RELAXED) != guard_word(i) )
                break;
    for ( ; i < len; i++ )
        if ( __atomic_load_n(&p[i], __ATOMIC_RELAXED) != guard_byte(i) )
            return i;
    return -1;
}
