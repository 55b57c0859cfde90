/*
 * Minimal xenstore client on the store ring.  Every call returns NULL on
 * success or an errno name ("ENOENT", "EACCES", ... as xenstored sends it,
 * or "EIO"/"ETIMEDOUT" for transport trouble).
 */
#ifndef GUEST_XENSTORE_H
#define GUEST_XENSTORE_H

#include <stddef.h>
#include <xen/event_channel.h>

/* 0 if there is no store (dom0 / store_mfn == 0). */
int xs_init(void);
int xs_available(void);
evtchn_port_t xs_port(void);
void xs_set_port(evtchn_port_t port);

/* Value is NUL-terminated (truncated to outlen - 1). */
const char *xs_read(const char *path, char *out, size_t outlen);
const char *xs_write(const char *path, const char *value);
/* Children as consecutive NUL-terminated names; *len = bytes used. */
const char *xs_directory(const char *path, char *out, size_t outlen, size_t *len);
/* perms: consecutive NUL-terminated entries like "n5", "r7"; len in bytes. */
const char *xs_set_perms(const char *path, const char *perms, size_t len);

#endif
