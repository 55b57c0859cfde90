/* Memory barriers (x86-64). */
#ifndef GUEST_ARCH_BARRIER_H
#define GUEST_ARCH_BARRIER_H

#define barrier() asm volatile ("" ::: "memory")
/* x86 is TSO; ring protocols only need compiler ordering plus mfence for
 * the store->load cases. */
#define mb()  asm volatile ("mfence" ::: "memory")
#define rmb() barrier()
#define wmb() barrier()

#endif
