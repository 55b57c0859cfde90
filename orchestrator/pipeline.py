"""The stages every run goes through, for the CLI and the pytest fixtures alike.

prepare   the Xen under test, its dom0 kernel and toolstack, our guest built against its headers
load      the case files, checked against the Xen's errno names, before anything boots
run       one Xen boot; the cases in groups of shared domains (runner.Session)
judge     each case's outcome from its results (results.GroupResult.case_results)

The reports (report.py) are written by the callers: pytest leaves the harness's
self-tests out of them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from . import baseline, log, sources
from .artifacts import Artifacts
from .baseline import Known
from .cases.errnos import read_errnos
from .cases.model import Case
from .cases.plan import order, plan
from .check import load_checked
from .console import Line
from .errors import SetupError
from .hypervisor import hypervisor_version
from .kernel import from_environment
from .machine import QemuConfig
from .outcome import Outcome, worst
from .results import CaseResult, GroupResult
from .runner import ROOT, Session
from .shard import Shard, select

BUILD = ROOT / "build"
DEFAULT_CASES = [ROOT / "cases" / "interdomain.evt"]
ALL_CASES = sorted((ROOT / "cases").glob("*.evt"))
# Booted machines saved for later runs (snapshot.py); `cold` runs neither use nor make one.
SNAPSHOTS = BUILD / "snapshots"


def build_guest(arts: Artifacts) -> Path:
    """The guest kernel, built against the suite's own Xen headers (make: a no-op when current)."""
    # Headers other than the suite's (a tree's, XEN=src:) get a build of their own: make
    # would not see that the same file names now come from elsewhere.
    theirs = arts.include.resolve() != (BUILD / "debian" / arts.suite / "dev" / "usr" / "include").resolve()
    tag = "-" + hashlib.sha256(str(arts.include.resolve()).encode()).hexdigest()[:10] if theirs else ""
    out = BUILD / "guest" / f"{arts.suite}{tag}"
    for part in ("guest", "dom0"):  # dom0/ is the privileged steps' tool; it lands beside the guest
        proc = subprocess.run(
            ["make", "-s", "-C", str(ROOT / part), f"XEN_INCLUDE={arts.include}", f"O={out}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SetupError(f"building {part}/ against {arts.include} failed:\n{proc.stdout}{proc.stderr}")
    return out / "evtchn-guest"


def prepare(xen: str, coverage: bool = False) -> tuple[Artifacts, Path]:
    """The Xen under test (orchestrator/sources: a suite, `debug:<suite>`, `src:<tree>`, a
    hypervisor file), its dom0 pieces and our guest. `coverage` (a source that can count):
    its hypervisor built with CONFIG_COVERAGE=y, and `xencov` in dom0."""
    arts = sources.require(xen, coverage).prepare(xen, BUILD, coverage)
    kernel = from_environment(arts)
    if kernel is not arts:
        log.info(f"dom0 and Linux peer kernel: {kernel.versions['dom0-kernel']}")
    return kernel, build_guest(kernel)


def load_cases(arts: Artifacts, paths: list[Path]) -> list[Case]:
    """The cases, checked as `orchestrator check` checks them: every problem named before a boot,
    each step expecting what this Xen's version should answer (`-> EINVAL 4.18: EBUSY`)."""
    series = arts.versions.get("xen-series") or hypervisor_version(arts.xen)
    major, minor = (int(x) for x in series.split(".")[:2])
    return [c.for_xen((major, minor)) for c in load_checked(paths, read_errnos(arts.include))]


@dataclass
class SuiteRun:
    """One Xen boot (or one per machine, with jobs) and what became of every case run in it."""

    session: Session  # the first machine's; `sessions` has them all
    groups: list[GroupResult]
    results: list[CaseResult]
    seconds: float  # boot and cases, set-up excluded
    order: str = "file"  # as cases.plan.order spells it: a random order names its seed
    sessions: list[Session] = field(default_factory=list)
    baseline: Path | None = None  # the Xen's known results (orchestrator/baseline.py)
    known: list[Known] = field(default_factory=list)  # its entries that matched a step
    stale: list[Known] = field(default_factory=list)  # its entries that matched none
    shard: dict[str, object] | None = None  # with --shard: which, its cases, the whole suite's (merge.py)
    cases_seconds: float = 0.0  # the groups alone (coverage reads included), every machine up

    @property
    def outcome(self) -> Outcome:
        """The worst case's; a run without a single case is an error, not a pass."""
        return worst(r.outcome for r in self.results) if self.results else Outcome.ERROR

    def console_lines(self) -> list[Line]:
        """Every machine's serial lines, machine after machine."""
        return [ln for s in self.sessions for ln in s.lines()]


def run_all(
    arts: Artifacts,
    guest: Path,
    cases: list[Case],
    out: Path,
    fresh: bool = False,
    spec: str = "file",
    cold: bool = False,
    jobs: int = 1,
    shard: Shard | None = None,
    coverage: bool = False,
    coverage_each: bool = False,
) -> SuiteRun:
    """Run every case, in the order `spec` names (cases.plan.order), on one booted Xen or, with
    `jobs`, on that many machines at once, the groups dealt out among them; a harness
    error in a group becomes that group's result. `coverage`: the counters read after each
    group (runner.Session), every read kept with `coverage_each`."""
    ordered, spelled = order(cases, spec)
    if spec != "file":
        log.info(f"cases in {spelled} order")
    whole = plan(ordered, fresh)
    groups = select(whole, shard)
    shares = [share for share in (groups[i::jobs] for i in range(max(jobs, 1))) if share] or [[]]
    if (said := oversubscribed(len(shares), QemuConfig().smp, os.cpu_count() or 1)) is not None:
        log.info(said)
    start = time.monotonic()
    snapshots = None if cold else SNAPSHOTS
    with ExitStack() as stack:
        # One after another: the first may boot and save the machine the others restore.
        sessions = [
            stack.enter_context(
                Session(
                    arts,
                    guest,
                    share,
                    out if len(shares) == 1 else out / f"m{i}",
                    snapshots=snapshots,
                    coverage=coverage,
                    coverage_each=coverage_each,
                )  # fmt: skip
            )
            for i, share in enumerate(shares, start=1)
        ]
        cases_start = time.monotonic()
        if len(sessions) == 1:
            group_results = sessions[0].run_groups(groups)
        else:
            group_results = run_parallel(sessions)
        cases_seconds = time.monotonic() - cases_start
    case_results = [r for g in group_results for r in g.case_results()]
    run = SuiteRun(sessions[0], group_results, case_results, time.monotonic() - start, spelled, sessions)
    run.cases_seconds = cases_seconds
    if shard is not None:
        run.shard = {
            "index": shard.index,
            "total": shard.total,
            "cases": [c.name for g in groups for c in g.cases],
            "suite_cases": [c.name for g in whole for c in g.cases],
        }
    run.baseline = sessions[0].baseline_path  # read once, as the session came up
    if sessions[0].baseline:
        run.known, run.stale = baseline.apply(case_results, sessions[0].baseline)
    return run


def oversubscribed(machines: int, vcpus: int, cores: int) -> str | None:
    """What to say when the machines' vcpus outnumber the host's cores, else None: each vcpu
    then waits for a core, and cases bound by event round trips between vcpus run many
    times slower (on 2 cores, --jobs 2: the conformance group 55-75 s against 3.8-4.3 s
    alone, the whole suite 68-87 s against 12-14 s; docs/benchmark.md)."""
    if machines < 2 or machines * vcpus <= cores:
        return None
    return (
        f"{machines} machines of {vcpus} vcpus on {cores} host cores: their vcpus take turns on the cores, "
        "and cases bound by event round trips run many times slower than on one machine"
    )


def run_parallel(sessions: list[Session]) -> list[GroupResult]:
    """Each session's groups on its own machine at once, results in group order. A SIGTERM
    or Ctrl-C (raised in this thread only) abandons every session before the pool is waited
    for: otherwise the workers ran their remaining groups to the end, replacing machines as
    they went, with the run already given up (a soak stopped by SIGTERM went on booting)."""
    with ThreadPoolExecutor(len(sessions)) as pool:
        futures = [pool.submit(s.run_groups, s.groups) for s in sessions]
        try:
            done = [f.result() for f in futures]
        except BaseException:
            for s in sessions:
                s.abandon()
            raise
    return sorted((r for rs in done for r in rs), key=lambda r: r.group.index)


def run_suite(xen: str, case_files: list[Path], out: Path, copied_from: dict[Path, Path] | None = None) -> SuiteRun:
    """Every stage for one Xen under test, as a matrix column or a bench row runs it.
    `copied_from`: the file each case file is a copy of, for the Xen's baseline."""
    arts, guest = prepare(xen)
    cases = load_cases(arts, case_files)
    for case in cases:
        case.copied_from = (copied_from or {}).get(case.path)
    return run_all(arts, guest, cases, out)
