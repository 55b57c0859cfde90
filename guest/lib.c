/* Freestanding helpers: string functions and a small printf. */
#include <stdint.h>
#include <xen/xen.h>
#include "lib.h"
#include "hypercall.h"

void *memset(void *s, int c, size_t n)
{
    unsigned char *p = s;
    while ( n-- )
        *p++ = (unsigned char)c;
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while ( n-- )
        *dp++ = *sp++;
    return d;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while ( s[n] )
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while ( *a && *a == *b )
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for ( ; n; n--, a++, b++ )
    {
        if ( *a != *b )
            return (unsigned char)*a - (unsigned char)*b;
        if ( !*a )
            break;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for ( ; *s; s++ )
        if ( *s == (char)c )
            return (char *)s;
    return c ? NULL : (char *)s;
}

struct outbuf {
    char *buf;
    size_t size, len;
};

static void put(struct outbuf *o, char c)
{
    if ( o->len + 1 < o->size )
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct outbuf *o, uint64_t v, unsigned int base, int neg,
                    unsigned int width, char pad)
{
    char tmp[24];
    unsigned int n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while ( v );
    if ( neg )
        tmp[n++] = '-';
    for ( ; width > n; width-- )
        put(o, pad);
    while ( n )
        put(o, tmp[--n]);
}

/* Supports %d %i %u %x %ld %lu %lx %lld.. %s %c %%, width and '0' flag. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct outbuf o = { buf, size, 0 };

    for ( ; *fmt; fmt++ )
    {
        char pad = ' ';
        unsigned int width = 0, lng = 0;

        if ( *fmt != '%' )
        {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        if ( *fmt == '0' )
            pad = '0', fmt++;
        while ( *fmt >= '0' && *fmt <= '9' )
            width = width * 10 + (*fmt++ - '0');
        while ( *fmt == 'l' )
            lng++, fmt++;

        switch ( *fmt )
        {
        case 'd': case 'i':
        {
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
            put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int),
                    10, 0, width, pad);
            break;
        case 'x':
            put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int),
                    16, 0, width, pad);
            break;
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 's':
        {
            const char *s = va_arg(ap, const char *);
            size_t n = strlen(s ? s : "(null)");
            for ( ; width > n; width-- )
                put(&o, pad);
            for ( s = s ? s : "(null)"; *s; s++ )
                put(&o, *s);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if ( size )
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void hypervisor_write(const char *buf, size_t len)
{
    HYPERVISOR_console_io(CONSOLEIO_write, len, buf);
}

static void (*output)(const char *buf, size_t len) = hypervisor_write;

void lib_set_output(void (*write)(const char *buf, size_t len))
{
    output = write;
}

void printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if ( n > (int)sizeof(buf) - 1 )
        n = sizeof(buf) - 1;
    output(buf, n);
}
