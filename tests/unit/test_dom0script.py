"""dom0script: the privileged domain's steps, through a fake dom0 shell and a fake evtchn-op.

Only public behaviour is used: a case file compiled as the runner compiles it, the
script run, and the RESULT lines it prints read back by the results parser.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.cases import DOM0, compile_group, load, plan
from orchestrator.dom0script import Dom0Script
from orchestrator.domain import xs_path
from orchestrator.results import DomainReport, StepResult, parse

from .fakes import FakeDom0Shell, make_dom0

ERRNOS = {1: "EPERM", 2: "ENOENT", 3: "ESRCH", 22: "EINVAL"}
DOMID_SELF = 0x7FF0
A_ID = 1

CASE = """case priv
domains A Dom0
source  somewhere

Dom0 alloc_unbound self @A  -> ok => p
A bind_interdomain @Dom0 $p -> ok => q
Dom0 status self $p         -> ok interdomain dom=@A port=$q
Dom0 status self $p         -> ok interdomain dom=@A port=99
Dom0 close 1000             -> EINVAL
Dom0 close 1000             -> ESRCH
Dom0 status @A 4096         -> ok
"""


class FakeTool:
    """`/evt/evtchn-op` as dom0/evtchn-op.c prints: rc=<n> and the op's fields."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, words: list[str]) -> str:
        self.calls.append(words)
        op, args = words[0], [int(a) for a in words[1:]]
        if op == "alloc_unbound":
            return "rc=0 port=5"
        if op == "status" and args[1] == 5:
            return f"rc=0 status=interdomain dom={A_ID} port=7 vcpu=0"
        if op == "status":
            return "rc=-22"
        if op == "close":
            return "rc=0" if args[0] == 5 else "rc=-22"
        return "rc=-38"


def _run(tmp_path: Path) -> tuple[DomainReport, FakeDom0Shell, FakeTool]:
    path = tmp_path / "p.evt"
    path.write_text(CASE)
    (group,) = plan(load([path]))
    scripts = compile_group(group)
    tool = FakeTool()
    shell = FakeDom0Shell(tool=tool)
    # A stands in through what it publishes: every `put` of its script, its port $q = 7.
    for key, value in re.findall(r"^\d+ put (\S+) (\S+)$", scripts["A"], re.M):
        shell.xenstore[xs_path(A_ID, "pub", key)] = "7" if value == "$q" else value
    dom0 = make_dom0(shell)
    script = Dom0Script(dom0, "g1-Dom0", {"A": A_ID, DOM0: 0}, ERRNOS, DOMID_SELF)
    script.prepare()
    script.run(scripts[DOM0])
    return parse([ln.text for ln in dom0.console.lines])["g1-Dom0"], shell, tool


def _own(rep: DomainReport) -> list[StepResult]:
    return [s for s in rep.steps if s.op not in ("put", "get")]


def test_steps_report_in_the_guests_format(tmp_path: Path) -> None:
    rep, _, tool = _run(tmp_path)
    assert rep.garbled == [] and rep.cases_begun == ["priv"]
    steps = _own(rep)
    assert [(s.line, s.op, s.args, s.expect, s.got, s.verdict) for s in steps] == [
        (5, "alloc_unbound", (str(DOMID_SELF), "1"), "ok", "ok:5", "PASS"),
        # $q came from A through xenstore; status fields beyond the expected ones are fine.
        (
            7,
            "status",
            (str(DOMID_SELF), "5"),
            "ok:interdomain,dom=1,port=7",
            "ok:interdomain,dom=1,port=7,vcpu=0",
            "PASS",
        ),
        (
            8,
            "status",
            (str(DOMID_SELF), "5"),
            "ok:interdomain,dom=1,port=99",
            "ok:interdomain,dom=1,port=7,vcpu=0",
            "FAIL",
        ),
        (9, "close", ("1000",), "EINVAL", "EINVAL", "PASS"),
        (10, "close", ("1000",), "ESRCH", "EINVAL", "FAIL"),
        (11, "status", ("1", "4096"), "ok", "EINVAL", "FAIL"),
    ]
    assert ["alloc_unbound", str(DOMID_SELF), "1"] in tool.calls


def test_counts_and_the_ports_it_opened_are_closed_at_the_end(tmp_path: Path) -> None:
    rep, _, tool = _run(tmp_path)
    steps = rep.steps
    passed, failed = sum(s.passed for s in steps), sum(not s.passed for s in steps)
    assert rep.cases_ended == {"priv": (passed, failed)} and rep.done == (passed, failed) and failed == 3
    assert tool.calls[-1] == ["close", "5"]  # its own port, after the last step


def test_publishes_for_the_guests_and_waits_for_them(tmp_path: Path) -> None:
    _, shell, _ = _run(tmp_path)
    assert shell.commands[0].startswith(f"xenstore-rm {xs_path(0, 'pub')}")
    # $p travels to A through dom0's own pub folder.
    assert shell.xenstore[xs_path(0, "pub", "c1-v-p")] == "5"
    assert any(c.startswith(f"xenstore-read {xs_path(A_ID, 'pub', 'c1-v-q')}") for c in shell.commands)


def test_an_undefined_variable_fails_its_step_without_running_it(tmp_path: Path) -> None:
    tool = FakeTool()
    dom0 = make_dom0(FakeDom0Shell(tool=tool))
    script = Dom0Script(dom0, "g1-Dom0", {DOM0: 0}, ERRNOS, DOMID_SELF)
    script.run("case c\n4 close $nope -> ok\nend\n")
    rep = parse([ln.text for ln in dom0.console.lines])["g1-Dom0"]
    assert [(s.got, s.verdict) for s in rep.steps] == [("UNDEFINED:$nope", "FAIL")]
    assert tool.calls == []
