/*
 * evtchn-op: dom0's part of a case, run inside dom0 by the interpreter the
 * guests run (script/script_core.c), so each step costs a hypercall, not a
 * round trip over the serial line.
 *
 *   evtchn-op <name> <script> [ROLE=domid ...]
 *   evtchn-op --domu <script> | --domu --standby
 *   evtchn-op --give-script <domid> <script>
 *   evtchn-op --unpause <domid>...
 *   evtchn-op --xs-write <path> <value> [<path> <value>...]
 *
 * <name> prefixes each EVT line as a guest's console relay would ("g5-Dom0");
 * ROLE=domid says what @ROLE means.  Exit 0 when the script ran (its verdicts
 * are in the EVT lines), 2 when it could not.
 *
 * --domu: in the Linux peer, a domU (dom0/peer-init.c).  Its console is
 * relayed with the prefix already; domain ids are read where the harness put
 * them for every domain (XS_DIR/dom/ROLE of our home); it publishes in its
 * own home; and it exits 1 when a step failed.
 *
 * --domu --standby: the Linux peer booted ahead, before its machine is saved
 * (docs/architecture.md, "The Linux peer"): it says it stands by, then waits
 * for its script in its xenstore home, where dom0's --give-script puts it as
 * a group takes the peer (xen-config/create.sh).
 *
 * --unpause: a group's domains, made paused by `xl create -p`, let run: the
 * one domctl `xl unpause` makes for a PV domain (libxl_domain_unpause() ->
 * xc_domain_unpause()), without xl's 0.1 s of dom0 under TCG, which every
 * group waited for.
 *
 * Dom0's own ports are made, notified, unmasked and closed through the dom0
 * kernel's event channel device (/dev/xen/evtchn), as a Linux driver's would
 * be, and their events counted as it delivers them; every other op (another
 * domain's ports, status, reset) is a raw hypercall through privcmd.
 * Xenstore is reached through the kernel's xenbus device.
 *
 * This file is the place (struct script_env) and main(); the ops are ops.c
 * and chaos.c, dom0's own ports ports.c, xenstore xs.c, and what they all
 * share dom0.c.
 *
 * Layouts and numbers come from Xen's public headers of the suite under test.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/domctl.h>

#include "lib-host.h"
#include "script_core.h"
#include "dom0.h"
#include "ops.h"
#include "xs.h"

/* ---- the place ---- */

static struct {
    const char *name;
    int64_t domid;
} doms[16];
static unsigned int nr_doms;
static int standby;  /* --domu --standby */

static int dom_lookup(const char *name, int64_t *id)
{
    char path[128], val[16], *end;

    for ( unsigned int i = 0; i < nr_doms; i++ )
        if ( !strcmp(doms[i].name, name) )
            return *id = doms[i].domid, 0;
    /* The harness tells every domain it creates each one's id (xen-config/create.sh). */
    snprintf(path, sizeof(path), XS_DIR "/dom/%s", name);
    if ( !domu || xs_read(path, val, sizeof(val)) || !val[0] )
        return -1;
    *id = strtol(val, &end, 10);
    return *end ? -1 : 0;
}

static void case_begin(char *detail, size_t size)
{
    snprintf(detail, size, domu ? "(the Linux peer is not reset: its kernel owns its console and xenstore ports)"
                                : "(dom0 is not reset: it owns the toolstack ports)");
}


static void out(const char *text, size_t len)
{
    /* One write a line: the domains' console relays share this console. */
    if ( write(STDOUT_FILENO, text, len) < 0 )
        die("writing the console");
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    static char text[1 << 20];

    if ( !f )
        die(path);
    *len = fread(text, 1, sizeof(text) - 1, f);
    if ( ferror(f) || !feof(f) )
    {
        fprintf(stderr, "evtchn-op: %s: unreadable or larger than %zu bytes\n", path, sizeof(text) - 1);
        exit(2);
    }
    fclose(f);
    text[*len] = '\0';
    return text;
}

/* How often the standby peer looks for its script's chunk count (await_script()). */
#define STANDBY_POLL_MS 20

/* A domain id given on the command line: 0, or -1 having said what is wrong with it. */
static int parse_domid(const char *s, unsigned long *domid)
{
    char *end;

    *domid = strtoul(s, &end, 10);
    if ( !*s || *end || *domid >= DOMID_FIRST_RESERVED )
    {
        fprintf(stderr, "evtchn-op: not a domain id: %s\n", s);
        return -1;
    }
    return 0;
}

static int give_script(const char *id, const char *path)
{
    char key[128], chunk[SCRIPT_CHUNK + 1], n[24];
    unsigned long domid;
    size_t len, i = 0;
    const char *text, *err = NULL;

    if ( parse_domid(id, &domid) )
        return 2;
    text = read_file(path, &len);

    for ( size_t at = 0; at < len && !err; at += SCRIPT_CHUNK, i++ )
    {
        size_t size = len - at < SCRIPT_CHUNK ? len - at : SCRIPT_CHUNK;

        memcpy(chunk, text + at, size);
        chunk[size] = '\0';
        snprintf(key, sizeof(key), "/local/domain/%lu/" XS_DIR "/script/%zu", domid, i);
        err = xs_write(key, chunk);
    }
    snprintf(key, sizeof(key), "/local/domain/%lu/" XS_DIR "/script/n", domid);
    snprintf(n, sizeof(n), "%zu", i);
    if ( err || (err = xs_write(key, n)) )
    {
        fprintf(stderr, "evtchn-op: xenstore %s: %s\n", key, err);
        return 2;
    }
    return 0;
}

