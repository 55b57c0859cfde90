"""The conformance report and the cross-hypervisor comparison, on made-up results."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator import cli, matrix
from orchestrator.cases.parse import parse_file
from orchestrator.matrix import ERROR, NO_RESULT, SAME, Column, column_from, compare, write
from orchestrator.matrix import outcome as matrix_outcome
from orchestrator.outcome import Outcome
from orchestrator.report import DIFFERS, FAIL, MISSING, PASS, ktap, rows, write_reports
from orchestrator.results import CaseResult, StepResult

CASE = """case c
domains A
source  somewhere
A close 1000 -> EINVAL spec: ESRCH   # event_channel.c evtchn_close()
A raw 99     -> ENOSYS
A send 1000  -> EINVAL
"""


def _result(tmp_path: Path, got: dict[int, tuple[str, str]]) -> CaseResult:
    path = tmp_path / "c.evt"
    path.write_text(CASE)
    case = parse_file(path)[0]
    res = CaseResult(case, 1)
    for step in case.steps:
        if step.line in got:
            value, verdict = got[step.line]
            res.steps.append(StepResult("g1-A", "c", step.line, step.op, step.args, step.expect[0], value, verdict))
    return res


def test_verdicts_mark_differences_failures_and_missing(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: ("EINVAL", "PASS"), 5: ("EINVAL", "FAIL")})
    table = rows([res])
    assert [(r.where, r.verdict) for r in table] == [("c.evt:4", DIFFERS), ("c.evt:5", FAIL), ("c.evt:6", MISSING)]
    assert table[0].spec == "ESRCH" and table[0].source == "event_channel.c evtchn_close()"
    assert table[1].source == "somewhere"  # no comment: the case's source


def test_reports_are_written_with_header_and_failures_first(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: ("EINVAL", "PASS"), 5: ("ENOSYS", "PASS"), 6: ("ESRCH", "FAIL")})
    json_path, md_path = write_reports(tmp_path, {"xen_version": "4.17.7", "qemu": "7.2"}, [res])
    data = json.loads(json_path.read_text())
    assert data["header"]["xen_version"] == "4.17.7"
    assert data["summary"][PASS] == 1 and data["summary"][DIFFERS] == 1 and data["summary"][FAIL] == 1
    md = md_path.read_text()
    assert "**xen_version**: 4.17.7" in md
    body = [ln for ln in md.splitlines() if ln.startswith(("| send", "| close", "| raw"))]
    assert [ln.split(" | ")[0] for ln in body] == ["| send", "| close", "| raw"]


def test_compare_puts_differing_rows_first_and_a_broken_column_differs_nowhere() -> None:
    a = Column("bookworm", cells={"k1": "ok:3", "k2": "EINVAL"}, outcome=Outcome.PASS)
    b = Column("trixie", cells={"k1": "ok:3", "k2": "ENOENT"}, outcome=Outcome.PASS)
    broken = Column("mine", error="Xen panicked: ...")
    table = compare([a, b, broken])
    assert all(st == ERROR for _, _, st in table)  # no result in one column: never a difference
    assert compare([a, b]) == [("k2", ["EINVAL", "ENOENT"], matrix.DIFFERS), ("k1", ["ok:3", "ok:3"], SAME)]
    assert matrix_outcome([a, b]) is Outcome.PASS
    assert matrix_outcome([a, b, broken]) is Outcome.ERROR


def test_a_column_that_lost_steps_shows_errors_apart_and_fails_the_matrix(tmp_path: Path) -> None:
    """The slow host's matrix: trixie lost its machine half way; its missing steps are
    ERROR rows, the steps both ran are compared, and the verdict is ERROR."""
    full = _result(tmp_path, {4: ("EINVAL", "PASS"), 5: ("ENOSYS", "PASS"), 6: ("EINVAL", "PASS")})
    half = _result(tmp_path, {4: ("ESRCH", "FAIL")})
    a = column_from("bookworm", {}, rows([full]), full.outcome, 1.0, tmp_path / "a.md")
    b = column_from("trixie", {}, rows([half]), half.outcome, 1.0, tmp_path / "b.md")
    table = compare([a, b])
    assert [(k.split()[1], st) for k, _, st in table] == [
        ("c.evt:4", matrix.DIFFERS),
        ("c.evt:5", ERROR),
        ("c.evt:6", ERROR),
    ]
    assert table[1][1] == ["ENOSYS", NO_RESULT]
    assert matrix_outcome([a, b]) is half.outcome and half.outcome.exit_code != 0
    json_path, md_path = write(tmp_path, [a, b])
    data = json.loads(json_path.read_text())
    assert [r["status"] for r in data["rows"]] == [matrix.DIFFERS, ERROR, ERROR] and data["outcome"] != "PASS"
    assert "1 of 3 steps differ" in md_path.read_text() and "2 step(s) have no result" in md_path.read_text()


def test_matrix_files_name_each_column(tmp_path: Path) -> None:
    a = Column("bookworm", header={"xen_version": "4.17.7", "build_id": "abc", "debug": "n"}, cells={"k": "ok"})
    b = Column("trixie", header={"xen_version": "4.20.5-pre"}, error="Xen panicked: boom\nmore")
    json_path, md_path = write(tmp_path, [a, b])
    md = md_path.read_text()
    assert "bookworm: Xen 4.17.7" in md and "debug=n" in md
    assert "did not run**: Xen panicked: boom" in md
    assert json.loads(json_path.read_text())["rows"][0]["cells"] == {"bookworm": "ok", "trixie": NO_RESULT}


def test_ktap_has_a_test_per_case_and_a_subtest_per_step(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: ("EINVAL", "PASS"), 5: ("ENOSYS", "PASS"), 6: ("ESRCH", "FAIL")})
    write_reports(tmp_path, {"xen_version": "4.17.7", "build_id": "abc"}, [res])
    lines = (tmp_path / "conformance.ktap").read_text().splitlines()
    assert lines[:3] == ["KTAP version 1", "# Xen 4.17.7 build-id abc", "1..1"]
    assert lines[3:6] == ["    KTAP version 1", "    # Subtest: c", "    1..3"]
    results = [ln.strip() for ln in lines if ln.strip().startswith(("ok ", "not ok "))]
    assert results == [
        "ok 1 c.evt:4 A close(1000)",
        "ok 2 c.evt:5 A raw(99)",
        "not ok 3 c.evt:6 A send(1000)",
        "not ok 1 c",  # the case: its name as its Subtest line gives it
    ]
    assert "    # DIFFERS FROM 3.0: Xen EINVAL, the 3.0 guide ESRCH" in lines
    assert "    # expected EINVAL, got ESRCH" in lines


def test_ktap_names_carry_no_directive(tmp_path: Path) -> None:
    res = _result(tmp_path, {})
    res.case = replace(res.case, name="a#b")
    text = ktap({}, [res])
    assert "not ok 1 aNo.b" in text.splitlines() and "# SKIP" not in text


@pytest.fixture
def no_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The matrix's output folder in tmp_path, and no column may start."""

    def run_suite(*_: object) -> None:
        raise AssertionError("a column started")

    monkeypatch.setattr(cli, "BUILD", tmp_path / "build")
    monkeypatch.setattr(cli, "run_suite", run_suite)
    return tmp_path / "build"


