/* EVTCHNOP_reset of ourselves, the console and xenstore ports bound again. */
#ifndef GUEST_SELFRESET_H
#define GUEST_SELFRESET_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>

long evtchn_reset_self(domid_t dom, int always, long *con, long *xs);
unsigned int count_open_ports(void);
/* A rebound port as CASE-BEGIN prints it: the port, an error or none. */
void fmt_port(char *buf, size_t size, int have, long p);

#endif
