/* The ops a case may give Dom0 or the Linux peer (ops.c). */
#ifndef DOM0_OPS_H
#define DOM0_OPS_H

#include "script_core.h"

/* One per op of script-lang.h that dom0 runs; NULL for the guests' own. */
extern script_op_fn *const dom0_ops[NR_OPS];

/* Whatever the case bound in dom0 goes with it; counts start again at 0. */
void ops_case_end(void);

#endif