static int unpause(int n, char **ids)
{
    for ( int i = 0; i < n; i++ )
    {
        struct xen_domctl dc = { .cmd = XEN_DOMCTL_unpausedomain };
        unsigned long domid;
        long rc;

        if ( parse_domid(ids[i], &domid) )
            return 2;
        dc.domain = (domid_t)domid;
        if ( (rc = domctl(&dc)) )
        {
            fprintf(stderr, "evtchn-op: unpausing domain %lu: %s\n", domid, strerror((int)-rc));
            return 1;
        }
    }
    return 0;
}

/* --xs-write: as xenstore-write, but static: a third of its time in dom0 under TCG. */
static int xs_write_pairs(int n, char **argv)
{
    for ( int i = 0; i + 1 < n; i += 2 )
    {
        const char *err = xs_write(argv[i], argv[i + 1]);

        if ( err )
        {
            fprintf(stderr, "evtchn-op: xenstore %s: %s\n", argv[i], err);
            return 1;
        }
    }
    return 0;
}

/* The standby peer's script, once dom0 has given it (give_script()). */
static char *await_script(const struct script_env *env, size_t *len)
{
    static char text[1 << 20];
    const char *err;
    char n[24];

    EVT_PRINTF(EVT_NOTE " linux-peer: standing by");
    fflush(stdout);
    while ( xs_read(XS_DIR "/script/n", n, sizeof(n)) )
        sleep_ms(STANDBY_POLL_MS);  /* paused, as the machine is saved: no cost */
    if ( (err = script_fetch(env, text, sizeof(text), len)) )
    {
        fprintf(stderr, "evtchn-op: the script in xenstore: %s\n", err);
        exit(2);
    }
    return text;
}

int main(int argc, char **argv)
{
    char prefix[64];
    struct script_env env = {
        .prefix = prefix,
        .ops = dom0_ops,
        .dom_lookup = dom_lookup,
        .case_begin = case_begin,
        .case_end = ops_case_end,
        .xs_read = xs_read,
        .write = out,
        .now_ns = now_ns,
        .sleep_ms = sleep_ms,
    };
    struct script_totals t;
    const char *text;
    size_t len;

    if ( argc < 3 || (!strcmp(argv[1], "--give-script") && argc != 4) )
    {
        fprintf(stderr, "usage: evtchn-op <name> <script> [ROLE=domid ...] | --domu <script> | --domu --standby"
                        " | --give-script <domid> <script> | --unpause <domid>..."
                        " | --xs-write <path> <value>...\n");
        return 2;
    }
    if ( !strcmp(argv[1], "--unpause") )
    {
        if ( (privcmd = open("/dev/xen/privcmd", O_RDWR)) < 0 )
            die("/dev/xen/privcmd");
        return unpause(argc - 2, argv + 2);
    }
    if ( !strcmp(argv[1], "--xs-write") )
    {
        if ( argc % 2 )
        {
            fprintf(stderr, "evtchn-op: --xs-write takes pairs of path and value\n");
            return 2;
        }
        if ( (xenbus = open("/dev/xen/xenbus", O_RDWR)) < 0 )
            die("/dev/xen/xenbus");
        return xs_write_pairs(argc - 2, argv + 2);
    }
    if ( !strcmp(argv[1], "--give-script") )
    {
        if ( (xenbus = open("/dev/xen/xenbus", O_RDWR)) < 0 )
            die("/dev/xen/xenbus");
        return give_script(argv[2], argv[3]);
    }
    domu = !strcmp(argv[1], "--domu");
    standby = domu && !strcmp(argv[2], "--standby");
    for ( int i = 3; i < argc; i++ )
    {
        char *eq = strchr(argv[i], '='), *end;

        if ( !eq || nr_doms == sizeof(doms) / sizeof(doms[0]) )
        {
            fprintf(stderr, "evtchn-op: not ROLE=domid: %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        doms[nr_doms].name = argv[i];
        doms[nr_doms++].domid = strtol(eq + 1, &end, 0);
        if ( !eq[1] || *end )
        {
            fprintf(stderr, "evtchn-op: not a domain id: %s\n", eq + 1);
            return 2;
        }
    }
    snprintf(prefix, sizeof(prefix), domu ? "" : "[%s] ", argv[1]);
    if ( (xenbus = open("/dev/xen/xenbus", O_RDWR)) < 0 )
        die("/dev/xen/xenbus");
    text = standby ? await_script(&env, &len) : read_file(argv[2], &len);
    if ( (privcmd = open("/dev/xen/privcmd", O_RDWR)) < 0 )
        die("/dev/xen/privcmd");
    if ( (evtchn = open("/dev/xen/evtchn", O_RDWR)) < 0 )
        die("/dev/xen/evtchn");
    xs_pub_setup();

    t = script_interpret(&env, text, len);
    script_say(EVT_DONE, t.pass, t.fail);
    return t.bad_script ? 2 : domu && t.fail;
}
