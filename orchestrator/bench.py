"""Timings: the whole suite, boot and domain creation, time per case, fresh against warm
domains, and the event round trips of bench/rtt.evt; written to build/bench/bench.json.

`bench()` runs things; everything it reports is computed by the pure functions below
from `Sample`s (what one run gives), so they are tested without QEMU.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import anchor, log
from .cases.model import LINUX, Case
from .pipeline import BUILD, SuiteRun, load_cases, prepare, run_all, run_suite
from .results import GroupResult, Rtt
from .runner import ROOT, xen_config_text

RTT_CASES = sorted((ROOT / "bench").glob("*.evt"))
RTT_STATS = ("min_ns", "median_ns", "p99_ns", "max_ns")


@dataclass(frozen=True)
class Spread:
    """Several samples of one figure."""

    min: float
    median: float
    max: float
    n: int


def spread(values: Sequence[float]) -> Spread | None:
    return Spread(min(values), statistics.median(values), max(values), len(values)) if values else None


@dataclass
class Sample:
    """What one boot (run_all) gives the figures: plain data, no Session."""

    seconds: float  # boot and cases
    ready_seconds: float  # QEMU start to dom0 ready
    groups: list[GroupResult]
    not_passed: list[str] = field(default_factory=list)  # cases whose outcome was not PASS
    dom0_commands: list[float] = field(default_factory=list)  # each dom0 command, request to reply


def sample(run: SuiteRun) -> Sample:
    bad = [f"{r.case.name}: {r.outcome.name}" for r in run.results if not r.passed]
    latencies = [t for s in run.sessions for t in s.dom0_latencies()]
    return Sample(run.seconds, run.session.ready_seconds, run.groups, bad, latencies)


@dataclass(frozen=True)
class RttFigure:
    """One rtt case over the runs: each of the guest's summaries as a spread across runs."""

    min_ns: Spread | None
    median_ns: Spread | None
    p99_ns: Spread | None
    max_ns: Spread | None
    round_trips: int  # timed in all runs together


@dataclass(frozen=True)
class XenSuite:
    """The whole suite once against another Xen (a matrix column's time)."""

    seconds: float
    cases: int
    passed: int


@dataclass
class Figures:
    """bench.json: every figure a {min, median, max, n}, or null without samples."""

    date: str
    xen: str  # as given to --xen
    header: dict[str, str]  # Session.header(): Xen version, build id, dom0 kernel, ...
    runs: int
    suite_cases: int
    suite_seconds: Spread | None
    dom0_ready_s: Spread | None
    create_to_first_line_s: Spread | None
    case_median_s: Spread | None
    case_guest_s: Spread | None
    fresh_seconds: Spread | None
    fresh_ratio: float | None
    dom0_command_s: Spread | None  # one dom0 command, request to reply (agent.py)
    group_setup_s: Spread | None  # a group's start to its domains unpaused
    rtt_ns: dict[str, RttFigure]
    not_passed: list[str]
    suite_by_xen: dict[str, XenSuite] = field(default_factory=dict)
    anchor_boot_s: Spread | None = None  # QEMU start to the first result of our guest booted as dom0 (anchor.py)
    conformance_case_s: Spread | None = None  # a case of cases/ without fuzzing or the Linux peer, runner's view
    make_run_s: Spread | None = None  # a warm `python -m orchestrator run`, whole process
    # Each figure as a multiple of anchor_boot_s's median, measured in the same run: what
    # holds from host to host when the seconds do not.
    ratios: dict[str, float | None] = field(default_factory=dict)
    stages_s: dict[str, Spread | None] = field(default_factory=dict)  # stages(), per warm run
    # Waits that ran to their timeout in the warm runs: "<case>:<line> <seconds>", each once.
    timeout_waits: list[str] = field(default_factory=list)
    fuzz_ops_per_s: Spread | None = None  # in the guest, each 2-vcpu fuzz step of a domain alone (warm runs)
    goals: dict[str, Goal] = field(default_factory=dict)  # issue 22's, each as measured here


@dataclass(frozen=True)
class Goal:
    """A figure against what it should be on this host class (docs/benchmark.md)."""

    value: float | None
    most: float | None  # at most this
    least: float | None  # at least this
    holds: bool


