/*
 * The C library the script engine (script_parse.c, script_core.c) and its
 * users rely on: the prototypes match the C library's, so the engine links
 * with the guest's freestanding lib.c (guest/lib.h includes this) or with a
 * host's C library (dom0/'s evtchn-op, the host tests).
 */
#ifndef SCRIPT_LIB_HOST_H
#define SCRIPT_LIB_HOST_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/*
 * splitmix64: one 64-bit state, so a seed names a whole stream of numbers.
 * The fuzzer's (guest/fuzz/choices.c) and dom0's chaos actor's (dom0/chaos.c).
 */
static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/*
 * The digits of s in base 10 or 16, at most max; 0 on success, -1 for an
 * empty string, another character or a value past max.  The one number
 * reader under parse_int() and the script parser's parse_num().
 */
static inline int parse_digits(const char *s, unsigned int base, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if ( !*s )
        return -1;
    for ( ; *s; s++ )
    {
        unsigned int d;

        if ( *s >= '0' && *s <= '9' )
            d = *s - '0';
        else if ( base == 16 && *s >= 'a' && *s <= 'f' )
            d = *s - 'a' + 10;
        else if ( base == 16 && *s >= 'A' && *s <= 'F' )
            d = *s - 'A' + 10;
        else
            return -1;
        if ( d > max || v > (max - d) / base )
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* A decimal or 0x-hex integer, optional leading '-'. 0 on success. */
static inline int parse_int(const char *s, int64_t *out)
{
    int neg = 0;
    unsigned int base = 10;
    uint64_t v;

    if ( *s == '-' )
        neg = 1, s++;
    if ( s[0] == '0' && (s[1] == 'x' || s[1] == 'X') )
        base = 16, s += 2;
    if ( parse_digits(s, base, UINT64_MAX, &v) )
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
