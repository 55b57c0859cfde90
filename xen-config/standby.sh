#!/bin/sh
# standby NAME: boot NAME, the Linux peer that stands by in the saved machine for the first
# group that needs one (orchestrator/runner.py Session._stand_by). Its relay is renamable:
# the group gives it its own name (create.sh). Not paused: it boots until its evtchn-op
# waits for a script ("EVT NOTE linux-peer: standing by"), and the harness then pauses it.
# Its domain id is kept in /run/NAME.id for create.sh, and printed.
. /usr/lib/evt/relay
name=$1
rm -f /var/log/xen/xl-$name.log
relay $name renamable && xl create /usr/lib/evt/$name.cfg 2>&1 || exit 1
id=$(xl domid $name) || exit 1
echo "$id" > "/run/$name.id"
echo "@@STANDBY $id"
