/*
 * The EVT lines, defined once: every line a guest, dom0's evtchn-op and the
 * Linux peer print on the console for the harness, each tag and its fields
 * in order (docs/guest-script.md, "Results on the console").
 *
 * C prints a line through its macro, which is its printf format: the field
 * names are written here only, and -Wformat holds each argument to its
 * field's conversion.  The orchestrator reads this file with a small regex
 * reader (orchestrator/evtlines.py) and builds its parsers from it
 * (orchestrator/results.py).  Saved logs and other tools read these bytes:
 * never rename, reorder or drop a field (docs/contributing.md, "A new EVT
 * line").
 *
 * Each line is `#define EVT_<ID> EVT_TAG("<tag>") <fields>`, <ID> its tag
 * in C's spelling (a tag of several forms has an <ID> for each, a word
 * appended), continued with backslashes; each field one of:
 *
 * EVT_KEY("name", "conv")   " name=<conv>"
 * EVT_WORD("name", "conv")  " <conv>": a value without its name, at its place
 * EVT_REST("name")          what the printer adds itself, to the end of the
 *                           line: its own format, from a space on, or nothing
 *
 * conv is printf's: one conversion, several with text between them (a value
 * of parts, FUZZ-PORT's), or a constant text.  As with X-macros, the field
 * macros are the includer's to define (these unless it did first): an
 * EVT_<ID> expands where it is used.
 */
#ifndef SCRIPT_EVT_LINES_H
#define SCRIPT_EVT_LINES_H

#ifndef EVT_TAG
#define EVT_TAG(tag) tag
#endif
#ifndef EVT_KEY
#define EVT_KEY(name, conv) " " name "=" conv
#endif
#ifndef EVT_WORD
#define EVT_WORD(name, conv) " " conv
#endif
#ifndef EVT_REST
#define EVT_REST(name) ""
#endif

/* A whole line printed with printf() (script_say() adds "EVT " and the end itself). */
#define EVT_PRINTF(fmt, ...) printf("EVT " fmt "\n", ##__VA_ARGS__)

/* ---- the interpreter's (script/script_core.c), wherever it runs ---- */

/* A case begins: the place's words on what it reset (guest/script.c case_begin()). */
#define EVT_CASE_BEGIN EVT_TAG("CASE-BEGIN") EVT_WORD("case", "%s") EVT_REST("detail")
/* One step: its args resolved, decimal; expect and got as "ok", "ok:<v>", an errno name, ERR<n>. */
#define EVT_RESULT EVT_TAG("RESULT") EVT_KEY("case", "%s") EVT_KEY("line", "%ld") EVT_KEY("op", "%s") \
    EVT_KEY("args", "%s") EVT_KEY("expect", "%s") EVT_KEY("got", "%s") EVT_KEY("verdict", "%s")
/* An rtt step's round trips: how many, those answered before their send, nearest-rank times. */
#define EVT_RTT EVT_TAG("RTT") EVT_KEY("case", "%s") EVT_KEY("line", "%ld") EVT_KEY("n", "%lu") \
    EVT_KEY("early", "%ld") EVT_KEY("min_ns", "%lu") EVT_KEY("median_ns", "%lu") \
    EVT_KEY("p99_ns", "%lu") EVT_KEY("max_ns", "%lu")
/* A case ends: the lines it printed, and its time in microseconds, reset included. */
#define EVT_CASE_END EVT_TAG("CASE-END") EVT_WORD("case", "%s") EVT_KEY("pass", "%u") EVT_KEY("fail", "%u") \
    EVT_KEY("us", "%lu")
/* A script line the parser refused (line 0: no script at all); nothing runs. */
#define EVT_SCRIPT_ERROR EVT_TAG("SCRIPT-ERROR") EVT_KEY("line", "%u") EVT_REST("message")
/* Words for a reader, judged by nobody. */
#define EVT_NOTE EVT_TAG("NOTE") EVT_REST("text")

/* ---- a domain's first and last line (guest/main.c, dom0/) ---- */

/* The guest's: each value of the last two "ERR<rc>" when it failed. */
#define EVT_BOOT EVT_TAG("BOOT") EVT_KEY("domid", "%u") EVT_KEY("xen", "%ld.%ld%s") EVT_KEY("script", "%lu") \
    EVT_KEY("vcpus", "%u") EVT_KEY("low-1m", "%s") EVT_KEY("periodic-timer", "%s")
/* The same when a secondary vcpu did not come up: VCPUOP_up's answer. */
#define EVT_BOOT_VCPU_DOWN EVT_TAG("BOOT") EVT_KEY("domid", "%u") EVT_KEY("xen", "%ld.%ld%s") \
    EVT_KEY("script", "%lu") EVT_KEY("vcpus", "%u") EVT_KEY("vcpu-up", "ERR%ld") EVT_KEY("low-1m", "%s") \
    EVT_KEY("periodic-timer", "%s")
