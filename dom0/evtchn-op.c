/*
 * evtchn-op: issue one HYPERVISOR_event_channel_op from dom0, through the dom0
 * kernel's privcmd driver, and print what Xen answered.  The orchestrator runs
 * it for the steps a case gives to the privileged domain (`Dom0`).
 *
 *   evtchn-op alloc_unbound <dom> <remote_dom>   -> rc=0 port=5
 *   evtchn-op status <dom> <port>                -> rc=0 status=interdomain dom=1 port=3 vcpu=0
 *   evtchn-op close|send|unmask <port>, reset <dom>, bind_interdomain <rdom> <rport>
 *
 * Layouts and numbers come from Xen's public headers of the suite under test.
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
    [EVTCHNSTAT_closed] = "closed",           [EVTCHNSTAT_unbound] = "unbound",
    [EVTCHNSTAT_interdomain] = "interdomain", [EVTCHNSTAT_pirq] = "pirq",
    [EVTCHNSTAT_virq] = "virq",               [EVTCHNSTAT_ipi] = "ipi",
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

int main(int argc, char **argv)
{
    const char *op = argc > 1 ? argv[1] : "";
    int nargs = argc - 2;
    long rc;

    privcmd = open("/dev/xen/privcmd", O_RDWR);
    if ( privcmd < 0 )
    {
        perror("evtchn-op: /dev/xen/privcmd");
        return 2;
    }

    if ( !strcmp(op, "alloc_unbound") && nargs == 2 )
    {
        struct evtchn_alloc_unbound a = { .dom = num(argv[2]), .remote_dom = num(argv[3]) };

        rc = event_channel_op(EVTCHNOP_alloc_unbound, &a);
        printf("rc=%ld", rc);
        if ( !rc )
            printf(" port=%u", a.port);
    }
    else if ( !strcmp(op, "bind_interdomain") && nargs == 2 )
    {
        struct evtchn_bind_interdomain b = { .remote_dom = num(argv[2]), .remote_port = num(argv[3]) };

        rc = event_channel_op(EVTCHNOP_bind_interdomain, &b);
        printf("rc=%ld", rc);
        if ( !rc )
            printf(" port=%u", b.local_port);
    }
    else if ( !strcmp(op, "status") && nargs == 2 )
    {
        struct evtchn_status st = { .dom = num(argv[2]), .port = num(argv[3]) };

        rc = event_channel_op(EVTCHNOP_status, &st);
        printf("rc=%ld", rc);
        if ( !rc )
            print_status(&st);
    }
    else if ( (!strcmp(op, "close") || !strcmp(op, "send") || !strcmp(op, "unmask")) && nargs == 1 )
    {
        /* evtchn_close, evtchn_send and evtchn_unmask are all { evtchn_port_t port; }. */
        struct evtchn_close c = { .port = num(argv[2]) };
        unsigned int cmd = !strcmp(op, "close") ? EVTCHNOP_close
                           : !strcmp(op, "send") ? EVTCHNOP_send : EVTCHNOP_unmask;

        rc = event_channel_op(cmd, &c);
        printf("rc=%ld", rc);
    }
    else if ( !strcmp(op, "reset") && nargs == 1 )
    {
        struct evtchn_reset r = { .dom = num(argv[2]) };

        rc = event_channel_op(EVTCHNOP_reset, &r);
        printf("rc=%ld", rc);
    }
    else
    {
        fprintf(stderr, "evtchn-op: unknown op or wrong arguments: %s\n", op);
        return 2;
    }
    printf("\n");
    return 0;
}
