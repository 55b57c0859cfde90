"""orchestrator.soak: the variants a soak takes, and how a run is held to the first."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator.cases.parse import parse_file
from orchestrator.outcome import Outcome
from orchestrator.results import CaseResult, Problem, StepResult
from orchestrator.soak import BusyLoop, RunRecord, Variant, changes, plan, summary, verdicts, write


def test_fifty_runs_mix_what_ci_runners_meet() -> None:
    runs = plan(50)
    assert sum(v.busy for v in runs) >= 10 and sum(v.xen == "trixie" for v in runs) >= 10
    assert any(v.cold for v in runs) and any(not v.cold for v in runs)
    assert any(v.jobs == 2 for v in runs) and {v.order for v in runs} == {"file", "random"}
    # Any ten runs in a row take each variant once.
    assert len(set(runs[7:17])) == 10


def test_a_plan_for_one_xen_keeps_its_variants() -> None:
    assert {v.xen for v in plan(10, ["bookworm"])} == {"bookworm"}
    assert plan(2, ["src:/x"]) == [Variant("src:/x", False, False, 1, "file")] * 2


def test_changes_name_each_step_and_both_verdicts() -> None:
    first = {"a.evt:3 A close": "PASS", "a.evt:4 A send": "KNOWN"}
    assert changes(first, dict(first)) == []
    now = {"a.evt:3 A close": "NO RESULT", "b.evt:1 B send": "PASS"}
    assert changes(first, now) == [
        "a.evt:3 A close: PASS -> NO RESULT",
        "a.evt:4 A send: KNOWN -> (not run)",
        "b.evt:1 B send: (not run) -> PASS",
    ]


def test_a_case_whose_outcome_changed_is_a_change_though_every_step_held(tmp_path: Path) -> None:
    """Soak run 33: every step of dump-event-channels passed, a barrier between them timed out;
    the run was called steady. The case's outcome is held to the first run's too."""
    path = tmp_path / "c.evt"
    path.write_text("case one\ndomains A\nsource somewhere\nA send 1 -> EINVAL\n")
    (case,) = parse_file(path)

    def run(problem: Problem | None) -> dict[str, str]:
        res = CaseResult(case, 1, [StepResult("g1-A", "one", 4, "send", ("1",), "EINVAL", "EINVAL", "PASS")])
        res.problems += [problem] if problem else []
        return verdicts([res])

    first = run(None)
    assert first == {"c.evt:4 A send": "PASS", "case one": "PASS"}
    late = run(Problem(Outcome.ERROR, "B: line 5: the harness's get(...) gave ETIMEDOUT"))
    assert changes(first, late) == ["case one: PASS -> ERROR"]


def test_summary_counts_flakes_errors_and_changes(tmp_path: Path) -> None:
    v = Variant("bookworm", True, False, 1, "file")
    records = [
        RunRecord(1, v, "PASS", 60.0),
        RunRecord(2, v, "ERROR", 61.0, errors=["interdomain-exchange: dom0 command failed", "machine given up"]),
        RunRecord(3, v, "PASS", 59.0, changed=["a.evt:3 A close: PASS -> FAIL"]),
    ]
    assert [r.flaky for r in records] == [False, True, True]
    line = summary(records)
    assert line == "SOAK: 3 runs, 2 flaky, 2 infrastructure errors, 1 verdict changes"
    data = json.loads(write(tmp_path, records).read_text())
    assert data["summary"] == line and [r["flaky"] for r in data["runs"]] == [False, True, True]


def test_the_busy_loop_really_burns_cpu_and_stops() -> None:
    with BusyLoop(True) as busy:
        assert busy.proc is not None
        time.sleep(0.5)
        stat = Path(f"/proc/{busy.proc.pid}/stat").read_text().split()
        assert int(stat[13]) > 0  # utime: it ran
    assert busy.proc.poll() is not None
    with BusyLoop(False) as idle:
        assert idle.proc is None
