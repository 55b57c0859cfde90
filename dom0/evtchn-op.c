/*
 * evtchn-op: issue one HYPERVISOR_event_channel_op from dom0, through the dom0
 * kernel's privcmd driver, and print what Xen answered.  The orchestrator runs
 * it for the steps a case gives to the privileged domain (`Dom0`).
 *
 *   evtchn-op alloc_unbound <dom> <remote_dom>   -> rc=0 port=5
 *   evtchn-op status <dom> <port>                -> rc=0 status=interdomain dom=1 port=3 vcpu=0
 *   evtchn-op close|send|unmask <port>, reset <dom>, bind_interdomain <rdom> <rport>
 *
 * Its ops are the DOM0 ones of guest/script-lang.h.  Layouts and numbers come
 * from Xen's public headers of the suite under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/sys/privcmd.h>

static int privcmd = -1;

static long event_channel_op(unsigned int cmd, void *arg)
{
    privcmd_hypercall_t call = {
        .op = __HYPERVISOR_event_channel_op,
        .arg = { cmd, (uintptr_t)arg },
    };
    long rc = ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &call);

    /* privcmd hands back Xen's -E<n> as -1 with errno set. */
    return rc < 0 ? -errno : rc;
}

static uint32_t num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);

    if ( *s == '\0' || *end != '\0' )
    {
        fprintf(stderr, "evtchn-op: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

static const char *const kinds[] = {
#define SCRIPT_STATUS_KIND(name, stat, fields) [stat] = #name,
#include "script-lang.h"
};

static void print_status(const struct evtchn_status *st)
{
    const char *kind = st->status < sizeof(kinds) / sizeof(kinds[0]) && kinds[st->status]
                       ? kinds[st->status] : "?";

    printf(" status=%s", kind);
    switch ( st->status )
    {
    case EVTCHNSTAT_unbound:
        printf(" dom=%u", st->u.unbound.dom);
        break;
    case EVTCHNSTAT_interdomain:
        printf(" dom=%u port=%u", st->u.interdomain.dom, st->u.interdomain.port);
        break;
    case EVTCHNSTAT_pirq:
        printf(" pirq=%u", st->u.pirq);
        break;
    case EVTCHNSTAT_virq:
        printf(" virq=%u", st->u.virq);
        break;
    }
    printf(" vcpu=%u", st->vcpu);
}

/* Issue the op and print Xen's answer: "rc=<rc>", then the op's values. */
static long call(unsigned int cmd, void *arg)
{
    long rc = event_channel_op(cmd, arg);

    printf("rc=%ld", rc);
    return rc;
}

/* One function per DOM0 op of script-lang.h; a: its arguments. */
static void dom0_alloc_unbound(const uint32_t *a)
{
    struct evtchn_alloc_unbound o = { .dom = a[0], .remote_dom = a[1] };

    if ( !call(EVTCHNOP_alloc_unbound, &o) )
        printf(" port=%u", o.port);
}

static void dom0_bind_interdomain(const uint32_t *a)
{
    struct evtchn_bind_interdomain o = { .remote_dom = a[0], .remote_port = a[1] };

    if ( !call(EVTCHNOP_bind_interdomain, &o) )
        printf(" port=%u", o.local_port);
}

static void dom0_status(const uint32_t *a)
{
    struct evtchn_status o = { .dom = a[0], .port = a[1] };

    if ( !call(EVTCHNOP_status, &o) )
        print_status(&o);
}

static void dom0_close(const uint32_t *a)
{
    struct evtchn_close o = { .port = a[0] };

    call(EVTCHNOP_close, &o);
}

static void dom0_send(const uint32_t *a)
{
    struct evtchn_send o = { .port = a[0] };

    call(EVTCHNOP_send, &o);
}

static void dom0_unmask(const uint32_t *a)
{
    struct evtchn_unmask o = { .port = a[0] };

    call(EVTCHNOP_unmask, &o);
}

static void dom0_reset(const uint32_t *a)
{
    struct evtchn_reset o = { .dom = a[0] };

    call(EVTCHNOP_reset, &o);
}

static const struct dom0_op {
    const char *name;
    int nargs;
    void (*run)(const uint32_t *a);
} ops[] = {
#define SCRIPT_OP(name, args, value, who) SCRIPT_OP_##who(name, args)
#define SCRIPT_OP_GUEST(name, args)
#define SCRIPT_OP_HARNESS(name, args)
#define SCRIPT_OP_DOM0(name, args) { #name, sizeof(args) - 1, dom0_##name },
#include "script-lang.h"
};

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "";
    int nargs = argc - 2;
    uint32_t a[4];

    for ( unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++ )
    {
        if ( strcmp(ops[i].name, name) || ops[i].nargs != nargs )
            continue;
        for ( int j = 0; j < nargs && j < 4; j++ )
            a[j] = num(argv[2 + j]);
        privcmd = open("/dev/xen/privcmd", O_RDWR);
        if ( privcmd < 0 )
        {
            perror("evtchn-op: /dev/xen/privcmd");
            return 2;
        }
        ops[i].run(a);
        printf("\n");
        return 0;
    }
    fprintf(stderr, "evtchn-op: unknown op or wrong arguments: %s\n", name);
    return 2;
}
