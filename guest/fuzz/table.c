/*
 * The table of the fuzzer's operations, one row per line of ops.h, and the
 * way every operation is run (a draw's or a replay's).
 */
#include <stdint.h>
#include <xen/xen.h>
#include "internal.h"
#include "script_parse.h"

const struct fuzz_op_def fuzz_ops[NR_FUZZ_OPS] = {
#define FUZZ_OP(name, weight, pick, args) \
    [F_##name] = { OP_##name, NULL, weight, 0, pick, do_##name, args },
#define FUZZ_SMP_OP(name, weight, pick) \
    [F_##name] = { NR_OPS, #name, weight, 1, pick, do_##name, args_num },
#include "ops.h"
};

const char *fuzz_op_name(enum fuzz_op op)
{
    return fuzz_ops[op].step < NR_OPS ? script_ops[fuzz_ops[op].step].name : fuzz_ops[op].name;
}

void fuzz_issue(struct fz *f, enum fuzz_op op, uint32_t a, uint32_t b)
{
    f->name = fuzz_op_name(op);
    fuzz_ops[op].run(f, a, b);
}