def goal(value: float | None, most: float | None = None, least: float | None = None) -> Goal:
    ok = value is not None and (most is None or value <= most) and (least is None or value >= least)
    return Goal(value, most, least, ok)


# Ratios at most, fuzz rate at least: the whole suite within 15 anchor boots, a plain case
# within a fifth of one, `make run` within 4; 300,000 operations a second with 2 vcpus.
RATIO_GOALS = {"suite": 15.0, "conformance_case": 0.2, "make_run": 4.0}
FUZZ_OPS_GOAL = 300_000.0


def first_line_seconds(samples: Iterable[Sample]) -> list[float]:
    """`xl create` to the guest's first console line, every domain of every group."""
    return [t for s in samples for g in s.groups for t in g.create_to_first_line.values()]


def case_wall_seconds(samples: Iterable[Sample], plain: bool = False) -> list[float]:
    """Each case's share of its group's wall time (creation and shutdown included), one value
    per case; groups the harness lost are left out, their time says nothing about the cases.
    `plain`: the groups of plain conformance cases only (no fuzzing, no Linux peer, whose
    boot is a group's cost, not a case's)."""
    out: list[float] = []
    for s in samples:
        for g in s.groups:
            cases = g.group.cases
            if plain and (LINUX in g.group.config.domains or any(c.fuzzes for c in cases)):
                continue
            if g.error is None and cases:
                out += [g.run_seconds / len(cases)] * len(cases)
    return out


def conformance_case_seconds(samples: Iterable[Sample]) -> list[float]:
    """Each run's median plain conformance case (case_wall_seconds, plain): one value a
    run, as the suite's own time is. Pooled, the first group's 28 equal shares of each run
    outweighed the rest, and one run in three whose first group was slow (6.6 s against
    5.0) set the median of all of them."""
    out = []
    for s in samples:
        own = case_wall_seconds([s], plain=True)
        if own:
            out.append(statistics.median(own))
    return out


# The ops that wait for events, and where their count and timeout (ms) are among the args.
WAITING_OPS = {"wait": (1, 2), "pingpong": (1, 3)}


def timeout_waits(groups: Iterable[GroupResult]) -> list[tuple[str, int, float]]:
    """Each wait that returned fewer events than it asked for, so ran to its timeout:
    (case, line, seconds). A case that proves an absence this way pays for it in time."""
    out = []
    for g in groups:
        for rep in g.reports.values():
            for s in rep.steps:
                where = WAITING_OPS.get(s.op)
                if where is None or len(s.args) <= max(where):
                    continue
                try:
                    asked, ms = int(s.args[where[0]]), int(s.args[where[1]])
                    got = int(s.got.rpartition(":")[2])
                except ValueError:
                    continue  # an error answer: no wait was done
                if got < asked:
                    out.append((s.case, s.line, ms / 1000))
    return out


def stages(s: Sample) -> dict[str, float]:
    """Where one run's time went, in seconds. `boot`, `group_setup`, `group_work` and
    `outside_groups` add up to the run; `in_guest` (of which `fuzz` and `timeout_waits`),
    `linux_peer_boot` and `dom0_commands` are parts of those, measured apart."""
    ok = [g for g in s.groups if g.error is None]
    setup = sum(g.setup_seconds for g in s.groups)
    run = sum(g.run_seconds for g in s.groups)
    timed = [(case, t) for g in ok for case in g.group.cases if (t := guest_seconds(g, case)) is not None]
    guest = sum(t for _, t in timed)
    fuzz = sum(t for case, t in timed if case.fuzzes)
    return {
        "boot": s.ready_seconds,
        "group_setup": setup,
        "group_work": run - setup,
        "outside_groups": max(s.seconds - s.ready_seconds - run, 0.0),
        "in_guest": guest,
        "fuzz": fuzz,
        "timeout_waits": sum(t for _, _, t in timeout_waits(ok)),
        "linux_peer_boot": sum(g.create_to_first_line.get(LINUX, 0.0) for g in ok),
        "dom0_commands": sum(s.dom0_commands),
    }


