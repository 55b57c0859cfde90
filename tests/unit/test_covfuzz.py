"""A fuzz campaign measured by coverage: each seed's gain, the corpus, the union with the
suite, the plot's data, and the reads a session keeps per seed. No Xen: the line sets are
made here (test_coverage.py has the real gcov path from counters to lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.figure
import pytest

from orchestrator import agent, cli, covfuzz, fuzz, sources
from orchestrator.agent import Frame
from orchestrator.cases.parse import load
from orchestrator.cases.plan import Group, plan
from orchestrator.covfuzz import Gain, SeedRead, corpus, curve, gains
from orchestrator.dom0 import Dom0
from orchestrator.fuzz import Campaign, SeedDump, case_text, seed_dumps
from orchestrator.outcome import Outcome
from orchestrator.pipeline import SuiteRun
from orchestrator.results import FuzzRun, GroupResult
from orchestrator.runner import CoverageRead

from .fakes import FakeChannel, FakeDom0Shell, FakeGuest, FakeStream, make_console
from .test_runner import A_OK, B_OK, SOLO_OK, _session

EC, L2, FIFO = "xen/common/event_channel.c", "xen/common/event_2l.c", "xen/common/event_fifo.c"


def lines(ec: Iterable[int] = (), l2: Iterable[int] = (), fifo: Iterable[int] = ()) -> covfuzz.Lines:
    return {EC: frozenset(ec), L2: frozenset(l2), FIFO: frozenset(fifo)}


def test_each_seed_is_credited_with_the_lines_no_earlier_read_had() -> None:
    got = gains(
        [
            SeedRead(1, 100, lines({1, 2, 3}, {10})),
            SeedRead(2, 100, lines({1, 2, 3, 4}, {10})),  # the counters only grow: 4 is seed 2's
            SeedRead(3, 50, lines({1, 2, 3, 4}, {10})),  # nothing new
            SeedRead(None, 0, lines({1, 2, 3, 4}, {10}, {7})),  # after the last seed
        ]
    )
    assert [g.new for g in got] == [lines({1, 2, 3}, {10}), lines({4}), lines(), lines(fifo={7})]
    assert [g.total_ops for g in got] == [100, 200, 250, 250]
    assert [g.covered for g in got][-1] == {EC: 4, L2: 1, FIFO: 1}
    assert [g.new_lines for g in got] == [4, 1, 0, 1]


def test_a_replacement_machine_counts_from_zero_and_adds_only_what_is_new() -> None:
    """Seed 2 took Xen down; seed 3 ran on a new machine, whose counters start again: it
    runs lines seed 1 had, and one more."""
    got = gains(
        [
            SeedRead(1, 100, lines({1, 2, 3})),
            SeedRead(2, 100, None),  # the machine went down: no read
            SeedRead(3, 100, lines({1, 2, 9})),
        ]
    )
    assert [g.new[EC] for g in got] == [{1, 2, 3}, set(), {9}]
    assert [g.covered[EC] for g in got] == [3, 3, 4]  # not 3 then 3 again: the union of both machines
    assert [g.read for g in got] == [True, False, True]


def test_a_seed_without_a_read_leaves_its_lines_to_the_next_read() -> None:
    got = gains([SeedRead(1, 10, lines({1})), SeedRead(2, 10, None), SeedRead(3, 10, lines({1, 2, 3}))])
    assert [g.new[EC] for g in got] == [{1}, set(), {2, 3}]  # seed 2's lines, if any, are among 3's
    assert [g.seed for g in corpus(got)] == [1, 3]


def test_the_corpus_keeps_the_seeds_that_added_lines_and_nothing_after_the_last() -> None:
    got = gains(
        [
            SeedRead(5, 10, lines({1})),
            SeedRead(6, 10, lines({1})),
            SeedRead(7, 10, lines({1}, fifo={3})),
            SeedRead(None, 0, lines({1, 2}, fifo={3})),  # the last read: not a seed to keep
        ]
    )
    assert [g.seed for g in corpus(got)] == [5, 7]
    assert covfuzz.reached(got) == lines({1, 2}, fifo={3})


def test_the_curve_counts_operations_from_zero_and_the_union_with_the_suite() -> None:
    got = gains([SeedRead(1, 100, lines({1, 2}, {5})), SeedRead(2, 300, lines({1, 2, 3}, {5}))])
    totals = {EC: 10, L2: 6, FIFO: 4}
    c = curve(got, totals)
    assert c.ops == [0, 100, 400]
    assert c.campaign == {EC: [0, 2, 3], L2: [0, 1, 1], FIFO: [0, 0, 0]}
    assert c.union is None and c.suite is None
    suite = lines({2, 7}, {5, 6})
    c = curve(got, totals, suite)
    assert c.suite == {EC: 2, L2: 2, FIFO: 0}
    # The suite's lines, then each seed's the suite did not have: 1 (seed 1), 3 (seed 2).
    assert c.union == {EC: [2, 3, 4], L2: [2, 2, 2], FIFO: [0, 0, 0]}


def test_corpus_txt_names_each_kept_seed_its_operations_new_lines_and_functions() -> None:
    got = gains([SeedRead(1, 20000, lines({1, 2, 30}, fifo={4})), SeedRead(2, 20000, None)])
    of = {EC: lambda n: "evtchn_send" if n < 10 else "evtchn_close", FIFO: lambda n: "evtchn_fifo_set_link"}
    text = covfuzz.format_corpus(got, of, ["a campaign"]).splitlines()
    assert text[0] == "# a campaign"
    assert text[1].split("\t")[:6] == ["# seed", "ops", "new", "event_channel.c", "event_2l.c", "event_fifo.c"]
    assert text[2].split("\t") == [
        "1", "20000", "4", "3", "0", "1", "evtchn_send (2), evtchn_close (1), evtchn_fifo_set_link (1)",
    ]  # fmt: skip
    assert text[3] == "# seed 2: its counters could not be read; its lines count with the next read"


def test_a_seeds_operations_are_every_domains() -> None:
    campaign = Campaign([3], 1000)
    campaign.runs = [
        FuzzRun("g1-A", 3, 2, 1000, 0, 1, 256, 0, 0, 0, 5, 0),
        FuzzRun("g1-B", 3 + fuzz.PEER_SEED, 2, 900, 0, 1, 256, 0, 0, 0, 5, 0),
        FuzzRun("g2-A", 4, 2, 1000, 0, 1, 256, 0, 0, 0, 0, 0),
    ]
    assert covfuzz.seed_ops(campaign, 3) == 1900
    assert covfuzz.seed_ops(campaign, None) == 0


def test_each_machines_last_read_makes_the_report(tmp_path: Path) -> None:
    dumps = [
        SeedDump(1, "1.1", tmp_path / "a"),
        SeedDump(2, "1.1", tmp_path / "b"),
        SeedDump(3, "1.?", None),
        SeedDump(4, "2.1", tmp_path / "c"),
        SeedDump(None, "2.1", tmp_path / "d"),
    ]
    assert covfuzz.last_per_machine(dumps) == [tmp_path / "b", tmp_path / "d"]


def test_the_plot_draws_the_measured_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = gains([SeedRead(1, 100, lines({1, 2}, {5})), SeedRead(2, 300, lines({1, 2, 3}, {5}))])
    c = curve(got, {EC: 10, L2: 6, FIFO: 4}, lines({2, 7}))
    drawn: list[matplotlib.figure.Figure] = []
    save = matplotlib.figure.Figure.savefig

    def keep(fig: matplotlib.figure.Figure, *args: Any, **kwargs: Any) -> None:
        drawn.append(fig)
        save(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    covfuzz.plot(c, tmp_path / "p.png", "title")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = drawn
    ec = fig.axes[0]
    assert ec.get_title() == "event_channel.c"
    series = {str(ln.get_label()).split(":")[0]: (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ec.get_lines()}  # type: ignore[arg-type]
    assert series["fuzz campaign"] == ([0, 100, 400], [0, 2, 3])
    assert series["suite + campaign"] == ([0, 100, 400], [2, 3, 4])
    assert series["suite"][1] == [2, 2]  # a level line
    legend = ec.get_legend()
    assert legend is not None and legend.get_texts()[0].get_text() == "fuzz campaign: 3/10 (30.0 %)"


def _campaign_run(tmp_path: Path, seeds: list[int], reads: list[CoverageRead]) -> SuiteRun:
    path = tmp_path / "f.evt"
    path.write_text("".join(case_text(s, 1000) for s in seeds))
    groups = [GroupResult(Group(g.index, g.config, g.cases)) for g in plan(load([path]), fresh=True)]
    session = type("S", (), {"groups": [g.group for g in groups], "coverage_reads": reads})()
    return SuiteRun(session, groups, [], 0.0, sessions=[session])


def test_a_campaigns_reads_are_its_seeds_in_run_order(tmp_path: Path) -> None:
    """Seeds 7, 8, 9 in groups 1-3: 7 read on the first machine, 8 not read (the machine was
    lost), 9 read on the replacement, then that machine's last read; seed 10 never ran there."""
    reads = [
        CoverageRead(1, 1, tmp_path / "m1-g1"),
        CoverageRead(2, 3, tmp_path / "m2-g3"),
        CoverageRead(2, None, tmp_path / "m2-end"),
    ]
    got = seed_dumps(_campaign_run(tmp_path, [7, 8, 9, 10], reads), 4, lost=[10])
    assert got == [
        SeedDump(7, "4.1", tmp_path / "m1-g1"),
        SeedDump(8, "4.?", None),
        SeedDump(9, "4.2", tmp_path / "m2-g3"),
        SeedDump(None, "4.2", tmp_path / "m2-end"),
    ]


