"""A group of cases compiled into one script per domain (docs/guest-script.md): the
steps in file order, with barriers and variables passed through xenstore."""

from __future__ import annotations

import re
from collections import Counter

from .. import lang
from ..errors import CaseFileError
from ..initramfs import RUN_DISK_BYTES
from ..userfile import MiB
from .model import DOM0, LINUX, SLOW_HOST_CAP, Case, Step, shown
from .plan import Group

# The index compile_case() gets in the checks: longer than any real group's, so if
# its keys fit the guest's limits, every real one does. Nine digits: `compare` numbers
# the groups of its arms one after another, past 99999 for 10^5 cases.
CHECK_INDEX = 999_999_999

# A barrier's wait in the guest, at least; a group's is as long as the orchestrator would
# wait for the group (sync_timeout_ms()), so the guest never gives up on a late peer first.
SYNC_TIMEOUT_MS = 120000
# The longest sync_timeout_ms() gives (the guest's deadline arithmetic is 64-bit ns): the
# checks compile with it, so a real group's lines are never longer than checked.
MAX_SYNC_TIMEOUT_MS = 999_999_999
# Ops that count a port's upcalls from a base: in an `&` chain, a `mark` takes it (compile_case).
COUNTS_FROM_MARK = ("pingpong", "rtt")
# A guest's script is its ramdisk, loaded into its 16 MiB (xen-config/domU.cfg.in) after
# its first MiB and its kernel with its bss (6.3 MiB, a standby's 64 KiB for a script through
# xenstore among it): about 8.5 MiB are left for it.
GUEST_SCRIPT_MAX = 8 * MiB
# What the run disk (initramfs.RUN_DISK_BYTES) holds beside the scripts: the guest and
# dom0's evtchn-op (0.9 MiB), the helpers, the xl configs, the Linux peer's initramfs
# (0.35 MiB) and cpio's headers. The Linux peer's kernel is in dom0's initramfs.
RUN_DISK_OTHERS = 2 * MiB


def script_size_error(case: Case, sizes: dict[str, int]) -> str | None:
    """What is wrong with the size of a case's compiled scripts (bytes, by domain), or
    None: each guest's must fit its memory, all of them the run disk, alone with the run's
    other files. The run disk is checked again as it is made (initramfs.build_run_disk)."""
    for dom, size in sizes.items():
        if dom not in (DOM0, LINUX) and size > GUEST_SCRIPT_MAX:
            return (
                f"case {case.name}: {dom}'s script would take {size} bytes, more than a guest holds "
                f"({GUEST_SCRIPT_MAX // MiB} MiB of its 16: xen-config/domU.cfg.in): split the case"
            )
    room = RUN_DISK_BYTES - RUN_DISK_OTHERS
    total = sum(sizes.values())
    if total > room:
        return (
            f"case {case.name}: its scripts would take {total} bytes, more than the run disk has room for "
            f"({room} of its {RUN_DISK_BYTES // MiB} MiB, beside the guest's files): split the case"
        )
    return None


def _uses(step: Step) -> set[str]:
    vals = list(step.args) + [e.partition("=")[2] or e for e in step.expect]
    return {v[1:] for v in vals if v.startswith("$")}


def compile_case(
    case: Case, index: int, sync_timeout_ms: int = SYNC_TIMEOUT_MS, group: int = 0
) -> dict[str, list[str]]:
    """The script lines of one case for each of its domains. Its rendezvous keys name the
    group too: dom0 publishes for every group in the same place, and a key an earlier
    group's Dom0 left there must not stand in for this one's."""
    out: dict[str, list[str]] = {d: [f"case {case.name}"] for d in case.domains}
    key = f"g{group}c{index}" if group else f"c{index}"
    doms = case.domains

    def get(dom: str, line: int, peer: str, name: str, save: str | None = None) -> None:
        tail = f" => {save}" if save else ""
        out[dom].append(f"{line} get {peer} {key}-{name} {sync_timeout_ms}{tail}")

    # Nobody starts before everybody has reset its event channels for this case.
    if len(doms) > 1:
        for d in doms:
            out[d].append(f"{case.line} put {key}-ready 1")
        for d in doms:
            for p in doms:
                if p != d:
                    get(d, case.line, p, "ready")

    owner: dict[str, str] = {}  # variable -> domain that sets it
    for s in case.steps:
        if s.save:
            owner[s.save] = s.domain
    foreign_users: dict[str, set[str]] = {}
    for s in case.steps:
        for v in _uses(s):
            if owner.get(v) not in (None, s.domain):
                foreign_users.setdefault(v, set()).add(s.domain)

    # Split the steps into groups that run together (joined by `&`).
    runs: list[list[Step]] = []
    joined = False
    for s in case.steps:
        if joined:
            runs[-1].append(s)
        else:
            runs.append([s])
        joined = s.concurrent

    fetched: dict[str, set[str]] = {d: set() for d in doms}
    prev: list[str] = []
    for k, run in enumerate(runs):
        now = [s.domain for s in run]
        # A domain the run before destroyed will never say it is done: nobody waits for it.
        if k:
            prev = [p for p in prev if not any(s.op == "destroy" and s.args[0] == f"@{p}" for s in runs[k - 1])]
        if prev and set(now) != set(prev):
            line = run[0].line
            for p in prev:
                out[p].append(f"{line} put {key}-b{k} 1")
            for d in now:
                for p in prev:
                    if p != d:
                        get(d, line, p, f"b{k}")
        for s in run:
            # Variables travel under their own prefix: they cannot clash with barriers.
            for v in sorted(_uses(s)):
                if owner[v] != s.domain and v not in fetched[s.domain]:
                    get(s.domain, s.line, owner[v], f"v-{v}", save=v)
                    fetched[s.domain].add(v)
        if len(run) > 1:
            # Steps that run together start together; a pingpong or rtt takes its
            # base count before the peer can send its first event.
            line = run[0].line
            for s in run:
                if s.op in COUNTS_FROM_MARK:
                    out[s.domain].append(f"{line} mark {s.args[0]}")
                out[s.domain].append(f"{line} put {key}-s{k} 1")
            for s in run:
                for p in now:
                    if p != s.domain:
                        get(s.domain, line, p, f"s{k}")
        for s in run:
            text = f"{s.line} {s.op} {' '.join(s.args)}".rstrip() + f" -> {' '.join(s.expect)}"
            if s.save:
                text += f" => {s.save}"
            out[s.domain].append(text)
            if s.save and s.save in foreign_users:
                out[s.domain].append(f"{s.line} put {key}-v-{s.save} ${s.save}")
        prev = now
    # Nobody leaves before everybody is done: the next case's reset would close
    # ports a peer may still be looking at.
    alive = [d for d in doms if d not in case.destroyed]
    if len(alive) > 1:
        last = case.steps[-1].line
        for d in alive:
            out[d].append(f"{last} put {key}-done 1")
        for d in alive:
            for p in alive:
                if p != d:
                    get(d, last, p, "done")
    for d in doms:
        out[d].append("end")
    return out


