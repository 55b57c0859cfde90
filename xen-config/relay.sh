#!/bin/sh
# relay NAME: copy a guest's console to the harness as xenconsoled writes it, each line
# prefixed "[NAME] ", through dom0's agent (its FIFO /run/evt-out: flow-controlled to
# the host, where the serial line would drop characters on a busy host). Run it before `xl create`: it makes xenconsoled's
# log of the guest a named pipe, so every line travels the moment it is written
# (no polling of a file), and it returns once the reader is in place. The reader
# ends by itself when xenconsoled closes the log (the domain is gone); its pid is
# in /run/relay-NAME.pid for the harness to stop it otherwise (busybox has no pkill).
# Destroy the domain before stopping the relay: a write to a pipe nobody reads
# would kill xenconsoled (SIGPIPE).
name=$1
log=/var/log/xen/console/guest-$name.log
pid=/run/relay-$name.pid
rm -f "$log" "$pid"
mkfifo "$log" || exit 1
# Its last line says the console is closed: every line the guest wrote has been sent
# (orchestrator/domain.py RELAY_END), so a guest that stopped is judged on all of them.
(sh -c "echo \$\$ > $pid; exec cat $log" | awk -v p="[$name] " '{ print p $0; fflush() }'
 echo "[$name] -- console closed --") > /run/evt-out &
while [ ! -s "$pid" ]; do usleep 1000; done
