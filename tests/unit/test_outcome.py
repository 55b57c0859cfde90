"""Outcomes: their order, how a case gets one, and what `orchestrator parse` exits with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import errors
from orchestrator.cases.parse import parse_file
from orchestrator.cases.plan import Group
from orchestrator.cli import main
from orchestrator.outcome import EXIT_CODES, Outcome, worst
from orchestrator.report import write_reports
from orchestrator.results import CaseResult, GroupResult, Problem, parse

DATA = Path(__file__).parent / "data"

CASES = """case one
domains A B
source  somewhere
A send 1 -> EINVAL
B send 2 -> EINVAL

case two
domains A B
source  somewhere
A send 3 -> EINVAL
"""


def test_order_is_xtfs_with_crash_worst() -> None:
    assert sorted(Outcome, reverse=True) == [Outcome.CRASH, Outcome.FAIL, Outcome.ERROR, Outcome.SKIP, Outcome.PASS]
    assert worst([]) is Outcome.PASS
    assert worst([Outcome.ERROR, Outcome.FAIL, Outcome.PASS]) is Outcome.FAIL


def test_exit_codes_are_distinct_and_clear_of_python_and_argparse() -> None:
    codes = [o.exit_code for o in Outcome]
    assert codes == [0, 3, 4, 5, 6] and EXIT_CODES[Outcome.PASS] == 0
    assert not {1, 2, 130, 143} & set(codes)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (errors.GuestCrashed, Outcome.CRASH),
        (errors.XenPanic, Outcome.CRASH),
        (errors.GuestSilent, Outcome.ERROR),
        (errors.GuestDied, Outcome.ERROR),
        (errors.DomainCreateFailed, Outcome.ERROR),
        (errors.MachineDied, Outcome.ERROR),
        (errors.Dom0NotReady, Outcome.ERROR),
        (errors.SetupError, Outcome.ERROR),
    ],
)
def test_harness_errors_map_to_error_or_crash(error: type[errors.HarnessError], outcome: Outcome) -> None:
    assert error("x").outcome is outcome


def _line(step: int, case: str, verdict: str = "PASS", dom: str = "g1-A") -> str:
    return f"[{dom}] EVT RESULT case={case} line={step} op=send args=1 expect=EINVAL got=EINVAL verdict={verdict}"


def _group(tmp_path: Path) -> Group:
    path = tmp_path / "c.evt"
    path.write_text(CASES)
    cases = parse_file(path)
    return Group(1, cases[0].config, tuple(cases))


def test_a_case_gets_worse_never_better(tmp_path: Path) -> None:
    case = _group(tmp_path).cases[0]
    res = CaseResult(case, 1)
    assert res.outcome is Outcome.ERROR  # no result at all is not a pass
    res.steps = parse([_line(4, "one")])["g1-A"].steps
    assert res.passed
    res.problems.append(Problem(Outcome.ERROR, "lost a line"))
    assert res.outcome is Outcome.ERROR and not res.passed
    res.steps += parse([_line(5, "one", "FAIL", "g1-B")])["g1-B"].steps
    assert res.outcome is Outcome.FAIL
    res.problems.append(Problem(Outcome.CRASH, "guest crashed"))
    assert res.outcome is Outcome.CRASH


def test_a_group_error_goes_to_the_cases_it_kept_from_finishing(tmp_path: Path) -> None:
    group = _group(tmp_path)
    a = [
        "[g1-A] EVT CASE-BEGIN one reset",
        _line(4, "one"),
        "[g1-A] EVT CASE-END one pass=1 fail=0 us=5",
        "[g1-A] EVT CASE-BEGIN two reset",
        "[g1-A] EVT CRASH vec=14 page-fault err=0 rip=1234 cr2=0 rsp=0",
    ]
    b = ["[g1-B] EVT CASE-BEGIN one reset", _line(5, "one", dom="g1-B"), "[g1-B] EVT CASE-END one pass=1 fail=0"]
    result = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]})
    result.error = errors.GuestCrashed("g1-A (domid 1) crashed at rip=1234")
    one, two = result.case_results()
    assert one.outcome is Outcome.PASS and one.problems == []
    assert two.outcome is Outcome.CRASH
    texts = [p.text for p in two.problems]
    assert "A began the case but never ended it" in texts
    assert "guest crashed: g1-A (domid 1) crashed at rip=1234" in texts
    assert any(t.startswith("A: guest crashed: vec=14") for t in texts)
    assert "no result for line 10 (A send)" in texts


def test_an_error_after_every_case_ended_goes_to_all(tmp_path: Path) -> None:
    group = _group(tmp_path)
    a = [
        "[g1-A] EVT CASE-BEGIN one reset",
        _line(4, "one"),
        "[g1-A] EVT CASE-END one pass=1 fail=0",
        "[g1-A] EVT CASE-BEGIN two reset",
        _line(10, "two"),
        "[g1-A] EVT CASE-END two pass=1 fail=0",
    ]
    b = ["[g1-B] EVT CASE-BEGIN one reset", _line(5, "one", dom="g1-B"), "[g1-B] EVT CASE-END one pass=1 fail=0"]
    b += ["[g1-B] EVT CASE-BEGIN two reset", "[g1-B] EVT CASE-END two pass=0 fail=0"]
    result = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]})
    result.error = errors.GuestDied("g1-A: printed DONE (2, 0) but shut down with reboot")
    assert [r.outcome for r in result.case_results()] == [Outcome.ERROR, Outcome.ERROR]


def test_a_garbled_line_is_a_problem_of_its_case_only(tmp_path: Path) -> None:
    group = _group(tmp_path)
    a = [
        "[g1-A] EVT CASE-BEGIN one reset",
        _line(4, "one"),
        "[g1-A] EVT CASE-END one pass=1 fail=0",
        "[g1-A] EVT CASE-BEGIN two reset",
        "[g1-A] EVT RESULT case=two line=10 op=se(XEN) cut",
        "[g1-A] EVT CASE-END two pass=1 fail=0",
    ]
    b = ["[g1-B] EVT CASE-BEGIN one reset", _line(5, "one", dom="g1-B"), "[g1-B] EVT CASE-END one pass=1 fail=0"]
    one, two = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]}).case_results()
    assert one.outcome is Outcome.PASS
    assert two.outcome is Outcome.ERROR
    assert [p.lineno for p in two.problems] == [5, 0]  # the line, then the step it leaves without a result


def test_a_barrier_that_timed_out_is_the_harnesss_error_not_a_fail(tmp_path: Path) -> None:
    """Soak run 33: a barrier's get timed out (a peer late on a busy host) while every step
    of the case passed. That is no answer of Xen's: ERROR, with the barrier named."""
    group = _group(tmp_path)
    barrier = "[g1-B] EVT RESULT case=one line=5 op=get args=0,g1c1-b1,120000 expect=ok got=ETIMEDOUT verdict=FAIL"
    a = ["[g1-A] EVT CASE-BEGIN one reset", _line(4, "one"), "[g1-A] EVT CASE-END one pass=1 fail=0"]
    b = [
        "[g1-B] EVT CASE-BEGIN one reset",
        barrier,
        _line(5, "one", dom="g1-B"),
        "[g1-B] EVT CASE-END one pass=1 fail=1",
    ]
    one, _ = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]}).case_results()
    assert one.outcome is Outcome.ERROR
    assert any(
        "get(0, g1c1-b1, 120000) gave ETIMEDOUT" in p.text and "not an answer of Xen's" in p.text for p in one.problems
    )
    # A failing step of the case itself is still the case's FAIL.
    b[2] = _line(5, "one", "FAIL", dom="g1-B")
    one, _ = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]}).case_results()
    assert one.outcome is Outcome.FAIL


