/* Freestanding helpers: string functions and a small printf. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include "lib-host.h"

#define barrier() asm volatile ("" ::: "memory")
/* x86 is TSO; ring protocols only need compiler ordering plus mfence for
 * the store->load cases. */
#define mb()  asm volatile ("mfence" ::: "memory")
#define rmb() barrier()
#define wmb() barrier()

/* Parse a decimal or 0x-hex integer, optional leading '-'. 0 on success. */
int parse_int(const char *s, int64_t *out);

/* Writes to the console (console.c). */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
