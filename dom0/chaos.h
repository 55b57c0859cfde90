/* Dom0 as a third actor beside a fuzzing guest: the chaos op (chaos.c). */
#ifndef DOM0_CHAOS_H
#define DOM0_CHAOS_H

#include "script_core.h"

script_op_fn op_chaos;

#endif
