#!/bin/sh
# relay NAME [renamable]: copy a guest's console to the harness as xenconsoled writes it,
# each line prefixed "[NAME] ", through dom0's agent (its FIFO /run/evt-out: flow-controlled
# to the host, where the serial line would drop characters on a busy host). Run it before
# `xl create`: it makes xenconsoled's log of the guest a named pipe, so every line travels
# the moment it is written (no polling of a file), and it returns once the reader is in
# place. The reader ends by itself when xenconsoled closes the log (the domain is gone); its
# pid is in /run/relay-NAME.pid for the harness to stop it otherwise (busybox has no pkill).
# Destroy the domain before stopping the relay: a write to a pipe nobody reads would kill
# xenconsoled (SIGPIPE).
# renamable: the prefix is read, for each line, from /run/relay-NAME.prefix, which
# create.sh rewrites when a group takes the Linux peer that stood by under another name.
# Until then it is "(NAME) ": the lines of no domain of a group (results.parse_line).
name=$1
log=/var/log/xen/console/guest-$name.log
pid=/run/relay-$name.pid
prefix=
rm -f "$log" "$pid"
mkfifo "$log" || exit 1
if [ "$2" = renamable ]; then
    prefix=/run/relay-$name.prefix
    printf '(%s) ' "$name" > "$prefix"
fi
# Its last line says the console is closed: every line the guest wrote has been sent
# (orchestrator/domain.py RELAY_END), so a guest that stopped is judged on all of them.
(sh -c "echo \$\$ > $pid; exec cat $log" |
     awk -v p="[$name] " -v f="$prefix" '{ if (f != "") { getline p < f; close(f) } print p $0; fflush() }'
 p="[$name]"
 [ -z "$prefix" ] || read -r p < "$prefix"
 echo "$p -- console closed --") > /run/evt-out &
while [ ! -s "$pid" ]; do usleep 1000; done
