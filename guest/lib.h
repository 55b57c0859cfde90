/* Freestanding helpers: string functions and a small printf. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include "lib-host.h"
#include "barrier.h"            /* barrier(), mb(), rmb(), wmb(): arch/ */

/*
 * Writes to where lib_set_output() said: the console driver, once
 * console_init() found a ring (console.c); before that, and in dom0,
 * CONSOLEIO_write (Xen's own console).  So lib.c, which everything uses,
 * uses nothing of the guest above it.
 */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lib_set_output(void (*write)(const char *buf, size_t len));

#endif