def fuzz_rates(samples: Iterable[Sample]) -> list[float]:
    """Operations a second in the guest of each fuzz step by 2 or more vcpus in a domain
    fuzzing alone (no peer domain, no Dom0 actor, whose answers pace it)."""
    return [
        r.ops * 1e9 / r.ns
        for s in samples
        for g in s.groups
        if g.error is None and g.group.config.domains == ("A",)
        for rep in g.reports.values()
        for r in rep.fuzz
        if r.vcpus >= 2 and r.ns > 0
    ]


def goals(f: Figures) -> dict[str, Goal]:
    out = {k: goal(f.ratios.get(k), most=most) for k, most in RATIO_GOALS.items()}
    out["fuzz_ops_per_s"] = goal(f.fuzz_ops_per_s.median if f.fuzz_ops_per_s else None, least=FUZZ_OPS_GOAL)
    return out


def ratios(f: Figures) -> dict[str, float | None]:
    """suite, conformance_case and make_run over the anchor (medians)."""
    base = f.anchor_boot_s.median if f.anchor_boot_s and f.anchor_boot_s.median > 0 else None
    pairs = {"suite": f.suite_seconds, "conformance_case": f.conformance_case_s, "make_run": f.make_run_s}
    return {k: (v.median / base if v is not None and base else None) for k, v in pairs.items()}


def case_guest_seconds(samples: Iterable[Sample]) -> list[float]:
    """Each case's time as its slowest domain measured it (CASE-END us=), reset included."""
    out: list[float] = []
    for s in samples:
        for g in s.groups:
            out += [t for case in g.group.cases if (t := guest_seconds(g, case)) is not None]
    return out


def guest_seconds(g: GroupResult, case: Case) -> float | None:
    """The case's time as its slowest domain measured it (CASE-END us=), or None if none did."""
    us = [rep.case_us[case.name] for rep in g.reports.values() if case.name in rep.case_us]
    return max(us) / 1e6 if us else None


def rtt_figures(samples: Iterable[Sample]) -> dict[str, RttFigure]:
    """Per case, each of min/median/p99/max as a spread over the runs' EVT RTT lines."""
    by_case: dict[str, list[Rtt]] = {}
    for s in samples:
        for g in s.groups:
            for rep in g.reports.values():
                for r in rep.rtts:
                    by_case.setdefault(r.case, []).append(r)
    return {
        case: RttFigure(
            min_ns=spread([r.min_ns for r in rtts]),
            median_ns=spread([r.median_ns for r in rtts]),
            p99_ns=spread([r.p99_ns for r in rtts]),
            max_ns=spread([r.max_ns for r in rtts]),
            round_trips=sum(r.n for r in rtts),
        )
        for case, rtts in by_case.items()
    }


def figures(
    xen: str,
    header: dict[str, str],
    date: str,
    suite_cases: int,
    warm: list[Sample],
    fresh: list[Sample],
    rtt: list[Sample],
    suite_by_xen: dict[str, XenSuite] | None = None,
    anchors: Sequence[float] = (),
    make_runs: Sequence[float] = (),
) -> Figures:
    """Every figure of a bench run. Boot and domain creation count every boot and domain of
    every run (warm, fresh and rtt); times per case come from the warm runs only."""
    everything = [*warm, *fresh, *rtt]
    warm_s = spread([s.seconds for s in warm])
    fresh_s = spread([s.seconds for s in fresh])
    ratio = fresh_s.median / warm_s.median if fresh_s and warm_s and warm_s.median > 0 else None
    not_passed = sorted({p for s in everything for p in s.not_passed})
    f = Figures(
        date=date,
        xen=xen,
        header=header,
        runs=len(warm),
        suite_cases=suite_cases,
        suite_seconds=warm_s,
        dom0_ready_s=spread([s.ready_seconds for s in everything]),
        create_to_first_line_s=spread(first_line_seconds(everything)),
        case_median_s=spread(case_wall_seconds(warm)),
        case_guest_s=spread(case_guest_seconds(warm)),
        fresh_seconds=fresh_s,
        fresh_ratio=ratio,
        dom0_command_s=spread([t for s in warm for t in s.dom0_commands]),
        group_setup_s=spread([g.setup_seconds for s in warm for g in s.groups if g.error is None]),
        anchor_boot_s=spread(list(anchors)),
        conformance_case_s=spread(conformance_case_seconds(warm)),
        make_run_s=spread(list(make_runs)),
        rtt_ns=rtt_figures(rtt),
        not_passed=not_passed,
        suite_by_xen=dict(suite_by_xen or {}),
    )
    f.ratios = ratios(f)
    f.fuzz_ops_per_s = spread(fuzz_rates(warm))
    f.goals = goals(f)
    per_run = [stages(s) for s in warm]
    f.stages_s = {k: spread([p[k] for p in per_run]) for k in (per_run[0] if per_run else {})}
    waits = {f"{case}:{line} {sec:g}" for s in warm for case, line, sec in timeout_waits(s.groups)}
    f.timeout_waits = sorted(waits)
    return f


