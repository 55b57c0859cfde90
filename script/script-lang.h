/*
 * The guest-script language, defined once (docs/guest-script.md).
 *
 * Read by the script parser (script_parse.c), the guest's op table
 * (guest/script.c), the fuzzer's list of operations (guest/fuzz/ops.h: their
 * names), dom0's ops (dom0/ops.c) and, with a small regex reader, by the
 * orchestrator (orchestrator/lang.py).  Like xen/errno.h's XEN_ERRNO, it is a list of
 * macro calls: define the ones you want, then include this file; the
 * others expand to nothing.  No include guard: include it once per table.
 * Keep one entry per line, in exactly this form, for the Python reader.
 *
 * SCRIPT_LIMIT(name, value)
 *     MAX_LINE: characters per script line; MAX_TOKS: tokens per line;
 *     MAX_ARGS: arguments per op; MAX_VARS: variables one case may set;
 *     NAME_LEN: case, domain and variable names are shorter than this;
 *     KEY_LEN: xenstore keys (put/get) are shorter than this;
 *     RTT_MAX: round trips one rtt step may time (a literal n above it is
 *     refused when the script is read; a $var above it at run time).
 *
 * SCRIPT_OP(name, args, value, who)
 *     args, one letter per argument:
 *       n  a number: literal (17, 0x1f), $var, @NAME or self
 *       w  a pingpong/rtt role: a `w` keyword (first, second)
 *       g  a gfn kind: a `g` keyword (page, bad) or a number
 *       k  a xenstore key
 *       v  a number or a key (put's value)
 *       D  a domain NAME, `@` optional (get's peer)
 *     value: NONE, NUM (`ok <n>`, `=> var`) or STATUS (`ok <kind> [f=v]...`)
 *     who: GUEST (guest domains), DOM0 (guests and Dom0, through
 *     dom0/evtchn-op), PRIV (Dom0 only: the toolstack's), HARNESS (the
 *     compiler's own: not for case files)
 *
 * SCRIPT_STATUS_FIELD(name)
 *     a field of an EVTCHNOP_status answer, in the order results print them
 * SCRIPT_STATUS_KIND(name, EVTCHNSTAT_x, fields)
 *     fields: the SF(field)s Xen reports for the kind, or-ed; 0 for none
 * SCRIPT_KEYWORD(name, kind)
 *     a word an argument of that kind letter (a char literal) accepts
 */

#ifndef SCRIPT_LIMIT
#define SCRIPT_LIMIT(name, value)
#endif
#ifndef SCRIPT_OP
#define SCRIPT_OP(name, args, value, who)
#endif
#ifndef SCRIPT_STATUS_FIELD
#define SCRIPT_STATUS_FIELD(name)
#endif
#ifndef SCRIPT_STATUS_KIND
#define SCRIPT_STATUS_KIND(name, stat, fields)
#endif
#ifndef SCRIPT_KEYWORD
#define SCRIPT_KEYWORD(name, kind)
#endif

SCRIPT_LIMIT(MAX_LINE, 255)
SCRIPT_LIMIT(MAX_TOKS, 32)
SCRIPT_LIMIT(MAX_ARGS, 4)
SCRIPT_LIMIT(MAX_VARS, 64)
SCRIPT_LIMIT(NAME_LEN, 64)
SCRIPT_LIMIT(KEY_LEN, 96)
SCRIPT_LIMIT(RTT_MAX, 10000)

