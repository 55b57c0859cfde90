/* Xenstore, through the dom0 kernel's xenbus device (/dev/xen/xenbus). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#include "dom0.h"
#include "xs.h"

static void read_all(void *buf, size_t len)
{
    for ( size_t got = 0; got < len; )
    {
        ssize_t n = read(xenbus, (char *)buf + got, len - got);

        if ( n <= 0 )
            die("reading /dev/xen/xenbus");
        got += n;
    }
}

/*
 * One request and its reply: NULL with the reply's body (NUL-terminated,
 * cut to size) in out, or the errno name xenstored answered.
 */
static const char *xs_talk(enum xsd_sockmsg_type type, const char *body, size_t len,
                           char *out, size_t size)
{
    static char err[32];
    char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    struct xsd_sockmsg hdr = { .type = type, .req_id = 1, .len = len };
    char reply[XENSTORE_PAYLOAD_MAX + 1];

    if ( len > XENSTORE_PAYLOAD_MAX )
        return "E2BIG";
    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), body, len);
    if ( write(xenbus, msg, sizeof(hdr) + len) != (ssize_t)(sizeof(hdr) + len) )
        die("writing /dev/xen/xenbus");
    read_all(&hdr, sizeof(hdr));
    if ( hdr.len > XENSTORE_PAYLOAD_MAX )
        die("a reply longer than xenstore allows");
    read_all(reply, hdr.len);
    reply[hdr.len] = '\0';
    if ( hdr.type == XS_ERROR )
    {
        snprintf(err, sizeof(err), "%.31s", reply);
        return err;
    }
    if ( out && size )
    {
        size_t n = hdr.len < size - 1 ? hdr.len : size - 1;

        memcpy(out, reply, n);
        out[n] = '\0';
    }
    return NULL;
}

const char *xs_read(const char *path, char *buf, size_t size)
{
    return xs_talk(XS_READ, path, strlen(path) + 1, buf, size);
}

const char *xs_write(const char *path, const char *val)
{
    char body[XENSTORE_PAYLOAD_MAX];
    int n = snprintf(body, sizeof(body), "%s%c%s", path, '\0', val);

    return n < 0 || (size_t)n >= sizeof(body) ? "E2BIG" : xs_talk(XS_WRITE, body, n, NULL, 0);
}

char pub[96];

/* A fresh publication folder, ours, readable by every domain (perms "r<us>"). */
void xs_pub_setup(void)
{
    char self[16] = "0", perms[sizeof(pub) + 16];
    const char *err;
    int n;

    if ( domu && (err = xs_read("domid", self, sizeof(self))) )
    {
        fprintf(stderr, "evtchn-op: xenstore domid: %s\n", err);
        exit(2);
    }
    snprintf(pub, sizeof(pub), "/local/domain/%s/" XS_DIR "/pub", self);
    if ( domu )
    {
        struct utsname u;

        uname(&u);
        /* As the guest's: its domid ties the peer's answers to its role. */
        EVT_PRINTF(EVT_BOOT_PEER, self, u.release);
        fflush(stdout);
    }
    n = snprintf(perms, sizeof(perms), "%s%cr%s", pub, '\0', self) + 1;
    xs_talk(XS_RM, pub, strlen(pub) + 1, NULL, 0);
    if ( (err = xs_write(pub, "")) || (err = xs_talk(XS_SET_PERMS, perms, n, NULL, 0)) )
    {
        fprintf(stderr, "evtchn-op: xenstore %s: %s\n", pub, err);
        exit(2);
    }
}