def test_matrix_refuses_two_case_files_of_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_columns: Path
) -> None:
    # The matrix copies the case files into one folder by name: m2/x.evt silently replaced m1/x.evt.
    a, b = tmp_path / "m1" / "x.evt", tmp_path / "m2" / "x.evt"
    for i, path in enumerate((a, b)):
        path.parent.mkdir()
        path.write_text(f"case c{i}\ndomains A\nA send 1\n")
    assert cli.main(["matrix", str(a), str(b)]) == 2
    assert f"error: {a} and {b}: two case files named x.evt" in capsys.readouterr().err
    assert not no_columns.exists()


def test_matrix_refuses_a_bad_case_file_before_any_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_columns: Path
) -> None:
    path = tmp_path / "x.evt"
    path.write_text("case c\ndomains A\nA frob 1\n")
    fifo = tmp_path / "fifo.evt"
    os.mkfifo(fifo)  # copied with shutil.copy2, it hung the matrix
    assert cli.main(["matrix", str(path), str(fifo)]) == 4
    err = capsys.readouterr().err
    assert f"{path}:3: unknown op `frob`" in err and f"{fifo}: not a regular file (a FIFO)" in err
    assert not no_columns.exists()


def test_bisect_never_calls_a_run_without_results_good_or_bad(tmp_path: Path) -> None:
    """A case whose steps have no result is ERROR, and an ERROR run is skipped (125)."""
    from orchestrator.cli import BISECT_BAD, BISECT_GOOD, BISECT_SKIP, bisect_code

    lost = _result(tmp_path, {})  # the machine went before any step answered
    assert lost.outcome is Outcome.ERROR and bisect_code(lost.outcome) == BISECT_SKIP
    assert bisect_code(Outcome.PASS) == BISECT_GOOD
    assert bisect_code(Outcome.FAIL) == BISECT_BAD and bisect_code(Outcome.CRASH) == BISECT_BAD
