/*
 * The guest's last words: a fatal exception, or Xen's failsafe callback, as
 * one "EVT CRASH" line (the harness's crash report), the console flushed,
 * then SHUTDOWN_crash.  traps_init() is handed these, so that the arch code
 * below knows nothing of the console, the event channels or the vcpus.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include "guest.h"
#include "console.h"
#include "crash.h"
#include "events.h"
#include "evt-lines.h"
#include "lib.h"
#include "smp.h"
#include "traps.h"

static void crash_trap(const struct trap_frame *f, const char *name)
{
    static int nested;
    /* Xen leaves the faulting address in the faulting vcpu's own vcpu_info. */
    unsigned long cr2 = shared_info ? vcpu_info_of(smp_this_vcpu())->arch.cr2 : 0;

    /* A fault while reporting a fault: just stop. */
    if ( nested++ )
        guest_shutdown(SHUTDOWN_crash);

    EVT_PRINTF(EVT_CRASH, f->vector, name, f->error_code, f->rip, cr2, f->rsp, smp_this_vcpu());
    console_flush();
    guest_shutdown(SHUTDOWN_crash);
}

static void crash_failsafe(const uint64_t *frame)
{
    /* frame: rcx, r11, ds, es, fs, gs, rip, cs, rflags, rsp, ss */
    EVT_PRINTF(EVT_CRASH_FAILSAFE, frame[6], frame[9]);
    console_flush();
    guest_shutdown(SHUTDOWN_crash);
}

const struct trap_fatal crash_report = { .trap = crash_trap, .failsafe = crash_failsafe };
