"""Fixtures that own the Xen machine: one boot serves the whole session."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cases import Case, load, plan, read_errnos
from orchestrator.check import errnos_for, load_checked
from orchestrator.cli import BUILD, prepare
from orchestrator.console import Console
from orchestrator.report import DIFFERS, rows, write_reports
from orchestrator.runner import ROOT, CaseResult, Session

CASE_FILES = sorted((ROOT / "cases").glob("*.evt"))
SELFTEST_FILES = sorted((ROOT / "tests" / "selftest").glob("*.evt"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--xen", default="bookworm", help="Xen under test: a Debian suite, debug:<suite> or a hypervisor file"
    )
    parser.addoption("--fresh", action="store_true", help="run every case in fresh domains")


def pytest_configure(config: pytest.Config) -> None:
    # A CI timeout sends SIGTERM: unwind, so the machine fixture stops QEMU.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def collect_cases(config: pytest.Config, files: list[Path]) -> list[Case]:
    """Parse case files at collection, as `orchestrator check` does: a malformed one fails before any boot."""
    return load_checked(files, errnos_for(config.getoption("xen")))


@dataclass
class XenRun:
    session: Session
    results: dict[str, CaseResult]
    out: Path

    @property
    def console(self) -> Console:
        assert self.session.machine is not None
        return self.session.machine.console


@pytest.fixture(scope="session")
def xen_run(pytestconfig: pytest.Config) -> Iterator[XenRun]:
    xen = pytestconfig.getoption("xen")
    arts, guest = prepare(xen)
    cases = load(CASE_FILES + SELFTEST_FILES, read_errnos(arts.include))
    groups = plan(cases, fresh=pytestconfig.getoption("fresh"))
    out = BUILD / "test-run" / re.sub(r"[^\w.-]+", "_", xen).strip("_")
    with Session(arts, guest, groups, out) as session:
        group_results = [session.run_group(g) for g in groups]
    case_results = [r for g in group_results for r in g.case_results()]
    # The report is about Xen: the harness's own self-tests (which fail on purpose) stay out.
    conformance = [r for r in case_results if r.case.path in CASE_FILES]
    reports = write_reports(out, session.header(), conformance)
    pytestconfig.stash[REPORTS] = (reports, [r for r in rows(conformance) if r.verdict == DIFFERS])
    yield XenRun(session, {r.case.name: r for r in case_results}, out)


REPORTS = pytest.StashKey[tuple[tuple[Path, Path], list[Any]]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Differences from the 3.0 guide are findings: always shown, never hidden in a pass."""
    if REPORTS not in config.stash:
        return
    (json_path, md_path), differs = config.stash[REPORTS]
    tr = terminalreporter
    tr.section("event channel conformance")
    tr.write_line(f"report: {md_path} (and {json_path.name})")
    tr.write_line(f"{len(differs)} step(s) where Xen, as its source says, differs from the Xen 3.0 guide:")
    for r in differs:
        tr.write_line(f"  {r.where}: {r.call}: Xen {r.got}, 3.0 guide {r.spec}")