def sync_timeout_ms(group: Group) -> int:
    """How long a barrier of the group waits for a peer: as long as the orchestrator waits for
    the group (SLOW_HOST_CAP budgets, domain.Domain.wait_done), so that on a slow host a
    late peer is the orchestrator's to judge (by the group's silence), never a barrier's
    fixed timer that runs out first (soak run 33: 120 s, in a group the orchestrator gave more)."""
    budget_ms = int(sum(c.budget for c in group.cases) * SLOW_HOST_CAP * 1000)
    return min(max(SYNC_TIMEOUT_MS, budget_ms), MAX_SYNC_TIMEOUT_MS)


def source_comment(case: Case) -> str:
    """The comment line that opens a case in a script: where it comes from, for a reader.

    A file name is not a token: whatever it holds must not become a line of the script;
    and a long one is cut, for the line must fit the guest's MAX_LINE like any other."""
    name = re.sub(r"[^A-Za-z0-9._-]", "?", case.path.name)
    room = lang.MAX_LINE - len(f"# {case.name}: :{case.line}")
    if len(name) > room:
        name = name[: room - 3] + "..."
    return f"# {case.name}: {name}:{case.line}"


def source_line(case: Case, lines: list[str], k: int) -> int:
    """The case-file line that script line `k` (1-based) of `lines` was compiled from."""
    src = lines[k - 1] if k <= len(lines) else "end"
    first = src.split(" ", 1)[0]
    return int(first) if first.isdecimal() and first.isascii() else case.line


def compile_group(group: Group) -> dict[str, str]:
    """The whole script of each domain of a group."""
    if max(group.index, len(group.cases)) > CHECK_INDEX:
        raise CaseFileError(f"group {group.index} of {len(group.cases)} cases: more than the checks allow for")
    timeout = sync_timeout_ms(group)
    scripts: dict[str, list[str]] = {d: [] for d in group.config.domains}
    origin: dict[str, list[Case]] = {d: [] for d in group.config.domains}  # each script line's case
    for i, case in enumerate(group.cases, start=1):
        for dom, lines in compile_case(case, i, timeout, group=group.index).items():
            scripts[dom] += [source_comment(case), *lines]
            origin[dom] += [case] * (len(lines) + 1)
    out = {d: "\n".join(lines) + "\n" for d, lines in scripts.items()}
    for dom, text in out.items():
        if dom not in (DOM0, LINUX) and len(text) > GUEST_SCRIPT_MAX:
            # Each case fits (the checks), but cases that share domains add up.
            count = Counter(id(c) for c in origin[dom])
            big = max(group.cases, key=lambda c: count[id(c)])
            raise CaseFileError(
                f"{shown(big.path)}:{big.line}: group {group.index}: {dom}'s script of {len(group.cases)} cases "
                f"would take {len(text)} bytes, more than a guest holds ({GUEST_SCRIPT_MAX // MiB} MiB); "
                f"its longest case is {big.name}: run with --fresh, or split the case files"
            )
        # The cases passed these checks (CHECK_INDEX); this only guards the promise.
        for k, err in lang.check_script(text.encode()):
            if err:
                case = origin[dom][min(k, len(origin[dom])) - 1]
                where = f"{shown(case.path)}:{source_line(case, scripts[dom], k)}"
                raise CaseFileError(f"{where}: group {group.index}: the guest would refuse {dom}'s script: {err}")
    return out
