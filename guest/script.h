/* The test-script interpreter (docs/guest-script.md). */
#ifndef GUEST_SCRIPT_H
#define GUEST_SCRIPT_H

#include <stddef.h>

/*
 * The harness's folder in a domain's xenstore home (orchestrator/domain.py's
 * XS_DIR): dom/<NAME> holds each domain's id, pub/<KEY> what put publishes.
 */
#define XS_DIR "data/evtchn-test"

struct script_totals {
    unsigned int pass, fail;
    int bad_script;
    int crashed;
};

/* Runs the whole script (modified in place: it is our ramdisk copy). */
struct script_totals script_run(char *text, size_t len);

#endif