def show(s: Spread | None, digits: int = 3) -> str:
    if s is None:
        return "no data"
    return f"min {s.min:.{digits}f}  median {s.median:.{digits}f}  max {s.max:.{digits}f}  (n={s.n})"


def format_figures(f: Figures) -> list[str]:
    """One line per figure."""
    ratio = "no data" if f.fresh_ratio is None else f"{f.fresh_ratio:.2f}"

    def times(key: str) -> str:
        r = f.ratios.get(key)
        return "no data" if r is None else f"{r:.2f}"

    lines = [
        f"Xen {f.header.get('xen_version', '?')} build-id {f.header.get('build_id', '?')} ({f.xen}), {f.date}",
        f"anchor_boot_s           our guest as dom0, QEMU start -> first result (s): {show(f.anchor_boot_s)}",
        f"ratios (x anchor)       suite {times('suite')}  conformance_case {times('conformance_case')}"
        f"  make_run {times('make_run')}",
        "goals                   " + "  ".join(_goal(k, g) for k, g in f.goals.items()),
        f"fuzz_ops_per_s          2 vcpus, in the guest:               {show(f.fuzz_ops_per_s, 0)}",
        f"conformance_case_s      a plain conformance case, runner's view (s): {show(f.conformance_case_s)}",
        f"make_run_s              a warm `run`, whole process (s):   {show(f.make_run_s)}",
        f"suite_seconds           whole suite, {f.suite_cases} cases, boot included (s): {show(f.suite_seconds)}",
        f"dom0_ready_s            QEMU start -> dom0 ready (s):        {show(f.dom0_ready_s)}",
        f"create_to_first_line_s  xl create -> guest's first line (s): {show(f.create_to_first_line_s)}",
        f"case_median_s           time per case, runner's view (s):    {show(f.case_median_s)}",
        f"case_guest_s            time per case, in the guest (s):     {show(f.case_guest_s)}",
        f"fresh_seconds           whole suite in fresh domains (s):    {show(f.fresh_seconds)}",
        f"fresh_ratio             fresh / warm wall time (medians):    {ratio}",
        f"dom0_command_s          one dom0 command, request to reply:  {show(f.dom0_command_s)}",
        f"group_setup_s           group start -> domains unpaused (s): {show(f.group_setup_s)}",
    ]
    for k, v in f.stages_s.items():
        lines.append(f"stages_s {k:<16} per warm run (s): {show(v)}")
    waits = "; ".join(f.timeout_waits) or "none"
    lines.append(f"timeout_waits           waits that ran to their timeout: {len(f.timeout_waits)} ({waits})")
    for case, r in sorted(f.rtt_ns.items()):
        for k in RTT_STATS:
            lines.append(f"rtt_ns {case} {k} ({r.round_trips} round trips): {show(getattr(r, k), 0)}")
    for x, s in f.suite_by_xen.items():
        rate = s.cases / s.seconds * 60 if s.seconds > 0 else 0.0
        lines.append(f"suite_by_xen {x}: {s.seconds:.0f} s for {s.cases} cases ({s.passed} passed), {rate:.1f}/min")
    if f.not_passed:
        lines.append(f"WARNING: {len(f.not_passed)} case run(s) did not pass: {'; '.join(f.not_passed)}")
    return lines


def _goal(key: str, g: Goal) -> str:
    if g.value is None:
        return f"{key} no data"
    bound = f"<= {g.most:g}" if g.most is not None else f">= {g.least:,.0f}"
    value = f"{g.value:,.0f}" if g.value >= 1000 else f"{g.value:.2f}"
    return f"{key} {value} ({bound}: {'holds' if g.holds else 'NOT MET'})"


