"""Which groups of the suite reach which lines (`run --coverage`): attribution.md and
attribution.json beside the suite's coverage report.

A suite run with counters reads them after every group (runner.Session, CoverageRead):
each read is everything its machine counted since its reset. Here each read becomes the
per-line counts of coverage.MAIN_FILES (coverage.trace of their objects alone), and a
read is credited with the lines whose count grew since its machine's read before (a
replacement machine counts from zero). From there on it is set arithmetic, tested
without Xen: the lines only one group reaches, the groups that add no line, and the
same per case file (a file's groups together).

It is as precise as a read's edges: while a group runs, dom0 creates the next group's
domains (Xen's side of that, evtchn_init() and the rest, lands in the running group)
and destroys ended domains past runner.ENDED_KEPT (their teardown lands in a later
group); the machine's last read, after its last group, holds the rest of the teardown
(shown as `end`). A group holds cases of several files when they can share domains
(cases.plan): its lines are credited to each of those files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import coverage, log
from .coverage import MAIN_FILES, DumpError, _spans
from .errors import HarnessError
from .pipeline import SuiteRun

Counts = Mapping[str, Mapping[int, int]]  # by file (MAIN_FILES), each line's count (0: never ran)
Lines = dict[str, frozenset[int]]  # by file, line numbers
UNREAD = "in no read (its machine was lost before one, or every read after it on that machine failed)"


@dataclass(frozen=True)
class GroupInfo:
    index: int
    cases: tuple[str, ...]
    case_files: tuple[str, ...]


@dataclass(frozen=True)
class Read:
    """One read of a machine's counters, in the order they were read."""

    machine: str  # whose counters, each machine from its own reset
    groups: tuple[int, ...]  # run on that machine since its read before (CoverageRead.since)
    end: bool  # the machine's last read, after its last group: the teardown at the end
    counts: Counts | None  # None: the dump could not be made into counts


@dataclass(frozen=True)
class Unit:
    """What one read is credited with."""

    machine: str
    groups: tuple[int, ...]  # a failed read's groups are carried into the next read's
    end: bool
    lines: Lines  # those whose count grew since the machine's read before
    read: bool  # False: its counts could not be made; its groups count with the next read

    def label(self, machines: int = 1) -> str:
        at = f" (machine {self.machine})" if machines > 1 and (self.end or not self.groups) else ""
        named = f"group{'s' if len(self.groups) > 1 else ''} {', '.join(map(str, self.groups))}" if self.groups else ""
        if self.end:
            return f"{named} + end{at}" if named else f"end{at}"
        return named + at


def grown(before: Mapping[int, int], after: Mapping[int, int]) -> frozenset[int]:
    """The lines whose count is higher in `after`."""
    return frozenset(n for n, c in after.items() if c > before.get(n, 0))


def units(reads: Sequence[Read], files: Sequence[str] = MAIN_FILES) -> list[Unit]:
    """Each read credited with the lines whose counts grew since the read before on its
    machine; a machine's first read against zero (a replacement's counters start anew)."""
    before: dict[str, Counts] = {}
    carried: dict[str, tuple[int, ...]] = {}
    out: list[Unit] = []
    for r in reads:
        groups = carried.pop(r.machine, ()) + r.groups
        if r.counts is None:
            carried[r.machine] = groups
            out.append(Unit(r.machine, groups, r.end, {f: frozenset() for f in files}, False))
            continue
        prev = before.get(r.machine, {})
        lines = {f: grown(prev.get(f, {}), r.counts.get(f, {})) for f in files}
        before[r.machine] = r.counts
        out.append(Unit(r.machine, groups, r.end, lines, True))
    return out


def union(many: Sequence[Lines], files: Sequence[str] = MAIN_FILES) -> Lines:
    return {f: frozenset().union(*(m.get(f, frozenset()) for m in many)) for f in files}


def count(lines: Mapping[str, frozenset[int]]) -> int:
    return sum(len(v) for v in lines.values())


def only(mine: Sequence[Lines], others: Sequence[Lines], files: Sequence[str] = MAIN_FILES) -> Lines:
    """The lines some of `mine` reach and none of `others`."""
    have, theirs = union(mine, files), union(others, files)
    return {f: have[f] - theirs[f] for f in files}


@dataclass(frozen=True)
class FileShare:
    """A case file's groups together."""

    name: str
    groups: tuple[int, ...]  # every group with a case of the file
    lines: Lines
    unique: Lines  # reached by its groups and by no group without a case of it
    shares_with: tuple[str, ...]  # the other files of its groups, credited with the same lines
    shared: tuple[tuple[int, int], ...] = ()  # (group, how many other files' cases it holds), for each shared one

    @property
    def apart(self) -> bool:
        """Whether a group of its own cases alone tells it apart from the files it shares with."""
        return len(self.shared) < len(self.groups)


