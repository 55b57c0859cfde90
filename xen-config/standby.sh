#!/bin/sh
# standby [-p] NAME...: make each NAME from its xl config /usr/lib/evt/NAME.cfg, with a
# relay whose prefix a group renames, before the machine is saved
# (orchestrator/runner.py Session._stand_by). The first group whose domain it can be takes
# it (create.sh ROLE@NAME) instead of having one made. Each id is kept in /run/standby/NAME
# for create.sh, and printed as "@@STANDBY NAME ID"; exits 1 if any was not made.
# -p: paused, never run: a guest, given its script through xenstore when it is taken.
# Without: the Linux peer, which boots until its evtchn-op waits for a script ("EVT NOTE
# linux-peer: standing by"); the harness then pauses it.
. /usr/lib/evt/relay
paused=
[ "$1" != -p ] || { paused=-p; shift; }
mkdir -p /run/standby
failed=
for name in "$@"; do
    rm -f /var/log/xen/xl-$name.log
    if relay $name renamable && xl create $paused /usr/lib/evt/$name.cfg 2>&1 && id=$(xl domid $name); then
        echo "$id" > "/run/standby/$name"
        echo "@@STANDBY $name $id"
    else
        failed=1
    fi
done
[ -z "$failed" ]
