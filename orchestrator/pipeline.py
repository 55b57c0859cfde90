"""The stages every run goes through, for the CLI and the pytest fixtures alike.

prepare   the Xen under test, its dom0 kernel and toolstack, our guest built against its headers
load      the case files, checked against the Xen's errno names, before anything boots
run       one Xen boot; the cases in groups of shared domains (runner.Session)
judge     each case's outcome from its results (results.GroupResult.case_results)

The reports (report.py) are written by the callers: pytest leaves the harness's
self-tests out of them.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import log
from .artifacts import Artifacts, fetch
from .cases import Case, order, plan, read_errnos
from .check import load_checked
from .errors import SetupError
from .hypervisor import resolve, with_hypervisor
from .outcome import Outcome, worst
from .results import CaseResult, GroupResult
from .runner import ROOT, Session
from .xenbuild import build_debug

BUILD = ROOT / "build"
DEFAULT_CASES = [ROOT / "cases" / "interdomain.evt"]
ALL_CASES = sorted((ROOT / "cases").glob("*.evt"))
# Booted machines saved for later runs (snapshot.py); `cold` runs neither use nor make one.
SNAPSHOTS = BUILD / "snapshots"


def build_guest(arts: Artifacts) -> Path:
    """The guest kernel, built against the suite's own Xen headers (make: a no-op when current)."""
    out = BUILD / "guest" / arts.suite
    for part in ("guest", "dom0"):  # dom0/ is the privileged steps' tool; it lands beside the guest
        proc = subprocess.run(
            ["make", "-s", "-C", str(ROOT / part), f"XEN_INCLUDE={arts.include}", f"O={out}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SetupError(f"building {part}/ against {arts.include} failed:\n{proc.stdout}{proc.stderr}")
    return out / "evtchn-guest"


def prepare(xen: str) -> tuple[Artifacts, Path]:
    """Xen under test (a suite, `debug:<suite>` or a hypervisor file), its dom0 pieces and our guest."""
    if xen.startswith("debug:"):
        xen = str(build_debug(xen.removeprefix("debug:"), BUILD))
    suite, custom = resolve(xen)
    arts = fetch(suite, BUILD)
    if custom is not None:
        arts = with_hypervisor(arts, custom, BUILD)
        log.info(f"hypervisor under test: {arts.versions['xen-hypervisor']}, with the {suite} toolstack")
    return arts, build_guest(arts)


def load_cases(arts: Artifacts, paths: list[Path]) -> list[Case]:
    """The cases, checked as `orchestrator check` checks them: every problem named before a boot."""
    return load_checked(paths, read_errnos(arts.include))


@dataclass
class SuiteRun:
    """One Xen boot and what became of every case run in it."""

    session: Session
    groups: list[GroupResult]
    results: list[CaseResult]
    seconds: float  # boot and cases, set-up excluded
    order: str = "file"  # as cases.order spells it: a random order names its seed

    @property
    def outcome(self) -> Outcome:
        """The worst case's; a run without a single case is an error, not a pass."""
        return worst(r.outcome for r in self.results) if self.results else Outcome.ERROR


def run_all(
    arts: Artifacts,
    guest: Path,
    cases: list[Case],
    out: Path,
    fresh: bool = False,
    spec: str = "file",
    cold: bool = False,
) -> SuiteRun:
    """Boot once and run every case, in the order `spec` names (cases.order); a harness
    error in a group becomes that group's result."""
    ordered, spelled = order(cases, spec)
    if spec != "file":
        log.info(f"cases in {spelled} order")
    groups = plan(ordered, fresh)
    start = time.monotonic()
    with Session(arts, guest, groups, out, snapshots=None if cold else SNAPSHOTS) as session:
        group_results = [session.run_group(g) for g in groups]
    case_results = [r for g in group_results for r in g.case_results()]
    return SuiteRun(session, group_results, case_results, time.monotonic() - start, spelled)


def run_suite(xen: str, case_files: list[Path], out: Path) -> SuiteRun:
    """Every stage for one Xen under test, as a matrix column or a bench row runs it."""
    arts, guest = prepare(xen)
    return run_all(arts, guest, load_cases(arts, case_files), out)
