/* Freestanding helpers: string functions and a small printf. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define barrier() asm volatile ("" ::: "memory")
/* x86 is TSO; ring protocols only need compiler ordering plus mfence for
 * the store->load cases. */
#define mb()  asm volatile ("mfence" ::: "memory")
#define rmb() barrier()
#define wmb() barrier()

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* Parse a decimal or 0x-hex integer, optional leading '-'. 0 on success. */
int parse_int(const char *s, int64_t *out);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes to the console (console.c). */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
