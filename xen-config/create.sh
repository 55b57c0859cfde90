#!/bin/sh
# create GROUP XS_DIR ROLE... [ROLE=ID...]: create a group's domains, paused, each with
# its console relay (relay.sh) in place first, then tell each domain every domain's id
# under XS_DIR/dom/ROLE of its xenstore home (ROLE=ID: one that is not created here, as
# Dom0=0). Prints "@@DOMID <name> <id> <centiseconds it took>" for each; stops at the
# first failure. One request for the harness to send, one answer back.
# ROLE@standby: the Linux peer that stands by, paused, in the saved machine (standby.sh)
# becomes this group's ROLE: renamed, its relay's prefix and the names the harness looks
# its logs up by with it, and given the role's script through xenstore. It has booted
# already; it runs the script once the group unpauses it.
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
made=
for r in $roles; do
    read t0 _ < /proc/uptime
    case "$r" in
    *@standby)
        r=${r%@standby} sb=linux-standby
        read id < /run/evt-standby || exit 1
        xl rename $sb "$group-$r" || exit 1
        rm -f /run/evt-standby
        printf '[%s] ' "$group-$r" > /run/relay-$sb.prefix
        ln -sf xl-$sb.log "/var/log/xen/xl-$group-$r.log"
        ln -sf relay-$sb.pid "/run/relay-$group-$r.pid"
        /evt/evtchn-op --give-script "$id" "/evt/$group/$r.script" || exit 1
        ;;
    *)
        cfg=/evt/$group/$r.cfg
        read -r first < "$cfg" || exit 1
        case "$first" in
        "# linux-peer"*)
            # The Linux peer's ramdisk: its initramfs, then a cpio of the case script as /script.
            d=/run/evt-peer/$group-$r
            mkdir -p "$d" && cp "/evt/$group/$r.script" "$d/script" || exit 1
            (cd "$d" && echo script | cpio -o -H newc 2>/dev/null) | cat /usr/lib/evt/linux-peer.cpio.xz - > "$d.initrd" || exit 1
        esac
        # The id from the line xl's monitoring child writes to its log as it starts waiting
        # for the domain (xl_vmcontrol.c): another `xl domid` costs dom0 a tenth of a second
        # under TCG, every domain. The child may write just after `xl create` returns.
        log=/var/log/xen/xl-$group-$r.log
        [ ! -e "$log" ] || rm -f "$log"
        relay "$group-$r" && xl create -p "$cfg" 2>&1 || exit 1
        id= n=0
        while [ -z "$id" ] && [ $n -lt 200 ]; do
            id=$(sed -n "s/^Waiting for domain $group-$r (domid \([0-9]*\)) to die.*/\1/p" "$log" 2>/dev/null)
            [ -n "$id" ] || usleep 5000
            n=$((n + 1))
        done
        [ -n "$id" ] || id=$(xl domid "$group-$r") || exit 1
    esac
    read t1 _ < /proc/uptime
    echo "@@DOMID $group-$r $id $(( ${t1%.*}${t1#*.} - ${t0%.*}${t0#*.} ))"
    given="$given $r=$id" made="$made $r"
done
pairs=
for d in $given; do
    case " $made " in *" ${d%%=*} "*) ;; *) continue ;; esac  # only the domains made here
    for g in $given; do
        pairs="$pairs /local/domain/${d#*=}/$dir/dom/${g%%=*} ${g#*=}"
    done
done
[ -z "$pairs" ] || xenstore-write $pairs
