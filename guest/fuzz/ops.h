/*
 * The fuzzer's operations, one line each: the one list of them.  Like
 * script-lang.h, a list of macro calls: define FUZZ_OP and FUZZ_SMP_OP,
 * then include this file (internal.h makes the enum fuzz_op and the
 * prototypes from it, run.c the table fuzz_ops[]).  No include guard.
 *
 * FUZZ_OP(name, weight, pick, args)
 *     name    an op of the case language (script-lang.h's SCRIPT_OP of that
 *             name), whose name FUZZ-LAST lines, the ring and a shrunk
 *             finding's steps use.  do_<name>() issues it, checks Xen's
 *             answer against the model (check_rc()) and updates the model.
 *     weight  how often it is drawn: weight in the sum of the weights.  0:
 *             never drawn, the run calls it itself (reset, once in 1000).
 *     pick    draws its two arguments from the model's state: pick_<name>(),
 *             or pick_port_arg() for a port alone.
 *     args    writes the two arguments as a case file's step does, after
 *             the op's name (args.c's args_* for numbers and domains).
 * FUZZ_SMP_OP(name, weight, pick)
 *     an op of the fuzzer's own, no op of the case language: drawn only with
 *     several vcpus, so never in a shrunk finding (one vcpu).  do_<name>() as
 *     above.
 *
 * A draw walks this list in order: a new op, or a new weight, changes every
 * seed's stream of operations (a FUZZ_SMP_OP only those with several vcpus).
 */

#ifndef FUZZ_OP
#define FUZZ_OP(name, weight, pick, args)
#endif
#ifndef FUZZ_SMP_OP
#define FUZZ_SMP_OP(name, weight, pick)
#endif

/* bind.c: the operations that make a channel */
FUZZ_OP(alloc_unbound, 3, pick_alloc_unbound, args_dom_dom)
FUZZ_OP(bind_interdomain, 3, pick_bind_interdomain, args_dom_num)
FUZZ_OP(bind_virq, 1, pick_bind_virq, args_num_num)
FUZZ_OP(bind_ipi, 2, pick_bind_ipi, args_num)
/* ops.c: the operations on a port */
FUZZ_OP(close, 3, pick_port_arg, args_num)
FUZZ_OP(send, 4, pick_port_arg, args_num)
FUZZ_OP(status, 2, pick_status, args_dom_num)
FUZZ_OP(bind_vcpu, 1, pick_bind_vcpu, args_num_num)
FUZZ_OP(unmask, 2, pick_port_arg, args_num)
FUZZ_OP(mask, 2, pick_mask, args_num)
FUZZ_OP(reset, 0, pick_reset, args_dom)
/* fifo.c: the FIFO ABI's */
FUZZ_OP(init_control, 1, pick_init_control, args_init_control)
FUZZ_OP(expand_array, 1, pick_expand_array, args_expand_array)
FUZZ_OP(set_priority, 2, pick_set_priority, args_num_num)
/* racing.c: a send on another vcpu's shared port */
FUZZ_SMP_OP(send_racing, 3, pick_racing)

#undef FUZZ_OP
#undef FUZZ_SMP_OP
