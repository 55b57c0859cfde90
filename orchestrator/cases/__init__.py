"""Case files: parsed, checked before any boot, and compiled into guest scripts.

A case file (``cases/*.evt``) reads as one story across domains:

    case interdomain-exchange
    title   A and B connect a channel and exchange events
    domains A B
    source  xen/common/event_channel.c: evtchn_alloc_unbound()

    A alloc_unbound self @B   -> ok => pa
    B bind_interdomain @A $pa -> ok => pb
    A close 9999              -> EINVAL spec: ESRCH   # Xen's answer, then the 3.0 guide's

Each step names the domain that runs it. Steps run in file order: where the
running domain changes, the compiler inserts a barrier (``put``/``get`` through
xenstore, see docs/guest-script.md); a variable used in a domain other than the
one that set it is published and fetched the same way. A step ending in ``&``
runs at the same time as the next one (in another domain).

The package by concern: `model` (a case, its steps and config), `parse` (the case-file
parser and its checks, `load`), `errnos` (the errno names Xen's headers give a guest),
`plan` (case order and the groups that share domains) and `compile` (a group into each
domain's script).
"""
