#!/bin/sh
# /init of the harness's dom0: bring up Xen's toolstack, then serve the harness's
# commands (evt-agent). Any failure is reported by name.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Debian's toolstack lives in /usr/lib/xen-<x.y>/bin; a source tree's (XEN=src:) in
# /usr/sbin and /usr/lib/xen/bin.
xenbin=$(echo /usr/lib/xen-[0-9]*/bin)
export PATH=$xenbin:/usr/lib/xen/bin:$PATH

fail() {
    echo "DOM0-FAILED: $*"
    exec /bin/sh
}

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# xenconsoled allocates a pty per guest: without devpts it fails.
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/run /var/log/xen/console /var/lib/xen /var/lib/xenstored /run/xen /run/xenstored
[ -L /var/run ] || mount --bind /run /var/run

# Nothing feeds the kernel's random pool in this machine (no RDRAND on qemu64, no
# RNG device), and until it is seeded every uuid xl makes costs it a second of retries
# (libuuid's non-blocking getrandom): `xl create` took 3.5 s instead of 0.7. One
# blocking read makes the kernel seed it from timer jitter, while the rest boots.
dd if=/dev/random of=/dev/null bs=1 count=1 2>/dev/null &
seeding=$!

kver=$(uname -r)
while read -r ko; do
    insmod "/lib/modules/$kver/$ko" || fail "insmod $ko"
done < "/lib/modules/$kver/load-order"

# xenstored needs xenfs for its dom0 event channel port.
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
xenstored --pid-file /run/xenstored.pid || fail "xenstored"
xen-init-dom0 || fail "xen-init-dom0"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid || fail "xenconsoled"

# Commands come from the harness through evt-agent (dom0/agent.c) on a virtio-serial
# port, never through the serial console's input: Xen's input ring garbles it when dom0
# is slow. The agent says DOM0-READY once its port is open. Echo off: a keystroke that
# wakes the console (the harness's nudge) must not print.
stty -echo
wait $seeding
ready="DOM0-READY kernel=$kver xen=$(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)$(cat /sys/hypervisor/version/extra)"
evt-agent "$ready"
echo "DOM0-FAILED: agent exited ($?)"
exec /bin/sh
