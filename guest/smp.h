/* Vcpu bring-up and the boot-time timer setup (smp.c). */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

struct smp_info {
    unsigned int vcpus;         /* vcpus the domain has */
    unsigned int up;            /* running our code, vcpu 0 included */
    long timer_rc;              /* first VCPUOP_stop_periodic_timer failure */
    long up_rc;                 /* the failure that stopped bring-up, or 0 */
};

/* Vcpus running our code (vcpu 0 and the secondaries smp_init() brought up). */
extern unsigned int nr_vcpus_up;

/* Stop every vcpu's periodic timer, then bring vcpus 1.. up. */
struct smp_info smp_init(void);

/* The vcpu running this, by the stack it runs on (each secondary has its own). */
unsigned int smp_this_vcpu(void);

/*
 * fn(vcpu, arg) on every vcpu that is up, at once: vcpu 0 is the caller;
 * kick(v) must wake vcpu v from SCHEDOP_block (an event bound to it).
 * Returns when all have finished.
 */
void smp_run_all(void (*fn)(unsigned int vcpu, void *arg), void *arg,
                 void (*kick)(unsigned int vcpu));

#endif