def test_report_counts_cases_per_outcome(tmp_path: Path) -> None:
    group = _group(tmp_path)
    a = ["[g1-A] EVT CASE-BEGIN one reset", _line(4, "one", "FAIL"), "[g1-A] EVT CASE-END one pass=0 fail=1"]
    b = ["[g1-B] EVT CASE-BEGIN one reset", _line(5, "one", dom="g1-B"), "[g1-B] EVT CASE-END one pass=1 fail=0"]
    results = GroupResult(group, reports={"A": parse(a)["g1-A"], "B": parse(b)["g1-B"]}).case_results()
    json_path, md_path = write_reports(tmp_path, {}, results)
    data = json.loads(json_path.read_text())
    assert data["summary"]["case_outcomes"] == {"PASS": 0, "SKIP": 0, "ERROR": 1, "FAIL": 1, "CRASH": 0}
    assert data["summary"]["outcome"] == "FAIL"
    assert [c["outcome"] for c in data["cases"]] == ["FAIL", "ERROR"]
    assert data["cases"][1]["problems"][0] == {"outcome": "ERROR", "text": "no result for line 10 (A send)"}
    md = md_path.read_text()
    assert "| FAIL | 1 |" in md and "| ERROR | 1 |" in md
    assert "- `two`: **ERROR** no result for line 10 (A send)" in md


