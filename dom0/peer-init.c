/*
 * peer-init: /init of the Linux peer, a domU running a Linux kernel whose
 * steps go through that kernel's event channel driver (cases name it `Linux`).
 *
 * Its initramfs holds this, evtchn-op, the kernel's Xen modules (in the
 * order of /modules/load-order) and the case script (/script).  It loads the
 * modules, runs the script with evtchn-op, and powers the domain off when
 * every step passed, reboots it (SHUTDOWN_reboot: a step failed) otherwise,
 * as the harness's own guest does; evtchn-op prints the BOOT line.  Whatever
 * fails before the script runs is said on the console as
 * "EVT NOTE linux-peer: ..." and ends in a reboot.
 *
 * With no /script, the peer stands by: booted before the machine is saved,
 * evtchn-op waits for its script in xenstore (evtchn-op --domu --standby).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evt-lines.h"

static void end(int passed)
{
    sync();
    reboot(passed ? RB_POWER_OFF : RB_AUTOBOOT);
    for ( ;; )
        pause();
}

static void fail(const char *what)
{
    EVT_PRINTF(EVT_NOTE " linux-peer: %s: %s", what, strerror(errno));
    fflush(stdout);
    end(0);
}

static void load_modules(void)
{
    char name[256], path[300];
    FILE *order = fopen("/modules/load-order", "r");

    if ( !order )
        fail("/modules/load-order");
    while ( fgets(name, sizeof(name), order) )
    {
        int fd;

        name[strcspn(name, "\n")] = '\0';
        if ( !name[0] )
            continue;
        snprintf(path, sizeof(path), "/modules/%s", name);
        if ( (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 )
            fail(path);
        /* Built in already (EEXIST): nothing to load. */
        if ( syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST )
            fail(path);
        close(fd);
    }
    fclose(order);
}

int main(void)
{
    int status;
    pid_t pid;

    mkdir("/dev", 0755);
    mkdir("/proc", 0755);
    if ( mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) && errno != EBUSY )
        fail("mount /dev");
    if ( mount("proc", "/proc", "proc", 0, NULL) )
        fail("mount /proc");
    /* The console: the kernel opened none for us without /dev at boot. */
    if ( open("/dev/hvc0", O_RDWR) >= 0 )
    {
        dup2(3, 0);
        dup2(3, 1);
        dup2(3, 2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    load_modules();

    if ( (pid = fork()) < 0 )
        fail("fork");
    if ( pid == 0 )
    {
        execl("/evtchn-op", "evtchn-op", "--domu", access("/script", F_OK) ? "--standby" : "/script",
              (char *)NULL);
        fail("/evtchn-op");
    }
    if ( waitpid(pid, &status, 0) < 0 )
        fail("waitpid");
    end(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}
