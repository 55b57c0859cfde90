/* Xenstore through the dom0 kernel's xenbus device (xs.c). */
#ifndef DOM0_XS_H
#define DOM0_XS_H

#include <stddef.h>

/* NULL with the value (NUL-terminated, cut to size) in buf, or the errno name xenstored answered. */
const char *xs_read(const char *path, char *buf, size_t size);
const char *xs_write(const char *path, const char *val);

/* Where `put` publishes: XS_DIR/pub of our home, dom0's or the Linux peer's. */
extern char pub[96];

/* A fresh publication folder, ours, readable by every domain; the Linux peer's BOOT line. */
void xs_pub_setup(void);

#endif
