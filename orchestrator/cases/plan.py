"""The order cases run in, and the groups of cases that share domains."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from .model import DOM0, Case, Config


@dataclass(frozen=True)
class Group:
    """Cases that run one after another inside the same domains."""

    index: int
    config: Config
    cases: tuple[Case, ...]


ORDERS = ("file", "reverse", "random", "random:<seed>")


def order(cases: list[Case], spec: str) -> tuple[list[Case], str]:
    """The cases in the order `spec` asks for, and that order spelled so it can be replayed.

    `file` keeps the case files' order, `reverse` turns it round, `random` draws a seed
    and `random:<seed>` shuffles with it.
    """
    if spec == "file":
        return list(cases), spec
    if spec == "reverse":
        return cases[::-1], spec
    kind, colon, seed = spec.partition(":")
    if kind != "random" or (colon and not (seed.isascii() and seed.isdigit())):
        raise ValueError(f"unknown order `{spec}`: one of {', '.join(ORDERS)}")
    n = int(seed) if seed else random.SystemRandom().randrange(1 << 32)
    shuffled = list(cases)
    random.Random(n).shuffle(shuffled)
    return shuffled, f"random:{n}"


def shared(group: Config, case: Config) -> Config | None:
    """The config of a group that also runs `case`, or None if it cannot.

    The xl configs must be equal, and one case's guests a subset of the other's: a case
    that names fewer domains runs while the others go on to their next case (a domain is
    reset at each case it takes part in, and a case's barriers wait only for its own
    domains). `Dom0` is no xl domain: it joins any group.
    """
    if (group.vcpus, group.max_event_channels, group.irqs) != (case.vcpus, case.max_event_channels, case.irqs):
        return None
    mine, theirs = (set(c.domains) - {DOM0} for c in (group, case))
    if not (mine <= theirs or theirs <= mine):
        return None
    return replace(group, domains=group.domains + tuple(d for d in case.domains if d not in group.domains))


def plan(cases: list[Case], fresh: bool = False, first: int = 1) -> list[Group]:
    """Group cases that can share domains (`shared`), or one group per case when `fresh`
    (and for each case that says `fresh`).

    Within a group the cases keep the order they are given in, but for a case that destroys
    a domain: it runs last, since no reset brings the domain back, and a group takes one.
    A Linux peer booted for a group is so used by every case that can share it, the one
    that destroys it included. Groups are numbered from `first`, so plans made for one
    machine do not share domain names.
    """
    groups: list[tuple[Config, list[Case]]] = []
    for case in cases:
        for i, (config, members) in enumerate(groups):
            alone = fresh or case.fresh or members[0].fresh
            ends_twice = bool(case.destroyed) and any(m.destroyed for m in members)
            joined = None if alone or ends_twice else shared(config, case.config)
            if joined is not None:
                members.append(case)  # in place: a copy per case made 10^5 cases quadratic
                groups[i] = (joined, members)
                break
        else:
            groups.append((case.config, [case]))
    return [
        Group(n, config, tuple(sorted(cs, key=lambda c: bool(c.destroyed))))
        for n, (config, cs) in enumerate(groups, start=first)
    ]
