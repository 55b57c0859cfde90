/* The guest's test-script interpreter (docs/guest-script.md). */
#ifndef GUEST_SCRIPT_H
#define GUEST_SCRIPT_H

#include <stddef.h>
#include "script_core.h"

/* Runs the whole script: the ramdisk Xen loaded for us, or script_from_store()'s. */
struct script_totals script_run(const char *text, size_t len);

/*
 * The largest script a domain can be given through xenstore: one made before
 * its group was known, standing by in the saved machine (orchestrator/runner.py
 * STANDBY_SCRIPT_MAX, which keeps to it).
 */
#define SCRIPT_STORE_MAX (64 << 10)

/* The script given through xenstore (script_fetch()): NULL, or what failed. */
const char *script_from_store(const char **text, size_t *len);

#endif