@dataclass
class Attribution:
    files: tuple[str, ...]
    units: list[Unit]
    unique: list[Lines]  # by unit: the lines no other read reaches
    case_files: list[FileShare]
    unread: list[int]  # groups in no read made: their machine was lost before one, or the reads failed

    @property
    def reached(self) -> Lines:
        return union([u.lines for u in self.units], self.files)

    @property
    def single(self) -> Lines:
        """The lines exactly one read reaches."""
        return union(self.unique, self.files)

    def adds_no_line(self) -> list[Unit]:
        """The groups' reads with no line of their own: every line they reach, another reaches."""
        return [u for u, mine in zip(self.units, self.unique, strict=True) if u.read and u.groups and not count(mine)]

    def files_adding_no_line(self) -> list[FileShare]:
        return [s for s in self.case_files if not count(s.unique)]

    @property
    def machines(self) -> int:
        return len({u.machine for u in self.units})


def attribute(reads: Sequence[Read], groups: Sequence[GroupInfo], files: Sequence[str] = MAIN_FILES) -> Attribution:
    """The reads credited (units), each one's own lines, each case file's, and the groups
    no read covers."""
    made = units(reads, files)
    unique = [only([u.lines], [o.lines for o in made if o is not u], files) for u in made]
    info = {g.index: g for g in groups}
    names = sorted({f for g in groups for f in g.case_files})
    shares = []
    for name in names:
        mine = tuple(g.index for g in groups if name in g.case_files)
        theirs = [u for u in made if set(u.groups) & set(mine)]
        rest = [u for u in made if not set(u.groups) & set(mine)]
        others = sorted({f for i in mine for f in info[i].case_files} - {name})
        shares.append(
            FileShare(
                name,
                mine,
                union([u.lines for u in theirs], files),
                only([u.lines for u in theirs], [u.lines for u in rest], files),
                tuple(others),
                tuple((i, n) for i in mine if (n := len(set(info[i].case_files) - {name}))),
            )
        )
    covered = {i for u in made if u.read for i in u.groups}
    unread = [g.index for g in groups if g.index not in covered]
    return Attribution(tuple(files), made, unique, shares, unread)


# ---- attribution.md and attribution.json ----


def _short(path: str) -> str:
    return Path(path).name


def by_function(lines: Lines, function_of: Mapping[str, Callable[[int], str]]) -> list[tuple[str, str, list[int]]]:
    """(file, function, its lines) for each function the lines are in: the files in their
    order in `lines` (MAIN_FILES'), each one's functions in line order."""
    rank = {f: i for i, f in enumerate(lines)}
    out: dict[tuple[str, str], list[int]] = {}
    for f, ns in lines.items():
        of = function_of.get(f, lambda _: "?")
        for n in sorted(ns):
            out.setdefault((f, of(n)), []).append(n)
    return [(f, name, ns) for (f, name), ns in sorted(out.items(), key=lambda kv: (rank[kv[0][0]], kv[1][0]))]


def _per_file(lines: Mapping[str, frozenset[int]], files: Sequence[str]) -> str:
    return " | ".join(str(len(lines.get(f, frozenset()))) for f in files)


