#!/bin/sh
# relay NAME: copy a guest's console (as xenconsoled logs it) to the serial line,
# each line prefixed "[NAME] ". The tail's pid goes to /run/relay-NAME.pid, so
# the harness can stop it (busybox has no pkill).
name=$1
sh -c "echo \$\$ > /run/relay-$name.pid; exec tail -F -n +1 /var/log/xen/console/guest-$name.log 2>/dev/null" |
    awk -v p="[$name] " '{ print p $0; fflush() }'
