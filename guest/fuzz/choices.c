/*
 * The fuzzer's seeded choices (internal.h): one stream of numbers per vcpu,
 * so that a seed names a run exactly, and the ports, domains and vcpus that
 * operations' arguments are drawn from.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "../lib.h"
#include "internal.h"

#define BAD_VCPU 4096u              /* past any domain's vcpus */

/* One stream per vcpu: a seed names a run exactly. */
static uint64_t rnd(struct fz *f)
{
    return splitmix64(&f->rng);
}

uint32_t below(struct fz *f, uint32_t n)
{
    return rnd(f) % n;
}

int mine(const struct fz *f, uint32_t p)
{
    return p < EVTCHN_2L_NR_CHANNELS && m[p].owner == f->vcpu;
}

/*
 * Mostly a port we hold; else an edge: port 0 (reserved), ports past the
 * table or the ABI.  With one vcpu also the last valid port, the first
 * invalid one and bucket boundaries, free or not: with more, those may be
 * another vcpu's, which only it may change.
 */
uint32_t pick_port(struct fz *f)
{
    static const uint32_t edge[] = { 4095, 4096, 0xffffffffu, 63, 64, 127, 128, 1023, 1024 };
    uint32_t p = 0;

    switch ( below(f, 12) )
    {
    case 0: return 0;
    case 1: return edge[below(f, nvcpus > 1 ? 3 : ARRAY_SIZE(edge))];
    case 2: p = valid - 1; break;
    case 3: p = valid; break;
    case 4: p = below(f, valid + 64); break;
    default:
        for ( unsigned int tries = 0; tries < 8; tries++ )
            if ( mine(f, p = below(f, valid)) && m[p].kind != K_FREE )
                break;
    }
    if ( p >= EVTCHN_2L_NR_CHANNELS || mine(f, p) )
        return p;
    /* Free and nobody's, with one vcpu; else port 0: never another's, nor the harness's. */
    return nvcpus == 1 && m[p].kind != K_HARNESS ? p : 0;
}

domid_t pick_dom(struct fz *f)
{
    static const domid_t doms[] = { DOMID_SELF, DOMID_SELF, 0, DOMID_INVALID };

    if ( peer != DOMID_INVALID && below(f, 3) == 0 )
        return peer;
    return below(f, 4) == 0 ? self_domid : doms[below(f, ARRAY_SIZE(doms))];
}

/* Our own vcpu mostly; any that exists; one that does not. */
uint32_t pick_vcpu(struct fz *f)
{
    switch ( below(f, 6) )
    {
    case 0: return below(f, nvcpus + 1);    /* nvcpus: the first that does not exist */
    case 1: return below(f, 2) ? BAD_VCPU : 0xffffffffu;
    default: return f->vcpu;
    }
}
