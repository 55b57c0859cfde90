/*
 * Dom0's own ports, through the dom0 kernel's event channel device
 * (/dev/xen/evtchn), as a Linux driver's would be, and the events it
 * delivers on them, counted per case.
 */
#ifndef DOM0_PORTS_H
#define DOM0_PORTS_H

#include <stdint.h>
#include <sys/types.h>
#include <xen/event_channel.h>

struct dev_port {
    evtchn_port_t port;
    uint32_t count;             /* events the device delivered this case */
};
extern struct dev_port dev[64];
extern unsigned int nr_dev;

/* Ours, or NULL. */
struct dev_port *dev_port(int64_t port);
/* A binding ioctl: the new port in *port, or Xen's -errno (the driver passes it on). */
long dev_bind(unsigned long cmd, void *arg, int64_t *port);
/* Count what the device delivered within timeout_ms (0: only what is there now); how many it read. */
ssize_t dev_pump(int timeout_ms);
/* Until the port has counted n events, or timeout_ms passed; its count. */
uint32_t dev_wait(struct dev_port *d, uint32_t n, int64_t timeout_ms);
long dev_notify(evtchn_port_t port);
/* Unbind one of ours through the device: 0 or -errno; it is ours no more either way. */
long dev_unbind(struct dev_port *d);
void dev_unbind_all(void);

#endif
