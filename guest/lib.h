/* Freestanding helpers: string functions and a small printf. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include "lib-host.h"
#include "barrier.h"            /* barrier(), mb(), rmb(), wmb(): arch/ */

/* Writes to the console (console.c). */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
