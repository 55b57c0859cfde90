"""Which groups reach which lines: each read credited with the lines whose counts grew,
the lines one read alone reaches, the groups and case files that add none. No Xen: the
counts are made here, and the gcov path runs on test_coverage.py's small program."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from orchestrator import cli, covattr, coverage
from orchestrator.cases.parse import load
from orchestrator.cases.plan import plan
from orchestrator.covattr import GroupInfo, Read, Unit, attribute, units
from orchestrator.fuzz import case_text
from orchestrator.outcome import Outcome
from orchestrator.pipeline import SuiteRun
from orchestrator.results import GroupResult
from orchestrator.runner import CoverageRead

from .test_coverage import _counted, _program, needs_gcov

EC, L2, FIFO = "xen/common/event_channel.c", "xen/common/event_2l.c", "xen/common/event_fifo.c"


def counts(ec: Mapping[int, int] | None = None, fifo: Mapping[int, int] | None = None) -> dict[str, dict[int, int]]:
    return {EC: dict(ec or {}), L2: {}, FIFO: dict(fifo or {})}


def ec(lines: Iterable[int]) -> dict[str, frozenset[int]]:
    return {EC: frozenset(lines), L2: frozenset(), FIFO: frozenset()}


def test_a_read_is_credited_with_the_lines_whose_counts_grew() -> None:
    """Line 1 runs in every group: each is credited with it; 2 only in the first; 3 once more at the end."""
    got = units(
        [
            Read("1.1", (1,), False, counts({1: 5, 2: 1, 3: 0})),
            Read("1.1", (2,), False, counts({1: 9, 2: 1, 3: 0})),
            Read("1.1", (), True, counts({1: 10, 2: 1, 3: 2})),
        ]
    )
    assert [u.lines[EC] for u in got] == [{1, 2}, {1}, {1, 3}]
    assert [(u.groups, u.end, u.read) for u in got] == [((1,), False, True), ((2,), False, True), ((), True, True)]


def test_a_replacement_machine_counts_from_zero() -> None:
    """Machine 1.1 was lost in group 2 (no read); 1.2 ran group 3: its first read is all it counted."""
    got = units(
        [
            Read("1.1", (1,), False, counts({1: 5, 2: 1})),
            Read("1.2", (3,), False, counts({1: 2})),
            Read("1.2", (), True, counts({1: 2, 4: 1})),
        ]
    )
    assert [u.lines[EC] for u in got] == [{1, 2}, {1}, {4}]


def test_machines_are_kept_apart_in_any_order() -> None:
    """Two machines at once (--jobs 2): each read against its own machine's last."""
    got = units(
        [
            Read("1.1", (1,), False, counts({1: 5})),
            Read("2.1", (2,), False, counts({1: 1, 2: 1})),
            Read("1.1", (3,), False, counts({1: 5, 3: 1})),
        ]
    )
    assert [u.lines[EC] for u in got] == [{1}, {1, 2}, {3}]


def test_a_read_gcov_could_not_make_leaves_its_groups_to_the_next() -> None:
    got = units(
        [
            Read("1.1", (1,), False, counts({1: 1})),
            Read("1.1", (2,), False, None),
            Read("1.1", (3,), False, counts({1: 1, 2: 1, 3: 1})),
        ]
    )
    assert [(u.groups, u.read) for u in got] == [((1,), True), ((2,), False), ((2, 3), True)]
    assert [u.lines[EC] for u in got] == [{1}, set(), {2, 3}]
    assert got[2].label() == "groups 2, 3"


def test_labels() -> None:
    assert Unit("1.1", (4,), False, ec(()), True).label() == "group 4"
    assert Unit("1.1", (), True, ec(()), True).label() == "end"
    assert Unit("1.2", (), True, ec(()), True).label(machines=2) == "end (machine 1.2)"
    assert Unit("1.2", (7,), True, ec(()), True).label() == "group 7 + end"


GROUPS = [
    GroupInfo(1, ("a1", "b1"), ("a.evt", "b.evt")),  # a group of cases of two files
    GroupInfo(2, ("a2",), ("a.evt",)),
    GroupInfo(3, ("c1",), ("c.evt",)),
    GroupInfo(4, ("d1",), ("d.evt",)),
    GroupInfo(5, ("e1",), ("e.evt",)),  # its machine was lost before its read
]


def _attribution() -> covattr.Attribution:
    return attribute(
        [
            Read("1.1", (1,), False, counts({1: 1, 2: 1, 3: 1})),
            Read("1.1", (2,), False, counts({1: 2, 2: 1, 3: 1, 4: 1}, {7: 1})),
            Read("1.1", (3,), False, counts({1: 3, 2: 1, 3: 1, 4: 1}, {7: 1})),  # line 1 again: nothing its own
            Read("1.1", (4,), False, counts({1: 3, 2: 2, 3: 1, 4: 1}, {7: 1})),  # line 2, which group 1 had
            Read("1.1", (), True, counts({1: 3, 2: 2, 3: 1, 4: 1, 9: 1}, {7: 1})),  # the teardown: 9
        ],
        GROUPS,
    )


