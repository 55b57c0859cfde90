"""A case as the parser makes it: its steps, its domains' config, and the names every
part of the harness shares (Dom0, the Linux peer)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

# The privileged domain: its steps run through dom0's privcmd driver (dom0/ops.c),
# which offers the hypercalls marked DOM0 in script/script-lang.h only.
DOM0 = "Dom0"
# The Linux peer: a domU running a Linux kernel; its steps go through that kernel's event
# channel device (dom0/: evtchn-op --domu, started by dom0/peer-init.c): the same ops as Dom0.
LINUX = "Linux"

# Domains whose own event channels a Linux kernel holds (its xenstore, console, device
# ports): their steps may not reset those or close one behind the kernel's back
# (dom0/ops.c: close, reset). Our guests reset their own at every case.
KERNEL_DOMAINS = (DOM0, LINUX)
DOMID_SELF = 0x7FF0  # xen/include/public/xen.h: the caller itself
DEFAULT_VCPUS = 1
DEFAULT_MAX_EVENT_CHANNELS = 1023  # xl.cfg(5)'s default
CASE_BASE_S = 10.0
SECONDS_PER_STEP = 1.0
# A budget is seconds on a quiet host, and a shared host may run the guests several times
# slower. Past its budget a guest goes on while its group keeps printing, with no silence
# as long as the budget, up to this many budgets; a hung guest is silent, a slow one is not.
SLOW_HOST_CAP = 8
FUZZ_OPS = frozenset({"fuzz", "fuzz_with", "chaos"})  # the ops that run the fuzzer


def deadline(start: float, budget: float, progress_at: float) -> float:
    """When a member of a group that began at `start` with `budget` seconds is late: the
    budget, and past it no silence as long as the budget (`progress_at`: the group's
    latest line), up to SLOW_HOST_CAP budgets."""
    quiet = max(start, progress_at) + budget
    return min(start + SLOW_HOST_CAP * budget, max(start + budget, quiet))


@dataclass(frozen=True)
class Config:
    """What the domains of a case need from xl; cases with equal configs share domains."""

    domains: tuple[str, ...]
    vcpus: int = DEFAULT_VCPUS
    max_event_channels: int = DEFAULT_MAX_EVENT_CHANNELS
    irqs: tuple[int, ...] = ()  # physical IRQs xl grants the domain (xl.cfg `irqs`)


@dataclass(frozen=True)
class Step:
    line: int
    domain: str
    op: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # what the Xen under test should answer (its source decides)
    spec: tuple[str, ...] | None  # what the 3.0 interface guide says, where it differs
    save: str | None
    concurrent: bool  # runs together with the next step
    comment: str
    # Where Xen's answer changed on purpose: from each (major, minor) on, what it answers
    # instead of `expect` (`-> EINVAL 4.18: EBUSY`); `expect_for` picks one per Xen.
    since: tuple[tuple[tuple[int, int], tuple[str, ...]], ...] = ()

    def expect_for(self, version: tuple[int, int]) -> tuple[str, ...]:
        """What Xen major.minor `version` should answer."""
        chosen = self.expect
        for v, expect in self.since:
            if version >= v:
                chosen = expect
        return chosen


@dataclass
class Case:
    name: str
    path: Path
    line: int
    title: str = ""
    sources: list[str] = field(default_factory=list)
    domains: tuple[str, ...] = ()
    vcpus: int = DEFAULT_VCPUS
    max_event_channels: int = DEFAULT_MAX_EVENT_CHANNELS
    irqs: tuple[int, ...] = ()
    timeout: int = 0  # seconds the guests get for this case; 0: from its number of steps
    fresh: bool = False  # always in domains of its own: it changes what no reset undoes
    steps: list[Step] = field(default_factory=list)
    copied_from: Path | None = None  # the file `path` is a copy of (the matrix's snapshot), if any

    @property
    def budget(self) -> float:
        return float(self.timeout) if self.timeout else CASE_BASE_S + SECONDS_PER_STEP * len(self.steps)

    @property
    def config(self) -> Config:
        return Config(self.domains, self.vcpus, self.max_event_channels, self.irqs)

    @property
    def id(self) -> str:
        return self.name

    @property
    def fuzzes(self) -> bool:
        return any(s.op in FUZZ_OPS for s in self.steps)

    @property
    def destroyed(self) -> tuple[str, ...]:
        """The domains a `Dom0 destroy @X` step of this case ends."""
        return tuple(s.args[0][1:] for s in self.steps if s.op == "destroy" and s.args[0].startswith("@"))

    def cut(self, role: str) -> set[int]:
        """Lines of `role`'s steps that run into its destruction (joined by `&` to the
        destroy): they never report a result, by design."""
        out: set[int] = set()
        chain: list[Step] = []
        for s in self.steps:
            chain.append(s)
            if s.concurrent:
                continue
            if any(c.op == "destroy" and c.args[0] == f"@{role}" for c in chain):
                out |= {c.line for c in chain if c.domain == role}
            chain = []
        return out

    def for_xen(self, version: tuple[int, int]) -> Case:
        """This case as Xen major.minor `version` should answer it."""
        steps = [replace(st, expect=st.expect_for(version)) for st in self.steps]
        return replace(self, steps=steps)


def shown(path: Path) -> str:
    """A path as messages print it: one line, whatever characters its name holds."""
    text = str(path)
    return text if text.isprintable() else ascii(text)
