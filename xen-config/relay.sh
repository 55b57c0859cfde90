# relay NAME [renamable]: a shell function (create.sh and standby.sh source this file)
# that copies a guest's console to the harness as xenconsoled writes it, each line
# prefixed "[NAME] ", through dom0's agent (its FIFO /run/evt-out: flow-controlled to the
# host, where the serial line would drop characters on a busy host). Call it before
# `xl create`: it makes xenconsoled's log of the guest a named pipe, so every line travels
# the moment it is written (no polling of a file). The reader is one awk, in the
# background, whose pid is in /run/relay-NAME.pid for the harness to stop it (busybox has
# no pkill); it blocks opening the pipe until xenconsoled does, and ends by itself when
# xenconsoled closes it (the domain is gone), saying so in its last line (orchestrator/
# domain.py RELAY_END): every line the guest wrote has been sent, so a guest that stopped
# is judged on all of them. Destroy the domain before stopping its relay: a write to a pipe
# nobody reads would kill xenconsoled (SIGPIPE). No process but mkfifo and awk: each
# costs dom0 10-20 ms under TCG, every domain.
# renamable: the prefix is read from /run/relay-NAME.prefix, which create.sh rewrites when
# a group takes a domain that stood by under another name (standby.sh). Until then it is
# "(NAME) ": the lines of no domain of a group (results.parse_line); read again for each
# line until it is a group's "[...] ", which stays.
relay() {
    local log=/var/log/xen/console/guest-$1.log prefix=
    [ ! -e "$log" ] || rm -f "$log"
    mkfifo "$log" || return 1
    if [ "$2" = renamable ]; then
        prefix=/run/relay-$1.prefix
        printf '(%s) ' "$1" > "$prefix"
    fi
    awk -v p="[$1] " -v f="$prefix" '
        function named() { if (f != "") { getline p < f; close(f); if (p ~ /^\[/) f = "" } }
        { named(); print p $0; fflush() }
        END { named(); print p "-- console closed --"; fflush() }' < "$log" > /run/evt-out &
    echo $! > "/run/relay-$1.pid"
}