class _Counters(FakeChannel):
    """dom0's agent with `xencov read`'s file: each read a new dump; the `fail`-th read fails."""

    def __init__(self, shell: FakeDom0Shell, stream: FakeStream, fail: int = 0) -> None:
        super().__init__(self._shell, stream)
        self.inner = shell
        self.reads = 0
        self.fail = fail

    def _shell(self, command: str) -> tuple[list[str], int, list[str]]:
        if command.startswith("xencov read"):
            self.reads += 1
            return [], 1 if self.reads == self.fail else 0, []
        return self.inner.answer(command)

    def _answer(self, kind: bytes, req_id: int, payload: bytes) -> Frame | None:
        if kind == agent.GET:
            return Frame(agent.DATA, req_id, f"dump {self.reads}".encode())
        return super()._answer(kind, req_id, payload)


@pytest.mark.parametrize(("each", "fail"), [(True, 0), (True, 2), (False, 0)])
def test_a_session_keeps_a_read_per_group_and_a_failed_read_costs_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, each: bool, fail: int
) -> None:
    monkeypatch.setattr("orchestrator.runner.GROUP_BOOT_S", 0.0)
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    session = _session(tmp_path, shell)
    stream = FakeStream(None)
    console, _ = make_console(stream)
    session.dom0 = Dom0(console, _Counters(shell, stream, fail))
    session.coverage, session.coverage_each = True, each
    (tmp_path / "out").mkdir()  # as __enter__ would, which boots
    results = session.run_groups(session.groups)
    assert all(r.outcome is Outcome.PASS for g in results for r in g.case_results())
    out = tmp_path / "out"
    if not each:  # each read replaces the last: the report needs the machine's latest only
        assert [(r.group, r.path.name) for r in session.coverage_reads] == [
            (1, "xencov-m0.dat"),
            (2, "xencov-m0.dat"),
            (None, "xencov-m0.dat"),
        ]
        assert (out / "xencov-m0.dat").read_bytes() == b"dump 3"
        return
    want = [
        (1, "xencov-m0-g1.dat", b"dump 1"),
        (2, "xencov-m0-g2.dat", b"dump 2"),
        (None, "xencov-m0-end.dat", b"dump 3"),
    ]
    since = [(1,), (2,), ()]
    if fail:  # its group's lines are in the next read, which says so
        del want[fail - 1]
        since[fail - 1 : fail + 1] = [since[fail - 1] + since[fail]]
    assert [(r.group, r.path.name, r.path.read_bytes()) for r in session.coverage_reads] == want
    assert [r.since for r in session.coverage_reads] == since
    assert session.coverage_dumps == {0: out / "xencov-m0-end.dat"}


