/*
 * The script interpreter, apart from where it runs: a guest (script.c) and
 * dom0 (dom0/main.c) run the same steps the same way and print the same
 * EVT lines.  What differs, each place gives in a struct script_env: the ops
 * it can issue, how it names domains, reaches xenstore and keeps time.
 *
 * No hypercalls and no libc beyond lib-host.h, so both can link it.
 */
#ifndef SCRIPT_SCRIPT_CORE_H
#define SCRIPT_SCRIPT_CORE_H

#include <xen/event_channel.h>
#include "evt-lines.h"
#include "script_parse.h"

/*
 * The harness's folder in a domain's xenstore home (orchestrator/domain.py's
 * XS_DIR): dom/<NAME> holds each domain's id, pub/<KEY> what put publishes.
 */
#define XS_DIR "data/evtchn-test"

/*
 * A script given through xenstore (evtchn-op --give-script), to a domain that
 * stood by in the saved machine before its group was known: SCRIPT_CHUNK bytes
 * in each XS_DIR/script/<i>, then their number in XS_DIR/script/n, written last.
 */
#define SCRIPT_CHUNK 2048

/* A 'g' argument: the word `page` (a good frame of ours) or any other word. */
enum script_frame { FRAME_PAGE = 0, FRAME_BAD = 1, FRAME_PAGETABLE = 2 };

/* What one step got. */
struct result {
    long rc;                    /* 0 or -errno from Xen */
    const char *err;            /* an errno name from elsewhere (xenstore, the guest) */
    int has_val;
    int64_t val;
    const char *val_str;        /* a non-numeric value (get) */
    int has_status;
    struct evtchn_status st;
};

typedef void script_op_fn(const struct stmt *s, const int64_t *a, struct result *r);

struct script_env {
    /* Before each "EVT" line: "" where a relay names the domain already. */
    const char *prefix;
    /* One per op of script-lang.h; NULL: not an op of this place. */
    script_op_fn *const *ops;
    /* @NAME's domain id; 0, or -1 if unknown. */
    int (*dom_lookup)(const char *name, int64_t *id);
    /* Undo what the last case left behind; describe it for CASE-BEGIN. */
    void (*case_begin)(char *detail, size_t size);
    /* Close what the case opened that case_begin would not. */
    void (*case_end)(void);
    /* An errno name, or NULL with the value (NUL-terminated) in buf. */
    const char *(*xs_read)(const char *path, char *buf, size_t size);
    void (*write)(const char *text, size_t len);
    uint64_t (*now_ns)(void);
    void (*sleep_ms)(uint64_t ms);
};

struct script_totals {
    unsigned int pass, fail;
    int bad_script;
    int crashed;
};

/*
 * Checks the whole script, then runs it case by case; a bad line is
 * reported (EVT SCRIPT-ERROR) and then nothing runs.
 */
struct script_totals script_interpret(const struct script_env *env, const char *text, size_t len);

/*
 * One EVT line: fmt is its EVT_<ID> of evt-lines.h, followed by the format of
 * what its EVT_REST adds, if it has one; the place's prefix, "EVT " and the
 * newline are added.
 */
void script_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * An rtt step's samples (sorted in place) as one EVT RTT line: n, the replies
 * counted before their send (early), min, median, p99 and max in ns.
 */
void script_rtt_report(const struct stmt *s, uint64_t *ns, size_t n, int64_t early);

/*
 * The script given through xenstore, into text (size bytes, NUL-terminated):
 * NULL and its length in *len, or what failed (an errno name: ENOENT before
 * XS_DIR/script/n is there, EBADMSG for a chunk empty or short of the next).
 */
const char *script_fetch(const struct script_env *e, char *text, size_t size, size_t *len);

/* get: poll /local/domain/<domid>/XS_DIR/pub/<key> until it is there. */
void script_get(int64_t domid, const char *key, int64_t timeout_ms, struct result *r);

#endif
