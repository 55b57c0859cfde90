/*
 * C entry: bring up traps, shared_info, console and xenstore, run the
 * script handed over as the ramdisk, then shut down with the verdict.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/version.h>
#include <xen/event_channel.h>
#include "guest.h"
#include "console.h"
#include "crash.h"
#include "events.h"
#include "hypercall.h"
#include "evt-lines.h"
#include "lib.h"
#include "script.h"
#include "smp.h"
#include "traps.h"
#include "xenstore.h"

domid_t self_domid;

/*
 * Our own domid without xenstore: an unbound port whose remote is
 * DOMID_SELF records the resolved id, which EVTCHNOP_status reports.
 */
static domid_t find_self_domid(void)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    struct evtchn_status st = { .dom = DOMID_SELF };
    struct evtchn_close c;

    if ( HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a) )
        return DOMID_SELF;
    st.port = a.port;
    c.port = a.port;
    if ( HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) ||
         st.status != EVTCHNSTAT_unbound )
        st.u.unbound.dom = DOMID_SELF;
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
    return st.u.unbound.dom;
}

/*
 * The first megabyte, below the kernel (guest.lds): Xen maps it from VIRT_BASE, and
 * nothing of ours lives there.  Unmapped, as Linux keeps it, a NULL dereference
 * faults instead of reading our memory, ours and Xen's alike while it runs on our
 * page tables.  0, or the first failure.
 */
static long unmap_low_memory(void)
{
    extern char _text[];

    for ( unsigned long va = 0; va < (unsigned long)_text; va += PAGE_SIZE )
    {
        long rc = HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG);

        if ( rc )
            return rc;
    }
    return 0;
}

/*
 * A domain made before its group was known, standing by in the saved machine
 * (xen-config/standby.sh): xl gave it no ramdisk but this command line, and
 * dom0 its script through xenstore once a group took it (create.sh).
 */
static int script_in_store(const start_info_t *si)
{
    return !strcmp((const char *)si->cmd_line, "script=xenstore");
}

/* How BOOT says an op's rc: its word when it did what it should, else ERR<rc>. */
static const char *rc_word(char *buf, size_t size, long rc, const char *ok)
{
    if ( !rc )
        return ok;
    snprintf(buf, size, "ERR%ld", rc);
    return buf;
}

void guest_main(start_info_t *si);
void guest_main(start_info_t *si)
{
    xen_extraversion_t extra;
    long ver;
    struct script_totals t;
    struct smp_info smp;
    char low_buf[24], timer_buf[24];
    const char *low, *timer, *text = (const char *)si->mod_start, *store_err = NULL;
    size_t script_len = si->mod_start ? si->mod_len : 0;
    long low_rc;

    start_info = si;
    low_rc = unmap_low_memory();
    traps_init(&crash_report);
    events_init();
    console_init();
    xs_init();
    smp = smp_init();
    events_unmask();            /* Xen starts us with upcalls masked */

    self_domid = find_self_domid();
    ver = HYPERVISOR_xen_version(XENVER_version, NULL);
    memset(extra, 0, sizeof(extra));
    HYPERVISOR_xen_version(XENVER_extraversion, extra);
    extra[sizeof(extra) - 1] = '\0';

    if ( script_in_store(si) )
        store_err = script_from_store(&text, &script_len);
    low = rc_word(low_buf, sizeof(low_buf), low_rc, "unmapped");
    timer = rc_word(timer_buf, sizeof(timer_buf), smp.timer_rc, "off");
    if ( smp.up_rc )
        EVT_PRINTF(EVT_BOOT_VCPU_DOWN, self_domid, ver >> 16, ver & 0xffff, extra, script_len, smp.up,
                   smp.up_rc, low, timer);
    else
        EVT_PRINTF(EVT_BOOT, self_domid, ver >> 16, ver & 0xffff, extra, script_len, smp.up, low, timer);

    if ( store_err )
    {
        EVT_PRINTF(EVT_SCRIPT_ERROR " the script in xenstore: %s", 0u, store_err);
        t = (struct script_totals){ .bad_script = 1 };
    }
    else
        t = script_run(text, script_len);

    EVT_PRINTF(EVT_DONE, t.pass, t.fail);
    console_flush();
    guest_shutdown(t.crashed ? SHUTDOWN_crash :
                   (t.fail || t.bad_script) ? SHUTDOWN_reboot : SHUTDOWN_poweroff);
}