/* EVTCHNOP_<name>: arguments in the field order of struct evtchn_<name>. */
SCRIPT_OP(alloc_unbound, "nn", NUM, DOM0)
SCRIPT_OP(bind_interdomain, "nn", NUM, DOM0)
SCRIPT_OP(bind_virq, "nn", NUM, GUEST)
SCRIPT_OP(bind_ipi, "n", NUM, GUEST)
SCRIPT_OP(bind_pirq, "nn", NUM, GUEST)
SCRIPT_OP(close, "n", NONE, DOM0)
SCRIPT_OP(send, "n", NONE, DOM0)
SCRIPT_OP(status, "nn", STATUS, DOM0)
SCRIPT_OP(bind_vcpu, "nn", NONE, GUEST)
SCRIPT_OP(unmask, "n", NONE, DOM0)
SCRIPT_OP(reset, "n", NONE, DOM0)
SCRIPT_OP(raw, "n", NONE, GUEST)
SCRIPT_OP(bad_arg, "n", NONE, GUEST)
SCRIPT_OP(readonly_args, "n", NONE, GUEST)
SCRIPT_OP(init_control, "gnn", NONE, GUEST)
SCRIPT_OP(expand_array, "g", NONE, GUEST)
SCRIPT_OP(set_priority, "nn", NONE, GUEST)
/* The harness's own ops (docs/guest-script.md, "Harness ops"). */
SCRIPT_OP(wait, "nnn", NUM, DOM0)
SCRIPT_OP(count, "n", NUM, DOM0)
SCRIPT_OP(pingpong, "nnwn", NUM, DOM0)
SCRIPT_OP(rtt, "nnwn", NUM, DOM0)
SCRIPT_OP(fault, "n", NONE, GUEST)
SCRIPT_OP(mask, "n", NONE, GUEST)
SCRIPT_OP(pending, "n", NUM, GUEST)
SCRIPT_OP(set_timer, "n", NONE, GUEST)
SCRIPT_OP(count_on, "nn", NUM, GUEST)
SCRIPT_OP(send_many, "nn", NUM, DOM0)
SCRIPT_OP(bind_many, "n", NUM, GUEST)
SCRIPT_OP(fifo_init, "", NONE, GUEST)
SCRIPT_OP(hold, "", NONE, GUEST)
SCRIPT_OP(release, "", NONE, GUEST)
SCRIPT_OP(seq, "n", NUM, GUEST)
SCRIPT_OP(fuzz, "nn", NUM, GUEST)
SCRIPT_OP(fuzz_with, "nnn", NUM, GUEST)
SCRIPT_OP(register_vcpu_info, "nn", NONE, GUEST)
SCRIPT_OP(shutdown, "n", NONE, GUEST)
SCRIPT_OP(destroy, "n", NONE, PRIV)
SCRIPT_OP(debug_key, "n", NONE, PRIV)
SCRIPT_OP(chaos, "nnn", NUM, PRIV)
SCRIPT_OP(virq_handler, "nn", NONE, PRIV)
/* Written by the compiler only: rendezvous through xenstore, pingpong's and rtt's base. */
SCRIPT_OP(mark, "n", NUM, HARNESS)
SCRIPT_OP(put, "kv", NONE, HARNESS)
SCRIPT_OP(get, "Dkn", NUM, HARNESS)

SCRIPT_STATUS_FIELD(dom)
SCRIPT_STATUS_FIELD(port)
SCRIPT_STATUS_FIELD(pirq)
SCRIPT_STATUS_FIELD(virq)
SCRIPT_STATUS_FIELD(vcpu)

SCRIPT_STATUS_KIND(closed, EVTCHNSTAT_closed, 0)
SCRIPT_STATUS_KIND(unbound, EVTCHNSTAT_unbound, SF(dom) | SF(vcpu))
SCRIPT_STATUS_KIND(interdomain, EVTCHNSTAT_interdomain, SF(dom) | SF(port) | SF(vcpu))
SCRIPT_STATUS_KIND(pirq, EVTCHNSTAT_pirq, SF(pirq) | SF(vcpu))
SCRIPT_STATUS_KIND(virq, EVTCHNSTAT_virq, SF(virq) | SF(vcpu))
SCRIPT_STATUS_KIND(ipi, EVTCHNSTAT_ipi, SF(vcpu))

SCRIPT_KEYWORD(first, 'w')
SCRIPT_KEYWORD(second, 'w')
SCRIPT_KEYWORD(page, 'g')
SCRIPT_KEYWORD(bad, 'g')
SCRIPT_KEYWORD(pagetable, 'g')

#undef SCRIPT_LIMIT
#undef SCRIPT_OP
#undef SCRIPT_STATUS_FIELD
#undef SCRIPT_STATUS_KIND
#undef SCRIPT_KEYWORD
