/*
 * What every part of evtchn-op shares: the dom0 kernel's devices it goes
 * through (opened by main()), whether it is the Linux peer, its clock and its
 * one way out.
 */
#ifndef DOM0_DOM0_H
#define DOM0_DOM0_H

#include <stdint.h>
#include "script_core.h"

extern int privcmd, xenbus, evtchn;
extern int domu;                /* --domu: the Linux peer */

/* What failed, with errno's words, on stderr; exit 2. */
void die(const char *what) __attribute__((noreturn));
uint64_t now_ns(void);
/* EVTCHNOP_<cmd> through privcmd: 0 or Xen's -errno. */
long event_channel_op(unsigned int cmd, void *arg);
struct xen_domctl;
/* A XEN_DOMCTL_<cmd>, of the headers' interface version: 0 or Xen's -errno. */
long domctl(struct xen_domctl *dc);
/* EPERM in the Linux peer, which is no toolstack: the PRIV ops are dom0's only. */
int not_in_domu(struct result *r);

#endif
