/* The guest's test-script interpreter (docs/guest-script.md). */
#ifndef GUEST_SCRIPT_H
#define GUEST_SCRIPT_H

#include <stddef.h>
#include "script_core.h"

/* Runs the whole script: the ramdisk Xen loaded for us. */
struct script_totals script_run(const char *text, size_t len);

#endif
