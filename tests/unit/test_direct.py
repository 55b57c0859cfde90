"""orchestrator.direct: which cases run with our guest as Xen's dom0, and how they are
booted and read (no QEMU here; `run --direct` boots them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import direct
from orchestrator.cases.model import Case
from orchestrator.cases.parse import parse_file
from orchestrator.cases.plan import plan
from orchestrator.runner import xen_config_text


def one(tmp_path: Path, text: str) -> Case:
    path = tmp_path / "c.evt"
    path.write_text(text)
    (case,) = parse_file(path)
    return case


@pytest.mark.parametrize(
    ("head", "why"),
    [
        ("domains A\n", None),
        ("domains A\nvcpus 2\n", None),  # dom0_max_vcpus
        ("domains A B\n", "only a case of domain A alone"),
        ("domains A Dom0\n", "only a case of domain A alone"),
        ("domains A\nirqs 7\n", "only xl grants"),
        ("domains A\nmax_event_channels 4\n", "only xl sets"),
    ],
)
def test_only_a_case_of_domain_a_with_xls_defaults_runs_as_dom0(tmp_path: Path, head: str, why: str | None) -> None:
    case = one(tmp_path, f"case c\n{head}A send 1 -> EBADF\n")
    got = direct.refusal(case)
    assert got is None if why is None else why in (got or "")


def test_a_fuzz_case_of_one_domain_runs_as_dom0_and_one_with_a_dom0_actor_does_not(tmp_path: Path) -> None:
    assert direct.refusal(one(tmp_path, "case f\ndomains A\nfresh\nA fuzz 1 100 -> ok 0\n")) is None
    actor = one(tmp_path, "case f\ndomains A Dom0\nfresh\nA fuzz_with 1 100 0 -> ok 0\nDom0 chaos 1 100 @A -> ok\n")
    assert "only a case of domain A alone" in (direct.refusal(actor) or "")


def test_a_names_domain_0_in_the_script_and_nothing_else_changes(tmp_path: Path) -> None:
    case = one(
        tmp_path, "case c\ndomains A\nA alloc_unbound self @A -> ok => p\nA status self $p -> ok unbound dom=@A\n"
    )
    (group,) = plan([case], fresh=True)
    text = direct.script(group)
    assert "@A" not in text
    assert "alloc_unbound self 0 -> ok => p" in text and "dom=0" in text


def test_the_command_line_gives_dom0_little_memory_and_the_cases_vcpus() -> None:
    base = xen_config_text("xen.cmdline")
    line = direct.xen_cmdline(base, vcpus=2)
    assert direct.DOM0_MEM in line and line.count("dom0_mem=") == 1
    assert "dom0_max_vcpus=2" in line.split() and line.count("dom0_max_vcpus=") == 1
    assert "dom0_max_vcpus=1" in direct.xen_cmdline(base).split()  # not dom0's own 2 (xen.cmdline)
    untouched = {w for w in base.split() if not w.startswith(("dom0_mem=", "dom0_max_vcpus="))}
    assert untouched <= set(line.split())


def test_the_guests_lines_are_read_as_a_relays_and_a_panic_is_the_groups_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.console import Line
    from orchestrator.errors import XenPanic
    from orchestrator.outcome import Outcome

    case = one(tmp_path, "case c\ndomains A\nA send 1 -> EBADF\n")
    (group,) = plan([case], fresh=True)
    said = [
        "(XEN) Xen version 4.17.7",
        "EVT BOOT domid=0 xen=4.17.7 script=3 vcpus=1 low-1m=unmapped periodic-timer=off",
        "EVT CASE-BEGIN c reset ports=0 rebound console=none store=none abi=2l cleaned=none",
        "EVT RESULT case=c line=3 op=send args=1 expect=EBADF got=EBADF verdict=PASS",
        "EVT CASE-END c pass=1 fail=0 us=10",
        "EVT DONE pass=1 fail=0",
    ]
    lines = [Line(i, 0.0, t) for i, t in enumerate(said)]
    monkeypatch.setattr(direct, "boot", lambda *a, **k: direct.Boot(lines, 1.0, None))
    res = direct.run_case(None, tmp_path, "", group, tmp_path)  # type: ignore[arg-type]
    (cr,) = res.case_results()
    assert cr.outcome is Outcome.PASS and [s.got for s in cr.steps] == ["EBADF"]
    assert res.reports["A"].boot["xen"] == "4.17.7"

    panic = XenPanic("Xen panic: (XEN) Panic on CPU 0: FATAL TRAP")
    monkeypatch.setattr(direct, "boot", lambda *a, **k: direct.Boot(lines[:4], 1.0, panic))
    res = direct.run_case(None, tmp_path, "", group, tmp_path)  # type: ignore[arg-type]
    assert res.error is panic and res.case_results()[0].outcome is Outcome.CRASH
