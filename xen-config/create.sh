#!/bin/sh
# create GROUP XS_DIR ROLE... [ROLE=ID...]: create a group's domains, paused, each with
# its console relay (relay.sh) in place first, then tell each domain every domain's id
# under XS_DIR/dom/ROLE of its xenstore home (ROLE=ID: one that is not created here, as
# Dom0=0). Prints "@@DOMID <name> <id> <centiseconds it took>" for each, and whatever xl
# said; exits 1 if any failed. One request for the harness to send, one answer back.
# ROLE@NAME: NAME, a domain that stands by, paused, in the saved machine (standby.sh),
# becomes this group's ROLE: its relay's prefix and the names the harness looks its logs up
# by become the role's, and it is given the role's script through xenstore. A guest reads
# the script as it boots, once the group unpauses it; the Linux peer has booted already,
# and runs it then. xl goes on calling it NAME (`xl rename` costs dom0 a fifth of a
# second), and so does the harness when it talks to xl (orchestrator/domain.py xl_name).
group=$1 dir=$2
shift 2
# The lowest priority in dom0 (its children inherit it): made ahead, a creation runs beside
# the running group, whose Dom0 steps and console relays come first.
renice -n 19 -p $$ >/dev/null
. /usr/lib/evt/relay
roles= given=
for a in "$@"; do
    case "$a" in *=*) given="$given $a" ;; *) roles="$roles $a" ;; esac
done
# "@@DOMID NAME ID CS": CS, the centiseconds since T0 (/proc/uptime's first field).
made_line() {
    local t1 _
    read t1 _ < /proc/uptime
    echo "@@DOMID $1 $2 $(( ${t1%.*}${t1#*.} - ${3%.*}${3#*.} ))"
}

# One domain: its relay, `xl create -p`, and its id from the line xl's monitoring child
# writes to its log as it starts waiting for the domain (xl_vmcontrol.c): another `xl domid`
# costs dom0 a tenth of a second under TCG, every domain. The child may write just after
# `xl create` returns. Prints its @@DOMID line.
make_one() {
    local r=$1 cfg=/evt/$group/$1.cfg log=/var/log/xen/xl-$group-$1.log first line id= n=0 t0 _
    read t0 _ < /proc/uptime
    read -r first < "$cfg" || return 1
    case "$first" in
    "# linux-peer"*)
        # The Linux peer's ramdisk: its initramfs, then a cpio of the case script as /script.
        local d=/run/evt-peer/$group-$r
        mkdir -p "$d" && cp "/evt/$group/$r.script" "$d/script" || return 1
        (cd "$d" && echo script | cpio -o -H newc 2>/dev/null) | cat /usr/lib/evt/linux-peer.cpio.xz - > "$d.initrd" || return 1
    esac
    [ ! -e "$log" ] || rm -f "$log"
    relay "$group-$r" && xl create -p "$cfg" 2>&1 || return 1
    while [ -z "$id" ] && [ $n -lt 200 ]; do
        [ ! -e "$log" ] || while IFS= read -r line; do
            case "$line" in "Waiting for domain $group-$r (domid "*) id=${line#*(domid } id=${id%%)*} ;; esac
        done < "$log"
        [ -n "$id" ] || usleep 5000
        n=$((n + 1))
    done
    [ -n "$id" ] || id=$(xl domid "$group-$r") || return 1
    made_line "$group-$r" "$id" "$t0"
}

# A standby becomes its role at once. The others are made at the same time, one
# `xl create` per dom0 vcpu (a group's domains came each after the other before), each
# into a file of its own, read once all are made.
made= fresh= pids= failed=
for r in $roles; do
    case "$r" in
    *@*)
        read t0 _ < /proc/uptime
        sb=${r#*@} r=${r%@*}
        read id < "/run/standby/$sb" || { echo "create: $sb does not stand by"; exit 1; }
        rm -f "/run/standby/$sb"
        # Its script before its name: if that fails, its relay's last line, as it is destroyed, is not the group's.
        /evt/evtchn-op --give-script "$id" "/evt/$group/$r.script" || { echo "create: $sb got no script"; exit 1; }
        printf '[%s] ' "$group-$r" > /run/relay-$sb.prefix
        ln -sf xl-$sb.log "/var/log/xen/xl-$group-$r.log"
        ln -sf relay-$sb.pid "/run/relay-$group-$r.pid"
        made_line "$group-$r" "$id" "$t0"
        given="$given $r=$id"
        ;;
    *) fresh="$fresh $r" ;;
    esac
    made="$made ${r%@*}"
done
for r in $fresh; do
    if [ "$fresh" = " $r" ]; then
        make_one "$r" > "/run/evt-made-$group-$r" 2>&1 || failed=1
    else
        make_one "$r" > "/run/evt-made-$group-$r" 2>&1 &
        pids="$pids $!"
    fi
done
for pid in $pids; do wait "$pid" || failed=1; done
for r in $fresh; do
    id=
    while IFS= read -r line; do
        echo "$line"
        case "$line" in "@@DOMID $group-$r "*) set -- $line; id=$3 ;; esac
    done < "/run/evt-made-$group-$r"
    rm -f "/run/evt-made-$group-$r"
    [ -n "$id" ] || failed=1
    given="$given $r=$id"
done
[ -z "$failed" ] || exit 1
pairs=
for d in $given; do
    case " $made " in *" ${d%%=*} "*) ;; *) continue ;; esac  # only the domains made here
    for g in $given; do
        pairs="$pairs /local/domain/${d#*=}/$dir/dom/${g%%=*} ${g#*=}"
    done
done
[ -z "$pairs" ] || /evt/evtchn-op --xs-write $pairs
