/* Guard pages (guard.h): a pattern that differs from page to page and from zeros. */
#include "guard.h"

uint8_t guard_byte(size_t i)
{
    return 0xa5 ^ (uint8_t)(i * 7) ^ (uint8_t)(i >> 12);
}

void guard_fill(uint8_t *p, size_t len)
{
    for ( size_t i = 0; i < len; i++ )
        p[i] = guard_byte(i);
}

long guard_find(const uint8_t *p, size_t len)
{
    for ( size_t i = 0; i < len; i++ )
        if ( __atomic_load_n(&p[i], __ATOMIC_RELAXED) != guard_byte(i) )
            return i;
    return -1;
}
