/*
 * The guest's ops, one function per op of script-lang.h (s the step, a its
 * arguments resolved to numbers, a plain word staying in s->args): the
 * sub-commands of EVTCHNOP_* in ops_evtchn.c, what a case sees of events in
 * ops_events.c, the rendezvous in script.c, which holds the table.
 */
#ifndef GUEST_OPS_H
#define GUEST_OPS_H

#include "script_core.h"

#define OP(name) void op_##name(const struct stmt *s, const int64_t *a, struct result *r)

#define SCRIPT_OP(name, args, value, who) SCRIPT_OP_##who(name)
#define SCRIPT_OP_GUEST(name) OP(name);
#define SCRIPT_OP_DOM0(name) OP(name);
#define SCRIPT_OP_PRIV(name)    /* the toolstack's: Dom0 only */
#define SCRIPT_OP_HARNESS(name) OP(name);
#include "script-lang.h"
#undef SCRIPT_OP_GUEST
#undef SCRIPT_OP_DOM0
#undef SCRIPT_OP_PRIV
#undef SCRIPT_OP_HARNESS

/* What each file's ops keep from step to step, undone at each case's start. */
void ops_evtchn_case_begin(void);
void ops_events_case_begin(void);

#endif
