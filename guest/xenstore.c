/*
 * Minimal xenstore client: one request in flight, replies matched by
 * req_id, watch events (we register none) and stale replies skipped.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include "guest.h"
#include "xenstore.h"
#include "events.h"
#include "lib.h"

/*
 * A reply's wait.  Long: dom0 has few vcpus, and while one is inside a hypercall that takes
 * a while on a busy host (the 'e' debug key's dump: over a minute in soak runs), xenstored
 * answers nobody.  A hung dom0 is the orchestrator's to find, by the group's silence.
 */
#define XS_TIMEOUT_MS 120000

static struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static uint32_t next_req_id = 1;
static char reply[XENSTORE_PAYLOAD_MAX + 1];

int xs_init(void)
{
    if ( is_dom0() || !start_info->store_mfn )
        return 0;
    ring = mfn_to_virt(start_info->store_mfn);
    port = start_info->store_evtchn;
    events_driver_port(EVENTS_STORE, port);
    return 1;
}

int xs_available(void)
{
    return ring != NULL;
}

evtchn_port_t xs_port(void)
{
    return ring ? port : 0;
}

void xs_set_port(evtchn_port_t p)
{
    port = p;
    events_driver_port(EVENTS_STORE, ring ? port : 0);
}

static int req_space(void *arg)
{
    (void)arg;
    return ring->req_prod - ring->req_cons < XENSTORE_RING_SIZE;
}

static int rsp_avail(void *arg)
{
    (void)arg;
    return ring->rsp_prod != ring->rsp_cons;
}

static int ring_write(const void *data, size_t len, uint64_t deadline)
{
    const char *p = data;

    while ( len )
    {
        XENSTORE_RING_IDX prod;

        if ( !wait_until(port, req_space, NULL, deadline) )
            return -1;
        prod = ring->req_prod;
        while ( len && prod - ring->req_cons < XENSTORE_RING_SIZE )
        {
            ring->req[MASK_XENSTORE_IDX(prod)] = *p++;
            prod++, len--;
        }
        wmb();                  /* data before index */
        ring->req_prod = prod;
        evtchn_notify(port);
    }
    return 0;
}

/* out == NULL discards. */
static int ring_read(void *out, size_t len, uint64_t deadline)
{
    char *p = out;

    while ( len )
    {
        XENSTORE_RING_IDX cons, prod;

        if ( !wait_until(port, rsp_avail, NULL, deadline) )
            return -1;
        cons = ring->rsp_cons;
        prod = ring->rsp_prod;
        rmb();                  /* index before data */
        while ( len && cons != prod )
        {
            char c = ring->rsp[MASK_XENSTORE_IDX(cons)];
            if ( p )
                *p++ = c;
            cons++, len--;
        }
        mb();                   /* data read before giving the space back */
        ring->rsp_cons = cons;
        evtchn_notify(port);
    }
    return 0;
}

/*
 * Set once a request or reply was cut half way: the byte stream is out of frame,
 * and every later request answers EIO rather than misread what follows.
 */
static int out_of_frame;

/*
 * Send type with the concatenated payload parts, wait for the matching
 * reply into reply[] (NUL-terminated), *rlen = payload length.
 */
static const char *xs_talk(enum xsd_sockmsg_type type, const void *p1, size_t l1,
                           const void *p2, size_t l2, size_t *rlen)
{
    uint64_t deadline = now_ns() + MS_TO_NS(XS_TIMEOUT_MS);
    struct xsd_sockmsg msg = {
        .type = type, .req_id = next_req_id++, .tx_id = 0, .len = l1 + l2,
    };

    if ( !ring )
        return "ENOSYS";
    if ( out_of_frame )
        return "EIO";
    if ( l1 + l2 > XENSTORE_PAYLOAD_MAX )
        return "E2BIG";
    if ( ring_write(&msg, sizeof(msg), deadline) ||
         ring_write(p1, l1, deadline) || ring_write(p2, l2, deadline) )
    {
        out_of_frame = 1;       /* part of a request may be in the ring */
        return "ETIMEDOUT";
    }

    for ( ;; )
    {
        struct xsd_sockmsg hdr;

        if ( ring_read(&hdr, sizeof(hdr), deadline) )
            return "ETIMEDOUT"; /* nothing half read: a late reply is skipped by its req_id */
        if ( hdr.len > XENSTORE_PAYLOAD_MAX )
        {
            out_of_frame = 1;
            return "EIO";
        }
        if ( ring_read(reply, hdr.len, deadline) )
        {
            out_of_frame = 1;   /* the rest of this reply would read as the next header */
            return "ETIMEDOUT";
        }
        reply[hdr.len] = '\0';
        if ( hdr.type == XS_WATCH_EVENT || hdr.req_id != msg.req_id )
            continue;
        if ( hdr.type == XS_ERROR )
            return reply[0] ? reply : "EIO";
        if ( hdr.type != msg.type )
            return "EIO";
        if ( rlen )
            *rlen = hdr.len;
        return NULL;
    }
}

const char *xs_read(const char *path, char *out, size_t outlen)
{
    size_t n;
    const char *err = xs_talk(XS_READ, path, strlen(path) + 1, NULL, 0, &n);

    if ( err )
        return err;
    if ( n >= outlen )
        n = outlen - 1;
    memcpy(out, reply, n);
    out[n] = '\0';
    return NULL;
}

const char *xs_write(const char *path, const char *value)
{
    return xs_talk(XS_WRITE, path, strlen(path) + 1, value, strlen(value), NULL);
}

const char *xs_directory(const char *path, char *out, size_t outlen, size_t *len)
{
    size_t n;
    const char *err = xs_talk(XS_DIRECTORY, path, strlen(path) + 1, NULL, 0, &n);

    if ( err )
        return err;
    if ( n > outlen )
        return "E2BIG";
    memcpy(out, reply, n);
    *len = n;
    return NULL;
}

const char *xs_set_perms(const char *path, const char *perms, size_t len)
{
    return xs_talk(XS_SET_PERMS, path, strlen(path) + 1, perms, len, NULL);
}
