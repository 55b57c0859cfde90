/*
 * The fuzzer's state, which its files share (internal.h says what each part
 * is): defined here, below every file that reads or changes it.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "internal.h"

/* The model. */
struct mport m[EVTCHN_2L_NR_CHANNELS];
uint32_t valid;
int m_fifo;
uint32_t m_pages;
uint8_t m_cb[GUEST_MAX_VCPUS];
uint32_t count0[EVTCHN_2L_NR_CHANNELS];

/* The run's settings. */
int start_fifo;
domid_t peer = DOMID_INVALID;
unsigned int nvcpus;
long (*reset_self)(void);
uint64_t run_seed;
unsigned long xen_ver;
evtchn_port_t kick_port[GUEST_MAX_VCPUS];

/* Shared ports. */
uint32_t racy[EVTCHN_2L_NR_CHANNELS];
uint64_t drain_clock, drained_at[EVTCHN_2L_NR_CHANNELS];

/* Each vcpu's run and last operations, the first mismatch, the logged operations. */
struct fuzz_ring ring[GUEST_MAX_VCPUS];
struct fz fz[GUEST_MAX_VCPUS];
int stop;
struct found found;
struct logged oplog[LOG_MAX];
uint64_t beat_at;