def write(path: Path, f: Figures) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(f), indent=2) + "\n")


def _time_run(xen: str) -> float:
    """`python -m orchestrator run` (the main job, restored machine), whole process, as
    `make run` runs it once its dependencies are in place."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "--xen", xen, "run"], capture_output=True, cwd=ROOT)
    if proc.returncode != 0:
        log.info(f"bench: `run` exited {proc.returncode}; its time still counts")
    return time.monotonic() - start


def bench(
    xen: str, suite_files: list[Path], runs: int, suite_xens: list[str], rtt_files: list[Path] | None = None
) -> list[str]:
    """Run the suite `runs` times warm and once fresh, bench/rtt.evt `runs` times (each a boot
    of its own), the suite once against each other Xen; write bench.json and return the lines to print."""
    out = BUILD / "bench"
    arts, guest = prepare(xen)
    suite = load_cases(arts, suite_files)
    rtt_cases = load_cases(arts, RTT_CASES if rtt_files is None else rtt_files)
    warm: list[Sample] = []
    rtt: list[Sample] = []
    header: dict[str, str] = {}
    anchors: list[float] = []
    make_runs: list[float] = []
    for i in range(runs):
        log.info(f"bench run {i + 1}/{runs}: the anchor (our guest booted as dom0)")
        anchors.append(anchor.boot_seconds(arts, guest, xen_config_text("xen.cmdline"), out / f"anchor{i + 1}"))
        log.info(f"bench run {i + 1}/{runs}: `run`, warm, as a whole process")
        make_runs.append(_time_run(xen))
        log.info(f"bench run {i + 1}/{runs}: the suite, warm")
        run = run_all(arts, guest, suite, out / f"warm{i + 1}")
        header = header or run.session.header()
        warm.append(sample(run))
        # An anchor on each side of the suite: a host whose load changes meanwhile weighs
        # on both figures of the ratio alike.
        log.info(f"bench run {i + 1}/{runs}: the anchor again")
        anchors.append(anchor.boot_seconds(arts, guest, xen_config_text("xen.cmdline"), out / f"anchor{i + 1}b"))
        log.info(f"bench run {i + 1}/{runs}: round trips")
        rtt.append(sample(run_all(arts, guest, rtt_cases, out / f"rtt{i + 1}")))
    log.info("bench: the suite in fresh domains")
    fresh = [sample(run_all(arts, guest, suite, out / "fresh", fresh=True))]
    others: dict[str, XenSuite] = {}
    for k, x in enumerate(suite_xens, start=1):
        if x == xen:
            continue  # its time is suite_seconds
        srun = run_suite(x, suite_files, out / f"xen{k}")
        others[x] = XenSuite(srun.seconds, len(srun.results), sum(r.passed for r in srun.results))
    date = datetime.now(UTC).isoformat(timespec="seconds")
    f = figures(xen, header, date, len(suite), warm, fresh, rtt, others, anchors, make_runs)
    path = out / "bench.json"
    write(path, f)
    return [*format_figures(f), f"figures: {path}"]


# ---- bench --coverage-overhead: the same cases with and without Xen's coverage counters ----


@dataclass
class Overhead:
    """coverage-overhead.json: one tree's hypervisor built as usual and with
    CONFIG_COVERAGE=y, the same cases on each, runs alternating."""

    date: str
    xen: str
    header: dict[str, str]  # the coverage build's Session.header()
    cases: int
    normal_s: Spread | None  # the cases (every group), boot or restore excluded
    coverage_s: Spread | None  # the same with counters, read after each group
    reads_s: Spread | None  # of coverage_s, reading the counters (xencov read, the dump fetched)
    report_s: Spread | None  # after a coverage run, its report (gcovr); not in coverage_s
    ratio: float | None  # coverage_s / normal_s, medians
    ratio_with_report: float | None  # (coverage_s + report_s) / normal_s, medians
    not_passed: list[str]
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (normal, coverage) of each run, in turn


def overhead(
    xen: str,
    header: dict[str, str],
    date: str,
    cases: int,
    normal: Sequence[Sample],
    counted: Sequence[Sample],
    reads: Sequence[float],
    reports: Sequence[float],
) -> Overhead:
    """The figures of bench --coverage-overhead from each run's sample (Sample.seconds: the
    cases alone here) and each coverage run's reading and report times."""
    n, c, r = spread([s.seconds for s in normal]), spread([s.seconds for s in counted]), spread(list(reports))
    ratio = c.median / n.median if c and n and n.median > 0 else None
    with_report = (c.median + r.median) / n.median if c and r and n and n.median > 0 else None
    bad = sorted({p for s in [*normal, *counted] for p in s.not_passed})
    pairs = [(a.seconds, b.seconds) for a, b in zip(normal, counted, strict=False)]
    return Overhead(date, xen, header, cases, n, c, spread(list(reads)), r, ratio, with_report, bad, pairs)


