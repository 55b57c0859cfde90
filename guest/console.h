/* Guest console: PV console ring, or CONSOLEIO_write when dom0. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stddef.h>
#include <xen/event_channel.h>

void console_init(void);
void console_write(const char *buf, size_t len);
/* Wait (bounded) until the backend consumed everything written. */
void console_flush(void);
/* Ring event channel; 0 when there is no ring (dom0). */
evtchn_port_t console_port(void);
void console_set_port(evtchn_port_t port);

#endif
