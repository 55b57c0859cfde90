"""Fixtures that own the Xen machine: one boot serves the whole session."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator import baseline, shard, sources
from orchestrator.cases.model import Case
from orchestrator.cases.plan import ORDERS, order, plan
from orchestrator.check import errnos_for, load_checked
from orchestrator.console import Line
from orchestrator.pipeline import BUILD, load_cases, prepare, run_all
from orchestrator.report import DIFFERS, rows, write_reports
from orchestrator.results import CaseResult
from orchestrator.runner import ROOT, Session

CASE_FILES = sorted((ROOT / "cases").glob("*.evt"))
SELFTEST_FILES = sorted((ROOT / "tests" / "selftest").glob("*.evt"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--xen",
        default="bookworm",
        help=sources.help_text(),
    )
    parser.addoption("--fresh", action="store_true", help="run every case in fresh domains")
    parser.addoption("--jobs", type=int, default=1, help="machines to run at once, the groups dealt out among them")
    parser.addoption("--cold", action="store_true", help="boot Xen and dom0 instead of restoring a saved machine")
    parser.addoption("--order", default="file", help=f"order the cases run in: {', '.join(ORDERS)}")
    parser.addoption(
        "--update-baseline", action="store_true", help="write the Xen's baseline (baselines/<x.y>.txt) from this run"
    )
    parser.addoption(
        "--shard",
        default=None,
        help="I/N: the conformance cases of shard I of N (as `run --shard`; GitLab's CI_NODE_INDEX/CI_NODE_TOTAL "
        "when set); every other test runs in shard 1 only",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cases(*names): cases of tests/selftest a harness test reads")
    try:
        order([], config.getoption("order"))
    except ValueError as e:
        raise pytest.UsageError(f"--order: {e}") from None
    try:
        given = config.getoption("shard")
        config.stash[SHARD] = shard.parse(given) if given else shard.from_env()
    except ValueError as e:
        raise pytest.UsageError(f"--shard (or CI_NODE_INDEX/CI_NODE_TOTAL): {e}") from None
    if config.stash[SHARD] is not None and config.getoption("order") == "random":
        raise pytest.UsageError("--shard needs the same order on every runner: file, reverse or random:<seed>")
    # A CI timeout sends SIGTERM: unwind, so the machine fixture stops QEMU.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def collect_cases(config: pytest.Config, files: list[Path]) -> list[Case]:
    """Parse case files at collection, as `orchestrator check` does: a malformed one fails before any boot."""
    return load_checked(files, errnos_for(config.getoption("xen")))


@pytest.hookimpl(tryfirst=True)  # before -k reads the keywords
def pytest_itemcollected(item: pytest.Item) -> None:
    """`-k bind_virq` selects the cases of cases/bind_virq.evt (test ids are case names)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "case_file" in callspec.params:
        item.extra_keyword_matches.add(callspec.params["case_file"])


def _shard_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With a shard: the conformance cases of its groups (the same partition `run --shard`
    makes), and every other test in shard 1 only, so the shards add up to one `make test`."""
    part = config.stash.get(SHARD, None)
    if part is None:
        return
    cases = collect_cases(config, CASE_FILES)
    ordered, _ = order(cases, config.getoption("order"))
    mine = {c.name for g in shard.select(plan(ordered, config.getoption("fresh")), part) for c in g.cases}
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "case_name" in callspec.params:
            (keep if callspec.params["case_name"] in mine else drop).append(item)
        else:
            (keep if part.index == 1 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Only what is asked runs: the cases of the selected tests, and those their markers name."""
    _shard_items(config, items)
    wanted: set[str] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "case_name" in callspec.params:
            wanted.add(callspec.params["case_name"])
        for mark in item.iter_markers("cases"):
            wanted.update(mark.args)
    config.stash[WANTED] = wanted


@dataclass
class XenRun:
    sessions: list[Session]  # one machine, or one per job (--jobs)
    results: dict[str, CaseResult]
    out: Path

    def console_of(self, res: CaseResult) -> list[Line]:
        """The serial lines of the machine that ran the case."""
        session = next(s for s in self.sessions if any(g.index == res.group for g in s.groups))
        return session.lines()

    def lines(self) -> list[str]:
        """Every machine's serial lines, as text."""
        return [ln.text for s in self.sessions for ln in s.lines()]


@pytest.fixture(scope="session")
def xen_run(pytestconfig: pytest.Config) -> Iterator[XenRun]:
    xen = pytestconfig.getoption("xen")
    arts, guest = prepare(xen)
    cases = load_cases(arts, CASE_FILES + SELFTEST_FILES)
    if WANTED in pytestconfig.stash:
        cases = [c for c in cases if c.name in pytestconfig.stash[WANTED]]
    out = BUILD / "test-run" / re.sub(r"[^\w.-]+", "_", xen).strip("_")
    # Each case's result is shown as it arrives, not after one silent fixture.
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        opt = pytestconfig.getoption
        run = run_all(
            arts, guest, cases, out, fresh=opt("fresh"), spec=opt("order"), cold=opt("cold"), jobs=opt("jobs")
        )
    pytestconfig.stash[ORDER] = run.order
    pytestconfig.stash[REPLACED] = [
        f"ERROR: a machine was given up, the groups after it ran on a new one: {e.what}: {e.detail.splitlines()[0]}"
        for s in run.sessions
        for e in s.replaced
    ]
    # The report is about Xen: the harness's own self-tests (which fail on purpose) stay out.
    conformance = [r for r in run.results if r.case.path in CASE_FILES]
    pytestconfig.stash[BASELINE] = baseline.summary(
        run.baseline, conformance, run.known, run.stale, pytestconfig.getoption("update_baseline")
    )
    reports = write_reports(out, run.session.header(), conformance)
    pytestconfig.stash[REPORTS] = (reports, [r for r in rows(conformance) if r.verdict == DIFFERS])
    yield XenRun(run.sessions, {r.case.name: r for r in run.results}, out)


REPORTS = pytest.StashKey[tuple[tuple[Path, Path], list[Any]]]()
BASELINE = pytest.StashKey[str]()
ORDER = pytest.StashKey[str]()
SHARD = pytest.StashKey[shard.Shard | None]()
REPLACED = pytest.StashKey[list[str]]()
WANTED = pytest.StashKey[set[str]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Differences from the 3.0 guide are findings: always shown, never hidden in a pass."""
    if REPORTS not in config.stash:
        return
    (json_path, md_path), differs = config.stash[REPORTS]
    tr = terminalreporter
    tr.section("event channel conformance")
    fresh = ", fresh domains" if config.getoption("fresh") else ""
    tr.write_line(f"cases ran in {config.stash[ORDER]} order{fresh}")
    tr.write_line(f"report: {md_path} (and {json_path.name})")
    tr.write_line(f"{len(differs)} step(s) where Xen, as its source says, differs from the Xen 3.0 guide:")
    for r in differs:
        tr.write_line(f"  {r.where}: {r.call}: Xen {r.got}, 3.0 guide {r.spec}")
    for line in config.stash.get(BASELINE, "").strip().splitlines():
        tr.write_line(line)
    for line in config.stash.get(REPLACED, []):
        tr.write_line(line)