def format_overhead(o: Overhead) -> list[str]:
    def times(x: float | None) -> str:
        return "no data" if x is None else f"{x:.2f}"

    return [
        f"coverage overhead: Xen {o.header.get('xen_version', '?')} ({o.xen}), {o.cases} cases, {o.date}",
        f"normal_s       the cases, hypervisor built as usual (s):            {show(o.normal_s, 1)}",
        f"coverage_s     the same, CONFIG_COVERAGE=y, read after each group (s): {show(o.coverage_s, 1)}",
        f"reads_s        of which reading the counters (s):                  {show(o.reads_s, 1)}",
        f"report_s       the report after a coverage run (gcovr) (s):        {show(o.report_s, 1)}",
        f"ratio          coverage / normal (medians): {times(o.ratio)}; with the report: {times(o.ratio_with_report)}",
        *(
            f"run {i}          {a:.1f} s / {b:.1f} s: {times(b / a if a > 0 else None)}"
            for i, (a, b) in enumerate(o.pairs, start=1)
        ),
        *(
            [f"WARNING: {len(o.not_passed)} case run(s) did not pass: {'; '.join(o.not_passed)}"]
            if o.not_passed
            else []
        ),
    ]


def coverage_overhead(xen: str, suite_files: list[Path], runs: int) -> list[str]:
    """Time the cases on `xen`'s hypervisor (a source tree) built as usual and with
    CONFIG_COVERAGE=y, `runs` times each, alternating so that a busy host slows both
    alike; write build/bench/coverage-overhead.json and return the lines to print."""
    from . import coverage  # gcovr's side: only this bench needs it
    from .sources.tree import tree_of

    out = BUILD / "bench" / "coverage-overhead"
    plain = prepare(xen)
    counted = prepare(xen, True)
    plain_cases, counted_cases = load_cases(plain[0], suite_files), load_cases(counted[0], suite_files)
    tree = tree_of(xen)
    build_dir = coverage.build_of(tree, BUILD)
    normal: list[Sample] = []
    cov: list[Sample] = []
    reads: list[float] = []
    reports: list[float] = []
    header: dict[str, str] = {}
    for i in range(1, runs + 1):
        log.info(f"bench --coverage-overhead {i}/{runs}: the cases, hypervisor without counters")
        run = run_all(*plain, plain_cases, out / f"normal{i}")
        normal.append(cases_sample(run))
        log.info(f"bench --coverage-overhead {i}/{runs}: the cases, hypervisor with counters")
        run = run_all(*counted, counted_cases, out / f"coverage{i}", coverage=True)
        header = header or run.session.header()
        cov.append(cases_sample(run))
        reads.append(sum(s.coverage_seconds for s in run.sessions))
        start = time.monotonic()
        dumps = [d for s in run.sessions for _, d in sorted(s.coverage_dumps.items())]
        coverage.report(dumps, build_dir, tree, out / f"report{i}")
        reports.append(time.monotonic() - start)
    date = datetime.now(UTC).isoformat(timespec="seconds")
    o = overhead(xen, header, date, len(plain_cases), normal, cov, reads, reports)
    path = BUILD / "bench" / "coverage-overhead.json"
    path.write_text(json.dumps(asdict(o), indent=2) + "\n")
    return [*format_overhead(o), f"figures: {path}"]


def cases_sample(run: SuiteRun) -> Sample:
    """sample(), timing the cases alone: a cold boot in one run and a restore in the next
    must not weigh on a comparison of the cases."""
    s = sample(run)
    s.seconds = run.cases_seconds
    return s