def test_the_lines_only_one_read_reaches() -> None:
    att = _attribution()
    assert [u.label() for u in att.units] == ["group 1", "group 2", "group 3", "group 4", "end"]
    assert [m[EC] for m in att.unique] == [{3}, {4}, set(), set(), {9}]
    assert att.unique[1][FIFO] == {7}
    assert att.single == {EC: {3, 4, 9}, L2: set(), FIFO: {7}}
    assert att.reached == {EC: {1, 2, 3, 4, 9}, L2: set(), FIFO: {7}}
    assert [u.label() for u in att.adds_no_line()] == ["group 3", "group 4"]  # never the end: it is no group
    assert att.unread == [5]


def test_a_case_files_lines_are_its_groups_together() -> None:
    """a.evt is in groups 1 and 2: line 1 (group 3 reaches it too) is not its own, 3 and 4 are;
    b.evt shares group 1, and with it line 3; d.evt's line 2 is group 1's as well."""
    shares = {s.name: s for s in _attribution().case_files}
    assert shares["a.evt"].groups == (1, 2)
    assert shares["a.evt"].unique[EC] == {3, 4} and shares["a.evt"].unique[FIFO] == {7}
    assert shares["a.evt"].shares_with == ("b.evt",)
    assert shares["a.evt"].shared == ((1, 1),) and shares["a.evt"].apart  # group 2 is a.evt's alone
    assert shares["b.evt"].shared == ((1, 1),) and not shares["b.evt"].apart  # group 1 is all it has
    assert shares["b.evt"].unique[EC] == {3} and shares["b.evt"].lines[EC] == {1, 2, 3}
    assert shares["d.evt"].unique[EC] == set() and shares["d.evt"].lines[EC] == {2}
    assert shares["e.evt"].lines[EC] == set()  # never read
    assert [s.name for s in _attribution().files_adding_no_line()] == ["c.evt", "d.evt", "e.evt"]


def test_the_reads_must_give_the_reports_lines() -> None:
    att = _attribution()
    assert covattr.disagreement(att, {EC: frozenset({1, 2, 3, 4, 9}), FIFO: frozenset({7})}) == []
    (why,) = covattr.disagreement(att, {EC: frozenset({1, 2, 3, 4, 9, 10}), FIFO: frozenset({7})})
    assert why == f"{EC}: 5 line(s) by the per-group reads, 6 by the report (0 only in the reads, 1 only in the report)"


def test_attribution_md_names_what_adds_nothing_and_lists_each_reads_own_lines() -> None:
    att = _attribution()
    names = {EC: lambda n: "evtchn_close" if n < 4 else "evtchn_send", FIFO: lambda n: "evtchn_fifo_set_pending"}
    text = covattr.format_markdown(att, {g.index: g for g in GROUPS}, names, ["Xen 4.22.0"], ["a disagreement"])
    assert "Xen 4.22.0" in text and "**The per-group reads and the report disagree:** a disagreement" in text
    assert (
        "**Groups that add no line** (another group reaches every line they reach): group 3 (c.evt), group 4 (d.evt)."
        in text
    )
    assert "(other files' groups reach every line theirs reach): `c.evt`, `d.evt`, `e.evt`." in text
    assert "| reached by one read alone | 3 | 0 | 1 | 4 |" in text
    assert "| group 1 | a.evt, b.evt | 2 | 3 | 1 | 0 | 0 |" in text
    assert "| end | teardown after the last group | 0 | 1 | 1 | 0 | 0 |" in text
    own = text.split("## Lines only one read reaches")[1].split("## Case files")[0]
    assert "### group 2: 2 line(s)" in own and "Case file(s): a.evt; cases: a2." in own
    assert (
        "| event_channel.c | `evtchn_send` | 4 |" in own and "| event_fifo.c | `evtchn_fifo_set_pending` | 7 |" in own
    )
    assert "### group 3" not in own
    assert "| `a.evt` | 1, 2 | 5 | 2 | 0 | 1 | 1 (+1 file) |" in text
    assert "| `c.evt` | 3 | 1 | 0 | 0 | 0 | - |" in text
    assert "**Case files run only in groups with other files' cases** (their own lines" in text
    assert "tells them apart): `b.evt`." in text
    assert "- group 5: in no read" in text


def test_attribution_json_has_every_reads_lines() -> None:
    att = _attribution()
    data = json.loads(json.dumps(covattr.to_json(att, {g.index: g for g in GROUPS})))
    assert data["single"] == {EC: 3, L2: 0, FIFO: 1}
    assert data["reads"][1]["lines"][EC] == [1, 4] and data["reads"][1]["unique"][FIFO] == [7]
    assert data["reads"][0]["case_files"] == ["a.evt", "b.evt"] and data["reads"][0]["cases"] == ["a1", "b1"]
    assert data["adds_no_line"] == ["group 3", "group 4"]
    assert data["files_adding_no_line"] == ["c.evt", "d.evt", "e.evt"]
    assert data["unread_groups"] == [5]