def format_markdown(
    att: Attribution,
    groups: Mapping[int, GroupInfo],
    function_of: Mapping[str, Callable[[int], str]],
    head: Sequence[str] = (),
    disagree: Sequence[str] = (),
) -> str:
    files = att.files
    m = att.machines
    names = [_short(f) for f in files]
    cols = " | ".join(names)
    own = " | ".join(f"its own: {n}" for n in names)
    out = ["# Which groups reach which lines", "", *head]
    out += [
        "",
        "Each read of Xen's counters, after each group, is credited with the lines of "
        f"{', '.join(names)} whose count grew since its machine's read before. At the edges it is not exact: "
        "while a group runs, dom0 creates the next group's domains (that work lands in the running group) and "
        "destroys ended domains past the 16 it keeps (their teardown lands in a later group); `end` is the read "
        "after the last group, with the rest of the teardown. A group holds cases of every file that can share "
        "its domains: its lines are credited to each of them (`run --fresh`: a group per case).",
    ]
    if disagree:
        out += ["", *(f"**The per-group reads and the report disagree:** {d}" for d in disagree)]
    reached, single = att.reached, att.single
    out += [
        "",
        "## Summary",
        "",
        f"| lines | {cols} | together |",
        "|---|" + "---|" * (len(files) + 1),
        f"| reached | {_per_file(reached, files)} | {count(reached)} |",
        f"| reached by one read alone | {_per_file(single, files)} | {count(single)} |",
        "",
    ]
    none = att.adds_no_line()
    out.append(
        "**Groups that add no line** (another group reaches every line they reach): "
        + (", ".join(f"{u.label(m)} ({', '.join(_files_of(u, groups))})" for u in none) if none else "none")
        + "."
    )
    idle = att.files_adding_no_line()
    out.append("")
    out.append(
        "**Case files that add no line** (other files' groups reach every line theirs reach): "
        + (", ".join(f"`{s.name}`" for s in idle) if idle else "none")
        + "."
    )
    mixed = [s for s in att.case_files if not s.apart]
    if mixed:
        out += [
            "",
            "**Case files run only in groups with other files' cases** (their own lines are those groups', "
            "not theirs alone; `run --fresh` tells them apart): " + ", ".join(f"`{s.name}`" for s in mixed) + ".",
        ]
    ranked = sorted(
        ((count(mine), u) for u, mine in zip(att.units, att.unique, strict=True) if count(mine)),
        key=lambda p: -p[0],
    )
    if ranked:
        out += ["", "Most lines of their own: " + ", ".join(f"{u.label(m)} ({n})" for n, u in ranked[:5]) + "."]
    out += [
        "",
        "## Groups",
        "",
        f"| read | case file(s) | cases | lines reached | {own} |",
        "|---|---|---|---|" + "---|" * len(files),
    ]
    for u, mine in zip(att.units, att.unique, strict=True):
        n_cases = sum(len(groups[i].cases) for i in u.groups if i in groups)
        what = ", ".join(_files_of(u, groups)) or ("teardown after the last group" if u.end else "")
        row = f"| {u.label(m)} | {what} | {n_cases} | "
        if not u.read:
            out.append(row + "not read: counted with the next read |" + " |" * len(files))
            continue
        out.append(row + f"{count(u.lines)} | {_per_file(mine, files)} |")
    out += ["", "## Lines only one read reaches", ""]
    for u, mine in zip(att.units, att.unique, strict=True):
        if not count(mine):
            continue
        cases = [c for i in u.groups if i in groups for c in groups[i].cases]
        out += [f"### {u.label(m)}: {count(mine)} line(s)", ""]
        if cases:
            out += [f"Case file(s): {', '.join(_files_of(u, groups))}; cases: {', '.join(cases)}.", ""]
        elif u.end:
            out += ["The teardown after the last group (the ended domains destroyed before the last read).", ""]
        out += ["| file | function | lines |", "|---|---|---|"]
        out += [f"| {_short(f)} | `{name}` | {_spans(ns)} |" for f, name, ns in by_function(mine, function_of)]
        out.append("")
    out += [
        "## Case files",
        "",
        f"| case file | groups | lines reached | {own} | groups shared with other files |",
        "|---|---|---|" + "---|" * len(files) + "---|",
    ]
    for s in att.case_files:
        out.append(
            f"| `{s.name}` | {', '.join(map(str, s.groups))} | {count(s.lines)} | "
            f"{_per_file(s.unique, files)} | {_shared(s)} |"
        )
    notes = [f"- group {i}: {UNREAD}" for i in att.unread]
    if notes:
        out += ["", "## Not attributed", "", *notes]
    return "\n".join(out) + "\n"


def _shared(s: FileShare) -> str:
    """Its groups that hold other files' cases too, each with how many: "1 (+14 files), 3 (+3 files)"."""
    return ", ".join(f"{i} (+{n} file{'s' if n > 1 else ''})" for i, n in s.shared) or "-"


def _files_of(u: Unit, groups: Mapping[int, GroupInfo]) -> list[str]:
    return sorted({f for i in u.groups if i in groups for f in groups[i].case_files})


def to_json(att: Attribution, groups: Mapping[int, GroupInfo], disagree: Sequence[str] = ()) -> dict[str, Any]:
    def sets(lines: Lines) -> dict[str, list[int]]:
        return {f: sorted(v) for f, v in lines.items()}

    m = att.machines
    return {
        "files": list(att.files),
        "reached": {f: len(v) for f, v in att.reached.items()},
        "single": {f: len(v) for f, v in att.single.items()},
        "reads": [
            {
                "label": u.label(m),
                "machine": u.machine,
                "groups": list(u.groups),
                "end": u.end,
                "read": u.read,
                "case_files": _files_of(u, groups),
                "cases": [c for i in u.groups if i in groups for c in groups[i].cases],
                "lines": sets(u.lines),
                "unique": sets(mine),
            }
            for u, mine in zip(att.units, att.unique, strict=True)
        ],
        "adds_no_line": [u.label(m) for u in att.adds_no_line()],
        "case_files": [
            {
                "file": s.name,
                "groups": list(s.groups),
                "lines": {f: len(v) for f, v in s.lines.items()},
                "unique": sets(s.unique),
                "shares_with": list(s.shares_with),
                "shared_groups": {str(i): n for i, n in s.shared},
            }
            for s in att.case_files
        ],
        "files_adding_no_line": [s.name for s in att.files_adding_no_line()],
        "unread_groups": att.unread,
        "disagree": list(disagree),
    }


