/*
 * The record of each vcpu's last operations, in its ring (which the harness
 * can still read after Xen went down), and the first mismatch, which stops
 * every vcpu.
 */
#include <stdint.h>
#include <xen/xen.h>
#include "internal.h"

struct fuzz_last_op *record(struct fz *f, uint32_t a, uint32_t b)
{
    const char *name = f->name;
    struct fuzz_last_op *l = &f->last[f->op_index % FUZZ_LAST_OPS];
    unsigned int n = 0;

    *l = (struct fuzz_last_op){ .i = f->op_index, .a = a, .b = b, .got = FUZZ_NO_ANSWER };
    for ( ; name[n] && n < sizeof(l->name) - 1; n++ )
        l->name[n] = name[n];
    return l;
}

void mismatch(struct fz *f, const char *what, uint32_t port, long model, long xen)
{
    if ( __atomic_exchange_n(&stop, 1, __ATOMIC_SEQ_CST) )
        return;
    found.vcpu = f->vcpu;
    found.op = f->op_index;
    found.what = what;
    found.port = port;
    found.model = model;
    found.xen = xen;
}