def test_spans_by_function_in_file_then_line_order() -> None:
    of = {EC: lambda n: "f" if n < 10 else "g"}
    got = covattr.by_function({EC: frozenset({12, 3, 4, 5, 11, 9}), L2: frozenset({1})}, of)
    assert got == [(EC, "f", [3, 4, 5, 9]), (EC, "g", [11, 12]), (L2, "?", [1])]  # MAIN_FILES' order, not the alphabet


def _suite_run(tmp_path: Path) -> tuple[SuiteRun, Path, Path, Path]:
    """Four groups on one machine, counters growing from read to read: groups 1, 2 and 4
    run the program with no argument (counts grow on the same lines, none their own), group
    3 with two and with five more (`return 1;` and never() its own); then the last read.
    (the run, the tree, its build, the run's folder)"""
    tree, build, prog = _program(tmp_path)
    (tmp_path / "a.evt").write_text(case_text(1, 1000) + case_text(2, 1000))
    (tmp_path / "b.evt").write_text(case_text(3, 1000))
    (tmp_path / "c.evt").write_text(case_text(4, 1000))
    groups = [GroupResult(g) for g in plan(load([tmp_path / n for n in ("a.evt", "b.evt", "c.evt")]), fresh=True)]
    runs = tmp_path / "run"
    runs.mkdir()
    reads = [
        CoverageRead(1, 1, _counted(build, prog, runs / "g1.dat", 1), (1,)),
        CoverageRead(1, 2, _counted(build, prog, runs / "g2.dat", 1, fresh=False), (2,)),
        CoverageRead(1, 3, _counted(build, prog, runs / "g3.dat", 3, 6, fresh=False), (3,)),
        CoverageRead(1, 4, _counted(build, prog, runs / "g4.dat", 1, fresh=False), (4,)),
        CoverageRead(1, None, _counted(build, prog, runs / "end.dat", fresh=False), ()),
    ]
    session = type("S", (), {"coverage_reads": reads, "coverage_dumps": {1: runs / "end.dat"}, "info": {}})()
    return SuiteRun(session, groups, [], 0.0, sessions=[session]), tree, build, runs


@needs_gcov
def test_a_suite_runs_reads_become_attribution_md(tmp_path: Path) -> None:
    """The dumps but the last are deleted, and the reads agree with the report."""
    run, tree, build, runs = _suite_run(tmp_path)
    out = tmp_path / "report"
    coverage.report([runs / "end.dat"], build, tree, out)
    made = covattr.suite_report(run, build, tree, out)
    assert made.disagree == []
    att = made.attribution
    assert [u.label() for u in att.adds_no_line()] == ["group 1", "group 2", "group 4"]
    assert [covattr.count(m) for m in att.unique] == [0, 0, 3, 0, 0]  # `return 1;`, never(), and its call
    assert att.unique[2][L2] == {3}
    assert [s.name.rsplit("/", 1)[-1] for s in att.files_adding_no_line()] == ["a.evt", "c.evt"]
    text = (out / "attribution.md").read_text()
    assert "| event_channel.c | `never` | 2 |\n| event_2l.c | `set_pending` | 3 |" in text
    assert "Most lines of their own: group 3 (3)." in text
    assert json.loads((out / "attribution.json").read_text())["reads"][2]["unique"][L2] == [3]
    assert sorted(p.name for p in runs.iterdir()) == ["end.dat"]
    assert not (out / "reads").exists()


@needs_gcov
def test_run_coverage_writes_the_attribution_beside_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run, tree, build, runs = _suite_run(tmp_path)
    monkeypatch.setattr(coverage, "build_of", lambda *_: build)
    out = tmp_path / "coverage"
    report = cli._coverage_report(run, tree, out)
    assert report.outcome is Outcome.PASS and (out / "attribution.md").exists() and (out / "xencov-1.dat").exists()
    printed = capsys.readouterr().out
    assert "lines one read alone reaches: 3 of " in printed
    assert "groups that add no line: group 1, group 2, group 4" in printed
    assert "case files that add no line: " in printed and "a.evt" in printed.split("case files that add no line: ")[1]


@needs_gcov
def test_an_attribution_that_cannot_be_made_costs_the_report_not_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, tree, build, runs = _suite_run(tmp_path)
    monkeypatch.setattr(coverage, "build_of", lambda *_: build)

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(covattr, "suite_report", broken)
    report = cli._coverage_report(run, tree, tmp_path / "coverage")
    assert report.outcome is Outcome.ERROR and "no attribution.md: disk full" in report.error
    assert report.files  # the report itself was made