def disagreement(att: Attribution, report: Mapping[str, frozenset[int]]) -> list[str]:
    """Each file whose lines by the per-group reads are not the report's (a read lost)."""
    reached = att.reached
    out = []
    for f in att.files:
        mine, theirs = reached[f], report.get(f, frozenset())
        if mine != theirs:
            out.append(
                f"{f}: {len(mine)} line(s) by the per-group reads, {len(theirs)} by the report "
                f"({len(mine - theirs)} only in the reads, {len(theirs - mine)} only in the report)"
            )
    return out


# ---- from a suite run's reads to attribution.md ----


@dataclass(frozen=True)
class Dump:
    """A read's dump, and what it follows."""

    machine: str  # "<session>.<machine>": a run with --jobs has a session per machine
    groups: tuple[int, ...]
    end: bool
    path: Path


def suite_dumps(run: SuiteRun) -> list[Dump]:
    """Every read of the run (Session(coverage_each=True) keeps them), each session's in turn."""
    return [
        Dump(f"{k}.{r.machine}", r.since, r.group is None, r.path)
        for k, s in enumerate(run.sessions, start=1)
        for r in s.coverage_reads
    ]


def _case_file(path: Path) -> str:
    """A case file as it was named, relative to the working folder if it is in it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def group_infos(run: SuiteRun) -> list[GroupInfo]:
    return [
        GroupInfo(
            g.group.index,
            tuple(c.name for c in g.group.cases),
            tuple(sorted({_case_file(c.path) for c in g.group.cases})),
        )
        for g in run.groups
    ]


def read_counts(dumps: Sequence[Dump], build_dir: Path, tree: Path, scratch: Path) -> list[Read]:
    """Each dump's per-line counts of MAIN_FILES (their objects alone through gcov: under a
    second a read). A dump that cannot be read leaves its lines to its machine's next read."""
    reads = []
    with log.step(f"coverage: the lines of each of {len(dumps)} read(s) (gcovr, {len(MAIN_FILES)} files)"):
        for k, d in enumerate(dumps, start=1):
            counts: dict[str, dict[int, int]] | None = None
            try:
                trace = coverage.main_trace(d.path, build_dir, tree, scratch, f"read-{k}")
                counts = {f: coverage.line_counts(trace, f) for f in MAIN_FILES}
            except (DumpError, HarnessError, OSError) as e:
                log.info(f"coverage: the read {d.path} could not be read: {str(e).splitlines()[0]}")
            reads.append(Read(d.machine, d.groups, d.end, counts))
    return reads


@dataclass
class SuiteAttribution:
    attribution: Attribution
    disagree: list[str]  # files whose per-group figure is not the report's


def suite_report(run: SuiteRun, build_dir: Path, tree: Path, out: Path) -> SuiteAttribution:
    """attribution.md and attribution.json in `out`, beside the report made there from the
    same run (its coverage.json: the lines to agree with, the functions to name); then every
    per-group dump but each machine's last (the report's) is deleted."""
    dumps = suite_dumps(run)
    reads = read_counts(dumps, build_dir, tree, out / "reads")
    shutil.rmtree(out / "reads", ignore_errors=True)
    groups = group_infos(run)
    att = attribute(reads, groups)
    trace = json.loads((out / "coverage.json").read_text())
    disagree = disagreement(att, {f: coverage.lines_of(trace, f)[0] for f in MAIN_FILES})
    function_of = {f: coverage.function_of(trace, f) for f in MAIN_FILES}
    info = run.session.info
    head = [
        f"Xen {info.get('xen_version', '?')} build-id {info.get('build_id', '?')}, {tree}: "
        f"{sum(len(g.cases) for g in groups)} case(s) in {len(groups)} group(s), {len(dumps)} read(s) of the "
        f"counters on {att.machines} machine(s); the report: index.html beside this file."
    ]
    by_index = {g.index: g for g in groups}
    (out / "attribution.md").write_text(format_markdown(att, by_index, function_of, head, disagree))
    (out / "attribution.json").write_text(json.dumps(to_json(att, by_index, disagree), indent=1) + "\n")
    # Each machine's last read is the report's; the others are in attribution.json now, and large.
    keep = {os.path.realpath(p) for s in run.sessions for p in s.coverage_dumps.values()}
    for d in dumps:
        if os.path.realpath(d.path) not in keep:
            d.path.unlink(missing_ok=True)
    return SuiteAttribution(att, disagree)