/* The Linux peer's (dom0/xs.c): its domid ties its answers to its role. */
#define EVT_BOOT_PEER EVT_TAG("BOOT") EVT_KEY("domid", "%s") EVT_KEY("peer", "linux") EVT_KEY("kernel", "%s")
/* The totals of every case's lines; then the domain shuts down. */
#define EVT_DONE EVT_TAG("DONE") EVT_KEY("pass", "%u") EVT_KEY("fail", "%u")
/* A fatal trap (guest/crash.c): its vector, name, error code and registers. */
#define EVT_CRASH EVT_TAG("CRASH") EVT_KEY("vec", "%lu") EVT_WORD("name", "%s") EVT_KEY("err", "%lx") \
    EVT_KEY("rip", "%lx") EVT_KEY("cr2", "%lx") EVT_KEY("rsp", "%lx") EVT_KEY("vcpu", "%u")
/* Xen's failsafe callback: no trap frame, no vcpu. */
#define EVT_CRASH_FAILSAFE EVT_TAG("CRASH") EVT_KEY("vec", "-1") EVT_WORD("name", "FAILSAFE") EVT_KEY("err", "0") \
    EVT_KEY("rip", "%lx") EVT_KEY("cr2", "0") EVT_KEY("rsp", "%lx")

/* ---- the fuzzer's (guest/fuzz/) ---- */

/* At a fuzz step's start: each vcpu's page of last operations (struct fuzz_ring), frames in hex. */
#define EVT_FUZZ_RING EVT_TAG("FUZZ-RING") EVT_KEY("seed", "%lu") EVT_KEY("vcpus", "%u") EVT_KEY("mfns", "%s")
/* At its end. */
#define EVT_FUZZ EVT_TAG("FUZZ") EVT_KEY("seed", "%lu") EVT_KEY("vcpus", "%u") EVT_KEY("ops", "%lu") \
    EVT_KEY("mismatches", "%u") EVT_KEY("ns", "%lu") EVT_KEY("valid", "%u") EVT_KEY("open", "%u") \
    EVT_KEY("fifo_ops", "%lu") EVT_KEY("switches", "%lu") EVT_KEY("cross", "%lu") EVT_KEY("raced", "%lu")
/* A finding: the check that failed, what the model expected and what Xen said. */
#define EVT_FUZZ_MISMATCH EVT_TAG("FUZZ-MISMATCH") EVT_KEY("seed", "%lu") EVT_KEY("vcpu", "%u") \
    EVT_KEY("op", "%lu") EVT_KEY("what", "%s") EVT_KEY("port", "%u") EVT_KEY("model", "%ld") \
    EVT_KEY("xen", "%ld")
/* A port the finding concerns, as the model and as Xen see it. */
#define EVT_FUZZ_PORT EVT_TAG("FUZZ-PORT") EVT_KEY("port", "%u") \
    EVT_KEY("model", "%s,owner=%u,vcpu=%u,rdom=%u,rport=%u,pending=%u,masked=%u,upcalls=%u,born=%u,racy=%u," \
                     "drained=%lu/%lu,uncounted=%u") \
    EVT_KEY("xen", "rc:%ld,status:%u,vcpu=%u,dom=%u,port=%u,pending=%u,masked=%u,upcalls=%u(%u+%u),handler=%u")
/* On FIFO: its event word (guest/event_fifo.c)... */
#define EVT_FUZZ_FIFO_PORT EVT_TAG("FUZZ-FIFO") EVT_KEY("port", "%u") EVT_KEY("word", "0x%08x") \
    EVT_KEY("pages", "%u")
/* ...and each vcpu's control block: " q<n>=head:<port>,word:<hex>,walk:<port>" a queue not empty. */
#define EVT_FUZZ_FIFO_VCPU EVT_TAG("FUZZ-FIFO") EVT_KEY("vcpu", "%u") EVT_KEY("ready", "0x%x") EVT_REST("queues")
/* One of a vcpu's last operations before the finding; also lastops.py's, read from memory. */
#define EVT_FUZZ_LAST EVT_TAG("FUZZ-LAST") EVT_KEY("vcpu", "%u") EVT_KEY("op", "%lu") \
    EVT_WORD("call", "%s(%u, %u)") EVT_REST("answer")
/* A finding of one vcpu, shrunk from `from` operations to `to`... */
#define EVT_FUZZ_SHRUNK EVT_TAG("FUZZ-SHRUNK") EVT_KEY("seed", "%lu") EVT_KEY("from", "%lu") EVT_KEY("to", "%lu")
/* ...each of them then a step of a case file, as domain A's (orchestrator/fuzz.py). */
#define EVT_FUZZ_STEP EVT_TAG("FUZZ-STEP") EVT_WORD("domain", "A") EVT_REST("step")
/* Every BEAT_MS of a fuzz step: still going (a slow guest is not a hung one)... */
#define EVT_FUZZ_PROGRESS EVT_TAG("FUZZ-PROGRESS") EVT_KEY("ops", "%lu")
/* ...or of its shrinking. */
#define EVT_FUZZ_PROGRESS_SHRINK EVT_TAG("FUZZ-PROGRESS") EVT_KEY("shrunk-to", "%lu")

#endif
