/*
 * Console output.  A domU writes the PV console ring (start_info console
 * page/evtchn) and notifies xenconsoled; dom0 has no ring and uses
 * CONSOLEIO_write, which reaches Xen's serial console.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/console.h>
#include "guest.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "lib.h"

#define WRITE_TIMEOUT_MS 2000
#define FLUSH_TIMEOUT_MS 5000

static struct xencons_interface *ring;
static evtchn_port_t port;

void console_init(void)
{
    if ( is_dom0() || !start_info->console.domU.mfn )
        return;
    ring = mfn_to_virt(start_info->console.domU.mfn);
    port = start_info->console.domU.evtchn;
    events_driver_port(EVENTS_CONSOLE, port);
    lib_set_output(console_write);      /* printf() from here on */
}

evtchn_port_t console_port(void)
{
    return ring ? port : 0;
}

void console_set_port(evtchn_port_t p)
{
    port = p;
    events_driver_port(EVENTS_CONSOLE, ring ? port : 0);
    if ( ring && port )
        evtchn_notify(port);    /* let the backend see what piled up */
}

static int ring_has_space(void *arg)
{
    (void)arg;
    return ring->out_prod - ring->out_cons < sizeof(ring->out);
}

static int ring_drained(void *arg)
{
    (void)arg;
    return ring->out_cons == ring->out_prod;
}

void console_write(const char *buf, size_t len)
{
    if ( !ring )
    {
        HYPERVISOR_console_io(CONSOLEIO_write, len, buf);
        return;
    }

    while ( len )
    {
        XENCONS_RING_IDX prod = ring->out_prod;

        if ( prod - ring->out_cons >= sizeof(ring->out) )
        {
            /* No way to wake the backend (early boot, or a reset's window): drop. */
            if ( !shared_info || !port )
                return;
            /*
             * Otherwise wait for it, however long a busy host makes that: a result
             * line dropped here is a verdict lost.  The harness's budget for the
             * guest, not a timeout here, catches a backend that never comes.
             */
            do
                evtchn_notify(port);
            while ( !wait_until(port, ring_has_space, NULL,
                                now_ns() + MS_TO_NS(WRITE_TIMEOUT_MS)) );
            continue;
        }
        while ( len && prod - ring->out_cons < sizeof(ring->out) )
        {
            ring->out[MASK_XENCONS_IDX(prod, ring->out)] = *buf++;
            prod++, len--;
        }
        wmb();                  /* data before index */
        ring->out_prod = prod;
    }
    if ( port )
        evtchn_notify(port);
}

void console_flush(void)
{
    if ( !ring || !shared_info )
        return;
    if ( !port )
        return;
    /* The last lines (DONE) before shutdown: waited for as the others are. */
    do
        evtchn_notify(port);
    while ( !wait_until(port, ring_drained, NULL, now_ns() + MS_TO_NS(FLUSH_TIMEOUT_MS)) );
}
