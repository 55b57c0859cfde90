"""orchestrator.results: guest console lines into per-domain reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.results import Crash, ParseError, StepResult, parse, parse_line, parse_result

DATA = Path(__file__).parent / "data"
PASS_LOG = DATA / "serial-interdomain-pass.log"
CASE = "interdomain-exchange"


def log_lines() -> list[str]:
    # The way `orchestrator parse` reads a saved log (the file has QEMU's \r\r\n ends).
    return PASS_LOG.read_text(errors="replace").splitlines()


def test_fixture_is_a_real_excerpt() -> None:
    text = PASS_LOG.read_text()
    assert "(XEN) " in text
    assert "DOM0-READY" in text
    assert "[g1-A] EVT DONE" in text and "[g1-B] EVT DONE" in text
    assert b"\r\n" in PASS_LOG.read_bytes()  # kept as the serial line wrote it


def test_parse_saved_log_domains_and_boot() -> None:
    reports = parse(log_lines())
    assert set(reports) == {"g1-A", "g1-B"}
    assert reports["g1-A"].boot == {"domid": "1", "xen": "4.17.7", "script": "752"}
    assert reports["g1-B"].boot == {"domid": "2", "xen": "4.17.7", "script": "710"}
    for rep in reports.values():
        assert rep.cases_begun == [CASE]
        assert rep.script_errors == []
        assert rep.crash is None


def test_parse_saved_log_counts_and_times() -> None:
    reports = parse(log_lines())
    a, b = reports["g1-A"], reports["g1-B"]
    assert a.done == (29, 0)
    assert b.done == (27, 0)
    assert a.cases_ended == {CASE: (29, 0)}
    assert b.cases_ended == {CASE: (27, 0)}
    assert a.case_us == {CASE: 953942}
    assert b.case_us == {CASE: 516014}
    # Every step the guests printed is there, and all of them passed.
    assert len(a.steps) == 29
    assert len(b.steps) == 27
    assert all(s.passed for s in a.steps + b.steps)
    assert {s.verdict for s in a.steps + b.steps} == {"PASS"}
    assert {s.case for s in a.steps + b.steps} == {CASE}


def test_parse_saved_log_steps() -> None:
    reports = parse(log_lines())
    a, b = reports["g1-A"].steps, reports["g1-B"].steps
    assert a[0] == StepResult(
        domain="g1-A",
        case=CASE,
        line=3,
        op="put",
        args=("c1-ready", "1"),
        expect="ok",
        got="ok",
        verdict="PASS",
    )
    alloc = next(s for s in a if s.op == "alloc_unbound")
    assert (alloc.line, alloc.args, alloc.expect, alloc.got) == (9, ("32752", "2"), "ok", "ok:3")
    status = next(s for s in a if s.op == "status")
    assert status.expect == "ok:unbound,dom=2"
    assert status.got == "ok:unbound,dom=2,vcpu=0"
    pp = next(s for s in a if s.op == "pingpong")
    assert pp.args == ("3", "1000", "first", "10000")
    assert (pp.expect, pp.got) == ("ok:1000", "ok:1000")
    assert [s.op for s in b if s.line == 24] == ["put", "mark", "put", "get"]
    assert b[-1].op == "put" and b[-1].args == ("c1-b17", "1")
    assert a[-1].describe() == "g1-A: status(32752, 3) expected ok:closed, got ok:closed"


def test_parse_line_ignores_other_lines() -> None:
    assert parse_line("(XEN) Xen version 4.17.7") is None
    assert parse_line("DOM0-READY kernel=6.1.0 xen=4.17.7") is None
    assert parse_line('[harness -> dom0] xl info; echo "@@RC=$?@@"') is None
    assert parse_line("[g1-A] Parsing config from /evt/g1/A.cfg") is None
    assert parse_line("EVT DONE pass=1 fail=0") is None  # not relayed: no domain prefix
    assert parse_line("[g1-A] EVT DONE pass=1 fail=0\r\r") == ("g1-A", "DONE", "pass=1 fail=0")


def test_parse_ignores_non_guest_lines() -> None:
    lines = [
        "(XEN) Panic on nothing, just text",
        "@@RC=0@@",
        "",
        "[g1-A] hello from the relay, not EVT",
        "random EVT RESULT case=x line=1 op=send args=1 expect=ok got=ok verdict=PASS",
    ]
    assert parse(lines) == {}


def test_failed_step() -> None:
    rep = parse(
        [
            "[d1] EVT RESULT case=c line=7 op=close args=5 expect=ok got=EINVAL verdict=FAIL",
            "[d1] EVT RESULT case=c line=8 op=send args=$p expect=ok got=UNDEFINED:$p verdict=FAIL",
            "[d1] EVT CASE-END c pass=0 fail=2 us=12",
            "[d1] EVT DONE pass=0 fail=2",
        ]
    )["d1"]
    assert [s.passed for s in rep.steps] == [False, False]
    assert rep.steps[0].got == "EINVAL"
    assert rep.steps[1].got == "UNDEFINED:$p"
    assert rep.done == (0, 2)
    assert rep.cases_ended == {"c": (0, 2)}


def test_empty_args() -> None:
    step = parse_result("d", "case=c line=1 op=raw args= expect=ok got=ok verdict=PASS")
    assert step.args == ()


def test_crash_line() -> None:
    rep = parse(
        [
            "[g1-B] EVT BOOT domid=2 xen=4.17.7 script=10",
            "[g1-B] EVT CRASH vec=14 page-fault err=0x2 rip=0xffffffff80001234 cr2=0x0 rsp=0x7ff0",
        ]
    )["g1-B"]
    assert rep.crash == Crash(
        domain="g1-B",
        vector=14,
        name="page-fault",
        rip="0xffffffff80001234",
        text="vec=14 page-fault err=0x2 rip=0xffffffff80001234 cr2=0x0 rsp=0x7ff0",
    )
    assert rep.done is None


def test_crash_line_without_name() -> None:
    crash = parse(["[x] EVT CRASH vec=6 err=0x0 rip=0x1000 cr2=0x0 rsp=0x0"])["x"].crash
    assert crash is not None
    assert (crash.vector, crash.name, crash.rip) == (6, "?", "0x1000")


def test_script_error() -> None:
    rep = parse(
        [
            "[g2-A] EVT BOOT domid=3 xen=4.17.7 script=99",
            "[g2-A] EVT SCRIPT-ERROR line=4 unknown op frob",
            "[g2-A] EVT SCRIPT-ERROR line=9 line too long",
            "[g2-A] EVT DONE pass=0 fail=1",
        ]
    )["g2-A"]
    assert rep.script_errors == ["line=4 unknown op frob", "line=9 line too long"]
    assert rep.steps == []
    assert rep.done == (0, 1)


@pytest.mark.parametrize(
    "rest",
    [
        "case=c line=3 op=send args=1 expect=ok got=ok",  # no verdict
        "case=c line=3 op=send args=1 expect=ok got=ok verdict=MAYBE",
        "case=c line=x3 op=send args=1 expect=ok got=ok verdict=PASS",
        "case=c op=send args=1 expect=ok got=ok verdict=PASS",  # no line
        "line=3 op=send args=1 expect=ok got=ok verdict=PASS",  # no case
        "garbage",
    ],
)
def test_malformed_result_is_kept_as_garbled(rest: str) -> None:
    with pytest.raises(ParseError, match="malformed RESULT line from g1-A"):
        parse_result("g1-A", rest)
    rep = parse([f"[g1-A] EVT RESULT {rest}", "[g1-A] EVT DONE pass=0 fail=0"])["g1-A"]
    assert rep.steps == [] and len(rep.garbled) == 1 and rep.done == (0, 0)


@pytest.mark.parametrize("rest", ["pass=1", "pass=x fail=0", ""])
def test_malformed_done_is_kept_as_garbled(rest: str) -> None:
    rep = parse([f"[g1-A] EVT DONE {rest}"])["g1-A"]
    assert rep.done is None and "bad pass/fail counts" in rep.garbled[0].message


def test_truncated_log_has_no_done() -> None:
    lines = log_lines()
    cut = next(i for i, text in enumerate(lines) if "[g1-A] EVT RESULT" in text and "op=pingpong" in text)
    reports = parse(lines[:cut])
    a = reports["g1-A"]
    assert a.done is None
    assert a.cases_begun == [CASE]
    assert a.cases_ended == {}
    assert a.case_us == {}
    assert 0 < len(a.steps) < 29
    assert reports["g1-B"].done is None


def test_two_cases_and_time_without_us() -> None:
    rep = parse(
        [
            "[d] EVT CASE-BEGIN one reset ports=2 rebound console=1 store=2",
            "[d] EVT CASE-END one pass=1 fail=0 us=10",
            "[d] EVT CASE-BEGIN two reset ports=0 rebound console=1 store=2",
            "[d] EVT CASE-END two pass=0 fail=1",
        ]
    )["d"]
    assert rep.cases_begun == ["one", "two"]
    assert rep.cases_ended == {"one": (1, 0), "two": (0, 1)}
    assert rep.case_us == {"one": 10}
