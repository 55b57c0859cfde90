"""orchestrator.results: guest console lines into per-domain reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.outcome import Outcome
from orchestrator.results import (
    Crash,
    LogError,
    ParseError,
    Rtt,
    StepResult,
    log_outcome,
    parse,
    parse_line,
    parse_result,
    parse_rtt,
    read_log,
)

DATA = Path(__file__).parent / "data"
PASS_LOG = DATA / "serial-interdomain-pass.log"
CASE = "interdomain-exchange"


def log_lines() -> list[str]:
    return read_log(PASS_LOG)  # the way `orchestrator parse` reads it (the file has QEMU's \r\r\n ends)


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


# -- strictness: every malformed line is named, none is half-read --------------

GOOD = "case=c line=3 op=send args=1 expect=ok got=ok verdict=PASS"


@pytest.mark.parametrize(
    ("rest", "why"),
    [
        (GOOD + " verdict=FAIL", "repeated field verdict"),
        ("case=c line=3 op=send args=1 expect=ok got=ok verdict=PASS line=4", "repeated field line"),
        ("case=c line=3 op=bind_inter[g1-B] EVT RESULT case=c line=4", "not a key=value field: 'EVT'"),
        ("case=c line=3 op=send args=1 expect=ok got=o", "missing field verdict"),
        ("case=c line=3 op=send", "missing fields args, expect, got, verdict"),
        ("line=3 case=c op=send args=1 expect=ok got=ok verdict=PASS", "fields out of order"),
        (GOOD + " extra=1", "unknown field extra"),
        ("case=c line=3 op= args=1 expect=ok got=ok verdict=PASS", "empty field op"),
        ("case=c line=0 op=send args=1 expect=ok got=ok verdict=PASS", "line must be a positive decimal"),
        ("case=c line=-3 op=send args=1 expect=ok got=ok verdict=PASS", "line must be a positive decimal"),
        ("case=c line=\u0663 op=send args=1 expect=ok got=ok verdict=PASS", "line must be a positive decimal"),
        ("case=c line=3 op=send args=1 expect=ok got=ok verdict=pass", "verdict must be PASS or FAIL"),
        ("", "no fields"),
    ],
)
def test_malformed_result_names_what_is_wrong(rest: str, why: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse_result("g1-A", rest)
    assert str(exc.value).startswith(f"malformed RESULT line from g1-A: {why}")


def test_a_well_formed_result_still_reads() -> None:
    assert parse_result("g1-A", GOOD).line == 3


@pytest.mark.parametrize(
    "line",
    [
        "[d] EVT DONE pass=1 fail=0 pass=2",
        "[d] EVT CASE-END c pass=1 fail=0 fail=1 us=3",
        "[d] EVT BOOT domid=1 domid=2",
    ],
)
def test_a_repeated_key_in_any_line_is_garbled_not_last_wins(line: str) -> None:
    rep = parse([line])["d"]
    assert rep.done is None and rep.cases_ended == {} and rep.boot == {}
    assert "repeated field" in rep.garbled[0].message


def test_a_two_megabyte_line_is_garbled_quickly() -> None:
    huge = f"[g1-A] EVT RESULT {GOOD} " + "x" * 2_000_000
    rep = parse(["[g1-A] EVT CASE-BEGIN c reset", huge, f"[g1-A] EVT RESULT {GOOD}"])["g1-A"]
    assert len(rep.steps) == 1
    (g,) = rep.garbled
    assert (g.lineno, g.case) == (2, "c")
    assert "2000" in g.message and len(g.message) < 400


def test_garbled_lines_keep_their_line_number_and_case() -> None:
    rep = parse(
        [
            "(XEN) something",
            "[d] EVT CASE-BEGIN one reset",
            "[d] EVT RESULT case=two line=3 op=send",  # names its case
            "[d] EVT RESULT cas",  # cut before its case: the one running
        ]
    )["d"]
    assert [(g.lineno, g.case) for g in rep.garbled] == [(3, "two"), (4, "one")]


def test_lines_after_done_and_a_second_done_are_garbled() -> None:
    rep = parse(["[d] EVT DONE pass=0 fail=0", f"[d] EVT RESULT {GOOD}", "[d] EVT DONE pass=1 fail=0"])["d"]
    assert rep.done == (0, 0) and rep.steps == []
    assert ["after EVT DONE" in g.message or "second EVT DONE" in g.message for g in rep.garbled] == [True, True]


def test_crash_vector_zero_and_failsafe() -> None:
    rep = parse(["[x] EVT CRASH vec=0 divide-error err=0 rip=1 cr2=0 rsp=0"])["x"]
    assert rep.crash is not None and rep.crash.vector == 0
    rep = parse(["[x] EVT CRASH vec=-1 FAILSAFE err=0 rip=1 cr2=0 rsp=0"])["x"]
    assert rep.crash is not None and (rep.crash.vector, rep.crash.name) == (-1, "FAILSAFE")


# -- saved logs of things going wrong, judged without their case files --------


def test_saved_log_of_a_guest_crash() -> None:
    reports = parse(read_log(DATA / "serial-guest-crash.log"))
    rep = reports["g1-Crash"]
    assert rep.crash is not None and rep.crash.vector == 14 and rep.crash.rip == "ffffffff80003a1c"
    assert rep.cases_begun == ["selftest-guest-crash"] and rep.done is None
    outcome, problems = log_outcome(reports)
    # Nothing else to read: the crash alone would be "no results"; the crash is what counts.
    assert outcome is Outcome.CRASH
    assert any(p.outcome is Outcome.CRASH and "rip=ffffffff80003a1c" in p.text for p in problems)


def test_saved_log_of_a_script_error() -> None:
    reports = parse(read_log(DATA / "serial-script-error.log"))
    rep = reports["g1-A"]
    assert rep.script_errors == ["line=3 unknown op frob", "line=4 bad number 12x"]
    assert rep.done == (0, 0) and rep.steps == []
    outcome, problems = log_outcome(reports)
    assert outcome is Outcome.ERROR
    assert any("script error: line=3 unknown op frob" in p.text for p in problems)


def test_saved_log_with_garbled_lines() -> None:
    lines = read_log(DATA / "serial-garbled.log")
    reports = parse(lines)
    a, b = reports["g1-A"], reports["g1-B"]
    assert [s.line for s in a.steps] == [9] and [s.line for s in b.steps] == [18]
    assert [g.lineno for g in b.garbled] == [next(i for i, t in enumerate(lines, 1) if "bind_inter[" in t)]
    assert "not a key=value field" in b.garbled[0].message and b.garbled[0].case == "interdomain-exchange"
    assert "missing field verdict" in a.garbled[0].message
    outcome, problems = log_outcome(reports)
    assert outcome is Outcome.ERROR
    assert sorted(p.lineno for p in problems if p.lineno) == sorted(g.lineno for g in a.garbled + b.garbled)
    # DONE says more steps passed than could be read: said, not hidden.
    assert any("EVT DONE counts 3 passed" in p.text for p in problems)


def test_saved_pass_log_is_a_pass() -> None:
    assert log_outcome(parse(log_lines())) == (Outcome.PASS, [])


def test_no_results_at_all_is_an_error() -> None:
    outcome, problems = log_outcome(parse(["(XEN) Xen version 4.17.7", "DOM0-READY"]))
    assert outcome is Outcome.ERROR and "no guest RESULT lines" in problems[0].text


def test_a_domain_without_done_is_an_error() -> None:
    lines = log_lines()
    outcome, problems = log_outcome(parse(lines[: next(i for i, t in enumerate(lines) if "[g1-A] EVT DONE" in t)]))
    assert outcome is Outcome.ERROR
    assert [p.text for p in problems] == [
        f"g1-{d}: no EVT DONE (the guest stopped, or the log is cut)" for d in ("A", "B")
    ]


def test_a_failed_step_is_a_fail() -> None:
    lines = [
        "[d] EVT RESULT case=c line=7 op=close args=5 expect=ok got=EINVAL verdict=FAIL",
        "[d] EVT DONE pass=0 fail=1",
    ]
    assert log_outcome(parse(lines)) == (Outcome.FAIL, [])


def test_read_log_refuses_what_is_not_a_log(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot read: No such file"):
        read_log(tmp_path / "absent.log")
    with pytest.raises(LogError, match="cannot read: Is a directory"):
        read_log(tmp_path)
    binary = tmp_path / "vmlinuz"
    binary.write_bytes(b"MZ\x00\x01\x02" * 100)
    with pytest.raises(LogError, match="binary file"):
        read_log(binary)
    odd = tmp_path / "odd.log"
    odd.write_bytes(b"\xff\xfe[d] EVT DONE pass=0 fail=0\r\r\n")
    assert read_log(odd)[0] == "\ufffd\ufffd[d] EVT DONE pass=0 fail=0"


# -- EVT RTT ----------------------------------------------------------------------

RTT = "case=rtt-same-vcpu line=17 n=2000 early=1 min_ns=9000 median_ns=12000 p99_ns=40000 max_ns=900000"


def test_rtt_lines_are_collected_per_domain_in_order() -> None:
    rep = parse(
        [
            "[g1-A] EVT CASE-BEGIN rtt-same-vcpu reset",
            f"[g1-A] EVT RTT {RTT}",
            "[g1-A] EVT RTT case=rtt-cross-vcpu line=30 n=1 early=0 min_ns=5 median_ns=5 p99_ns=5 max_ns=5\r\r",
        ]
    )["g1-A"]
    assert rep.garbled == []
    assert rep.rtts == [
        Rtt("g1-A", "rtt-same-vcpu", 17, 2000, 1, 9000, 12000, 40000, 900000),
        Rtt("g1-A", "rtt-cross-vcpu", 30, 1, 0, 5, 5, 5, 5),
    ]


@pytest.mark.parametrize(
    ("rest", "why"),
    [
        ("", "no fields"),
        (RTT + " n=3", "repeated field n"),
        (RTT.replace("line=17 n=2000", "n=2000 line=17"), "fields out of order"),
        (RTT.replace(" p99_ns=40000", ""), "missing field p99_ns"),
        (RTT + " extra=1", "unknown field extra"),
        (RTT.replace("case=rtt-same-vcpu", "case="), "empty field case"),
        (RTT.replace("n=2000", "n=0"), "n must be a positive decimal"),
        (RTT.replace("line=17", "line=x"), "line must be a positive decimal"),
        (RTT.replace("median_ns=12000", "median_ns=-1"), "median_ns must be a decimal"),
        (RTT.replace("early=1", "early=x"), "early must be a decimal"),
        (RTT.replace("max_ns=900000", "max_ns=\u0663"), "max_ns must be a decimal"),
        (RTT.replace("median_ns=12000", "median_ns=50000"), "times out of order"),
        ("case=c line=1 n=1 early=0 min_ns 1", "not a key=value field"),
    ],
)
def test_malformed_rtt_names_what_is_wrong(rest: str, why: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse_rtt("g1-A", rest)
    assert str(exc.value).startswith(f"malformed RTT line from g1-A: {why}")


def test_a_malformed_rtt_line_is_garbled_in_its_case() -> None:
    rep = parse(["[d] EVT CASE-BEGIN one reset", f"[d] EVT RTT {RTT} min_ns=1"])["d"]
    assert rep.rtts == []
    (g,) = rep.garbled
    assert (g.lineno, g.case) == (2, "rtt-same-vcpu") and "repeated field min_ns" in g.message


def test_an_rtt_line_after_done_is_garbled() -> None:
    rep = parse(["[d] EVT DONE pass=0 fail=0", f"[d] EVT RTT {RTT}"])["d"]
    assert rep.rtts == [] and "after EVT DONE" in rep.garbled[0].message


def test_read_log_refuses_devices_and_fifos_without_reading_them(tmp_path: Path) -> None:
    # /dev/zero never ends and a FIFO without a writer never answers: neither is opened for reading.
    with pytest.raises(LogError, match=r"^/dev/zero: not a regular file \(a character device\)$"):
        read_log(Path("/dev/zero"))
    fifo = tmp_path / "serial.log"
    os.mkfifo(fifo)
    with pytest.raises(LogError, match=r"serial.log: not a regular file \(a FIFO\)$"):
        read_log(fifo)


def test_read_log_refuses_a_log_past_its_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.results.MAX_LOG", 1 << 20)
    big = tmp_path / "big.log"
    big.write_bytes(b"(XEN) x\n" * (1 << 17) + b"more")
    with pytest.raises(LogError, match=r"big.log: too large: 1048580 bytes, more than 1 MiB"):
        read_log(big)


def test_read_log_counts_lines_at_newlines_only(tmp_path: Path) -> None:
    # QEMU's \r\r\r\n is one line end; \x0c, \x1c, NEL and U+2028 in Xen's output end no line.
    log = tmp_path / "serial.log"
    odd = "b \x0c \x1c \x0b \x85 \u2028 c"
    log.write_bytes(f"a\r\r\r\n{odd}\r\r\r\n\r\r\r\n[d] EVT DONE pass=0 fail=0\r\r\r\ntail".encode())
    lines = read_log(log)
    assert lines == ["a", odd, "", "[d] EVT DONE pass=0 fail=0", "tail"]
    assert parse(lines)["d"].done == (0, 0)
