"""Known results per Xen (orchestrator/baseline.py): what is known passes and is listed apart,
anything new fails, an entry that no longer matches is reported, --update-baseline writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import baseline
from orchestrator.baseline import BaselineError, Known
from orchestrator.cases.parse import parse_file
from orchestrator.cases.plan import plan
from orchestrator.console import Line
from orchestrator.outcome import Outcome
from orchestrator.report import KNOWN, rows
from orchestrator.results import CaseResult, StepResult
from orchestrator.runner import Progress

CASE = """case c
domains A
source  somewhere
A close 1000 -> EINVAL
A send 1000  -> EINVAL
"""


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/cases stands for the project's cases/: the only files baseline lines name."""
    monkeypatch.setattr(baseline, "CASES", tmp_path / "cases")
    return tmp_path / "cases"


def _result(tmp_path: Path, got: dict[int, str], folder: str = "cases") -> CaseResult:
    path = tmp_path / folder / "c.evt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CASE)
    case = parse_file(path)[0]
    res = CaseResult(case, 1)
    for step in case.steps:
        value = got[step.line]
        verdict = "PASS" if value == step.expect[0] else "FAIL"
        res.steps.append(StepResult("g1-A", "c", step.line, step.op, step.args, step.expect[0], value, verdict))
    return res


def test_paths_follow_major_minor() -> None:
    assert baseline.path_for("4.20.5-pre") == baseline.BASELINES / "4.20.txt"
    assert baseline.path_for("4.17.7") == baseline.BASELINES / "4.17.txt"
    assert baseline.path_for("?") is None


def test_a_known_failure_passes_and_is_listed_a_new_one_fails(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: "EBUSY", 5: "ESRCH"})
    known, stale = baseline.apply([res], [Known("c.evt:4", "A", "EINVAL", "EBUSY", "a deliberate change")])
    assert [k.where for k in known] == ["c.evt:4"] and stale == []
    assert [r.verdict for r in rows([res])] == [KNOWN, "FAIL"]
    assert res.outcome is Outcome.FAIL  # line 5 is new
    res2 = _result(tmp_path, {4: "EBUSY", 5: "EINVAL"})
    baseline.apply([res2], [Known("c.evt:4", "A", "EINVAL", "EBUSY")])
    assert res2.outcome is Outcome.PASS


def test_known_is_exact_another_wrong_answer_is_new_and_the_entry_stale(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: "EPERM", 5: "EINVAL"})
    known, stale = baseline.apply([res], [Known("c.evt:4", "A", "EINVAL", "EBUSY")])
    assert known == [] and [k.got for k in stale] == ["EBUSY"]
    assert res.outcome is Outcome.FAIL
    text = baseline.summary(tmp_path / "4.20.txt", [res], known, stale, update=False)
    assert "1 baseline line(s) matched no step" in text


def test_update_writes_what_failed_and_keeps_reasons(tmp_path: Path) -> None:
    res = _result(tmp_path, {4: "EBUSY", 5: "ESRCH"})
    old = [Known("c.evt:4", "A", "EINVAL", "EBUSY", "295514ff75")]
    baseline.apply([res], old)
    path = tmp_path / "b" / "4.20.txt"
    assert "written, 2 known step(s)" in baseline.summary(path, [res], old, [], update=True)
    entries = baseline.read(path)
    assert [(k.where, k.got, k.why) for k in entries] == [
        ("c.evt:4", "EBUSY", "295514ff75"),
        ("c.evt:5", "ESRCH", baseline.NEW_REASON),
    ]


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "4.20.txt"
    path.write_text("# comment\n\nc.evt:4 A EINVAL EBUSY\n")
    with pytest.raises(BaselineError, match=r"4.20.txt:3: expected"):
        baseline.read(path)


def test_every_shipped_baseline_reads_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "CASES", baseline.ROOT / "cases")
    assert baseline.read_all().keys() == set(baseline.BASELINES.glob("*.txt"))
    for path in sorted(baseline.BASELINES.glob("*.txt")):
        entries = baseline.read(path)
        assert entries and all(k.why and k.why != baseline.NEW_REASON for k in entries), path


def test_a_case_file_outside_the_projects_cases_is_never_known(tmp_path: Path) -> None:
    """A user's own c.evt: the baseline's `c.evt:4` is about the project's, not this one."""
    entry = Known("c.evt:4", "A", "EINVAL", "EBUSY", "a deliberate change")
    for folder in ("mine", "cases/sub"):
        res = _result(tmp_path, {4: "EBUSY", 5: "EINVAL"}, folder)
        assert baseline.apply([res], [entry]) == ([], [])  # not matched, and not stale either
        assert [r.verdict for r in rows([res])] == ["FAIL", "PASS"] and res.outcome is Outcome.FAIL
    # A symlink into cases/ is the file it points to.
    (tmp_path / "cases" / "c.evt").symlink_to(tmp_path / "mine" / "c.evt")
    res = _result(tmp_path, {4: "EBUSY", 5: "EINVAL"}, "mine")
    res.case.path = tmp_path / "cases" / "c.evt"
    assert baseline.apply([res], [entry]) == ([], [])
    # --update-baseline writes nothing about it either.
    path = tmp_path / "4.20.txt"
    baseline.update_file(path, [res], [])
    assert baseline.read(path) == []


def test_a_users_fifo_evt_is_not_known_by_the_shipped_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "CASES", baseline.ROOT / "cases")
    shipped = baseline.read(baseline.BASELINES / "4.17.txt")
    assert any(k.where == "fifo.evt:216" for k in shipped)
    mine = tmp_path / "fifo.evt"
    mine.write_bytes((baseline.CASES / "fifo.evt").read_bytes())

    def fails_at_216(path: Path) -> CaseResult:
        case = next(c for c in parse_file(path) if any(s.line == 216 for s in c.steps))
        res = CaseResult(case, 1)
        for step in case.steps:
            bad = step.line == 216
            got = "ok:2" if bad else "ok"
            res.steps.append(
                StepResult("g1-A", case.name, step.line, step.op, step.args, "ok:1", got, "FAIL" if bad else "PASS")
            )
        return res

    theirs = fails_at_216(baseline.CASES / "fifo.evt")
    known, _ = baseline.apply([theirs], shipped)
    assert [k.where for k in known] == ["fifo.evt:216"] and theirs.outcome is Outcome.PASS
    res = fails_at_216(mine)
    known, stale = baseline.apply([res], shipped)
    assert known == [] and stale == [] and res.outcome is Outcome.FAIL
    # The progress line as the run goes calls it known only in the project's file.
    ran = f"[g1-A] EVT RESULT case={res.case.name} line=216 op=count args=3 expect=ok:1 got=ok:2 verdict=FAIL"
    for case, known_failed in ((theirs.case, 1), (res.case, 0)):
        progress = Progress(plan([case])[0], {k.key for k in shipped})
        progress(Line(0, 0.0, ran))
        assert progress.known_failed[case.name] == known_failed
