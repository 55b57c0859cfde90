"""Shards: the suite spread over several machines (CI runners), each running a part.

The partition is deterministic and total: every group of the plan falls in exactly one
shard, the same one on every runner, so N runners with the same case files and `--shard
I/N` for I = 1..N run the whole suite once. Groups are the unit (their cases share
domains); they are dealt out heaviest first to the lightest shard, by the time their cases
are budgeted (each case's `budget`, and the Linux peer's boot), a figure the case files
themselves give, so the runners need no shared state to agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .cases.model import LINUX
from .cases.plan import Group

SPEC = re.compile(r"^([1-9]\d*)/([1-9]\d*)$")
LINUX_BOOT_WEIGHT_S = 10.0  # the peer's boot, on top of its cases' budgets
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as GitLab's CI_NODE_INDEX
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse(text: str) -> Shard:
    """`I/N` with 1 <= I <= N; ValueError naming what is wrong otherwise."""
    m = SPEC.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r}: a shard is I/N, e.g. 2/3")
    shard = Shard(int(m[1]), int(m[2]))
    if shard.index > shard.total:
        raise ValueError(f"{text!r}: shard {shard.index} of {shard.total} does not exist")
    return shard


def from_env(environ: Mapping[str, str] = os.environ) -> Shard | None:
    """GitLab's `parallel: N` (CI_NODE_INDEX, CI_NODE_TOTAL), when a job has it."""
    index, total = environ.get("CI_NODE_INDEX"), environ.get("CI_NODE_TOTAL")
    if not index or not total:
        return None
    return parse(f"{index}/{total}")


def weight(group: Group) -> float:
    w = sum(c.budget for c in group.cases)
    return w + LINUX_BOOT_WEIGHT_S if LINUX in group.config.domains else w


def assign(groups: list[Group], total: int) -> dict[int, int]:
    """Group index -> shard (1-based): heaviest first to the least loaded, ties to the
    lower shard and the lower group, so every runner computes the same."""
    load = [0.0] * total
    out: dict[int, int] = {}
    for g in sorted(groups, key=lambda g: (-weight(g), g.index)):
        k = min(range(total), key=lambda i: (load[i], i))
        load[k] += weight(g)
        out[g.index] = k + 1
    return out


def select(groups: list[Group], shard: Shard | None) -> list[Group]:
    if shard is None:
        return groups
    owner = assign(groups, shard.total)
    return [g for g in groups if owner[g.index] == shard.index]


def every(items: Sequence[T], shard: Shard | None) -> list[T]:
    """Every N-th item from the I-th on (a fuzz campaign's seeds, which cost about the same
    each): the shards of a list together hold each item once, and each shard a spread of it."""
    if shard is None:
        return list(items)
    return list(items[shard.index - 1 :: shard.total])