def test_a_campaigns_outcome() -> None:
    c = Campaign([1], 10)
    assert fuzz.outcome(c) is Outcome.ERROR  # no result for seed 1: never a PASS
    c.runs.append(FuzzRun("g1-A", 1, 1, 10, 0, 1, 256, 0, 0, 0, 0, 0))
    assert fuzz.outcome(c) is Outcome.PASS
    c.errors.append((1, "no FUZZ line"))
    assert fuzz.outcome(c) is Outcome.ERROR
    c.runs.append(FuzzRun("g1-A", 1, 1, 10, 1, 1, 256, 0, 0, 0, 0, 0))
    assert fuzz.outcome(c) is Outcome.FAIL
    c.crashes.append((1, "panic"))
    assert fuzz.outcome(c) is Outcome.CRASH


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--xen", "bookworm", "fuzz", "--coverage"], "--coverage needs XEN=src:<tree>"),
        (["--xen", "src:/nonexistent", "fuzz", "--coverage", "--jobs", "2"], "one after another: --jobs 1"),
        (["--xen", "trixie", "coverage"], "--coverage needs XEN=src:<tree>"),
    ],
)
def test_a_coverage_campaign_is_refused_before_anything_is_prepared(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], why: str
) -> None:
    monkeypatch.setattr(cli, "prepare", lambda *_: pytest.fail("prepared"))
    monkeypatch.setattr(sources, "check", lambda spec: None)  # src:/nonexistent is a usage error of its own
    assert cli.main(argv) == cli.EXIT_USAGE
    assert why in capsys.readouterr().err


def test_gain_lines_are_counted_over_every_file() -> None:
    g = Gain(1, 10, 10, {EC: frozenset({1, 2}), L2: frozenset({3})}, {EC: 2, L2: 1}, True)
    assert g.new_lines == 3


class _Prepared(Exception):
    pass


def test_make_coverage_prepares_the_coverage_build_for_eight_seeds_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[object, ...]] = []

    def prepare(*args: object) -> None:
        asked.append(args)
        raise _Prepared

    parsed: list[list[int]] = []
    real = cli._fuzz_args

    def fuzz_args(args: argparse.Namespace) -> cli.FuzzArgs | None:
        got = real(args)
        parsed.append(got.seeds if got else [])
        return got

    monkeypatch.setattr(cli, "_fuzz_args", fuzz_args)
    monkeypatch.setattr(sources, "check", lambda spec: None)
    monkeypatch.setattr(cli, "prepare", prepare)
    with pytest.raises(_Prepared):
        cli.main(["--xen", "src:/nonexistent", "coverage"])
    assert asked == [("src:/nonexistent", True)]
    assert parsed == [[1, 2, 3, 4, 5, 6, 7, 8]]
