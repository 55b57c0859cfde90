#!/bin/sh
# unpause GROUP ROLE...: unpause those of the group's domains that are paused (safe to
# run again).
group=$1
shift
for r in "$@"; do
    state=$(xl list "$group-$r" 2>/dev/null | awk 'NR == 2 { print $5 }')
    [ -n "$state" ] || { echo "$group-$r: no such domain"; exit 1; }
    case "$state" in *p*) xl unpause "$group-$r" || exit 1 ;; esac
done