# -- `orchestrator parse`: never a traceback, the worst outcome as exit code ---


@pytest.mark.parametrize(
    ("log", "code"),
    [
        ("serial-interdomain-pass.log", 0),
        ("serial-guest-crash.log", 6),
        ("serial-script-error.log", 4),
        ("serial-garbled.log", 4),
    ],
)
def test_parse_exits_with_the_worst_outcome(log: str, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / log)]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(("PASS:", "CRASH:", "ERROR:")[[0, 6, 4].index(code)])


def test_parse_names_each_bad_line_by_file_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    log = DATA / "serial-garbled.log"
    main(["parse", str(log)])
    captured = capsys.readouterr()
    lines = log.read_bytes().split(b"\n")  # as grep -n counts them: QEMU's \r\r\n is one line end
    spliced = next(i for i, t in enumerate(lines, 1) if b"bind_inter[" in t)
    assert f"{log}:{spliced}: ERROR: g1-B: malformed RESULT line from g1-B: not a key=value field" in captured.err
    assert "  ???  g1-B" in captured.out  # the exchange shows it too, in its place


def test_parse_of_a_failing_log(tmp_path: Path) -> None:
    log = tmp_path / "fail.log"
    log.write_text(_line(4, "one", "FAIL") + "\n[g1-A] EVT DONE pass=0 fail=1\n")
    assert main(["parse", str(log)]) == Outcome.FAIL.exit_code


@pytest.mark.parametrize(("destroyed", "code"), [("3", Outcome.PASS), ("4", Outcome.ERROR), (None, Outcome.ERROR)])
def test_parse_forgives_the_missing_done_of_a_domain_a_case_destroyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], destroyed: str | None, code: Outcome
) -> None:
    """g1-B (domid 3) stops without DONE: as Dom0's `destroy 3` meant it to, or lost."""
    op = f"destroy args={destroyed}" if destroyed else "send args=1"
    step = f"[g1-Dom0] EVT RESULT case=c line=9 op={op} expect=ok got=ok verdict=PASS"
    log = tmp_path / "destroyed.log"
    log.write_text(
        "\n".join(
            [
                "[g1-B] EVT BOOT domid=3 xen=4.17.7 script=793 vcpus=1 low-1m=unmapped periodic-timer=off",
                "[g1-B] EVT RESULT case=c line=8 op=send args=1 expect=EINVAL got=EINVAL verdict=PASS",
                step,
                "[g1-Dom0] EVT DONE pass=1 fail=0",
                "",
            ]
        )
    )
    assert main(["parse", str(log)]) == code.exit_code
    assert ("g1-B: no EVT DONE" in capsys.readouterr().err) is (code is Outcome.ERROR)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"(XEN) Xen version 4.17.7\r\r\nDOM0-READY\r\r\n",
        b"[g1-A] EVT RESULT " + b"x" * 2_000_000 + b"\n",
        (b"[g1-A] EVT RESULT case=c line=3 op=send args=1 expect=ok got=ok verdict=PASS verdict=FAIL\n"),
    ],
)
def test_parse_without_a_readable_result_is_an_error(tmp_path: Path, content: bytes) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(content)
    assert main(["parse", str(log)]) == Outcome.ERROR.exit_code


def test_parse_of_what_is_not_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(tmp_path / "absent.log")]) == 2
    assert "absent.log: cannot read" in capsys.readouterr().err
    assert main(["parse", str(tmp_path)]) == 2
    binary = tmp_path / "xen.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00" * 10)
    assert main(["parse", str(binary)]) == 2
    assert "binary file" in capsys.readouterr().err
