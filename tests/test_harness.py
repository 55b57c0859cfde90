"""The harness checks itself on the real machine: failures must be caught and named."""

from __future__ import annotations

import re
import subprocess
from itertools import pairwise

import pytest

from orchestrator import fuzz
from orchestrator.cases.plan import Group
from orchestrator.errors import Dom0ChannelLost, Dom0CommandFailed
from orchestrator.outcome import Outcome
from orchestrator.pipeline import BUILD, load_cases, prepare, run_all
from orchestrator.report import failure_message
from orchestrator.results import GroupResult, parse
from orchestrator.runner import ROOT, Session

from .conftest import XenRun

# In a machine of its own: the panic ends it (tests/test_harness.py, the last test).
PANIC = ROOT / "tests" / "selftest" / "machine" / "xen-panic.evt"


@pytest.mark.cases("selftest-wrong-expectation")
def test_wrong_expectation_is_reported(xen_run: XenRun) -> None:
    res = xen_run.results["selftest-wrong-expectation"]
    assert res.outcome is Outcome.FAIL, "a deliberately wrong expectation was not reported as a failure"
    failed = [s for s in res.steps if not s.passed]
    assert [(s.op, s.args, s.expect) for s in failed] == [("close", ("1000",), "ESRCH")]
    # Xen's answer, whatever it is, is not the wrong one the case asked for.
    assert failed[0].got != "ESRCH"
    msg = failure_message(res, xen_run.console_of(res))
    wanted = ("selftest-wrong-expectation", failed[0].domain, "close(1000)", "expected ESRCH", f"got {failed[0].got}")
    for part in wanted:
        assert part in msg, f"{part!r} missing from the failure message:\n{msg}"
    # The rest of the case still ran and passed: one failure does not hide the others.
    assert all(s.passed for s in res.steps if s not in failed)


@pytest.mark.cases("selftest-wrong-expectation")
def test_guests_shut_down_with_their_verdict(xen_run: XenRun) -> None:
    """Each guest printed DONE and its SCHEDOP_shutdown reason agrees (checked by the runner)."""
    lines = xen_run.lines()
    done = [t for t in lines if " EVT DONE " in t]
    assert len(done) >= 2, f"expected a DONE line from each guest, saw {done}"
    assert not [r for r in xen_run.results.values() if any("shut down with" in p.text for p in r.problems)]


def assert_no_qemu_left(sessions: list[Session], after: str) -> None:
    machines = [m for session in sessions for m in session.machines]
    assert machines, "no machine ran"
    for machine in machines:
        pid = machine.pid
        out = subprocess.run(["ps", "-o", "pid=", "-p", str(pid)], capture_output=True, text=True).stdout
        assert not out.strip(), f"QEMU (pid {pid}) still runs after {after}"


def test_no_qemu_left_behind_by_the_session(xen_run: XenRun) -> None:
    assert_no_qemu_left(xen_run.sessions, "its session ended")


@pytest.mark.cases("selftest-guest-crash")
def test_guest_crash_is_reported_with_rip(xen_run: XenRun) -> None:
    res = xen_run.results["selftest-guest-crash"]
    assert res.outcome is Outcome.CRASH, res.outcome
    problems = "\n".join(p.text for p in res.problems)
    assert "guest crashed" in problems and "rip=" in problems, problems
    assert "vec=14" in problems, f"expected a page fault report:\n{problems}"
    assert "cr2=0 " in problems, f"expected the fault at address 0 (low memory unmapped):\n{problems}"


@pytest.mark.cases("selftest-guest-dies")
def test_a_domain_that_stops_mid_run_is_named_with_its_reason(xen_run: XenRun) -> None:
    res = xen_run.results["selftest-guest-dies"]
    assert res.outcome is Outcome.ERROR, res.outcome
    problems = "\n".join(p.text for p in res.problems)
    assert "guest domain died mid-run" in problems and "stopped before `EVT DONE`: poweroff" in problems, problems
    # Named by the liveness check within seconds, not at its case's timeout.
    assert "guest silent past its timeout" not in problems, problems


@pytest.mark.cases("selftest-guest-silent", "selftest-leak-mask-left")
def test_silent_guest_is_reported_and_session_goes_on(xen_run: XenRun) -> None:
    res = xen_run.results["selftest-guest-silent"]
    assert res.outcome is Outcome.ERROR, res.outcome
    problems = "\n".join(p.text for p in res.problems)
    assert "guest silent past its timeout" in problems, problems
    assert "last lines of the serial log" in problems
    # Every group after a broken one still ran (groups run in case order).
    last = max(g.index for s in xen_run.sessions for g in s.groups)
    assert any(f"[g{last}-" in text and " EVT BOOT " in text for text in xen_run.lines())


@pytest.mark.cases("selftest-guest-slow")
def test_a_slow_guest_that_keeps_printing_is_not_silent(xen_run: XenRun) -> None:
    res = xen_run.results["selftest-guest-slow"]
    # Its steps take about 3 times its budget: waited for, as on a busy host.
    assert res.outcome is Outcome.PASS, "\n".join(p.text for p in res.problems)
    assert len(res.steps) == 6 and all(s.verdict == "PASS" for s in res.steps), res.steps


# tests/selftest/leaks.evt: each pair's first case leaves state its twin must not see.
LEAKS = {"mask": "masked", "timer": "timer", "hold": "hold", "fifo": "fifo"}
CASE_BEGIN = re.compile(r"^\[(g\d+)-Leak\] EVT CASE-BEGIN (\S+) .* cleaned=(\S+)$")


@pytest.mark.cases(*(f"selftest-leak-{what}-{half}" for what in LEAKS for half in ("left", "fresh")))
def test_each_case_starts_clean_whatever_ran_before(xen_run: XenRun, pytestconfig: pytest.Config) -> None:
    for what in LEAKS:
        for half in ("left", "fresh"):
            res = xen_run.results[f"selftest-leak-{what}-{half}"]
            assert res.passed, failure_message(res, xen_run.console_of(res))
    begins = [m.groups() for text in xen_run.lines() if (m := CASE_BEGIN.match(text))]
    adjacent = 0
    for (dom, prev, _), (same, case, cleaned) in pairwise(begins):
        if dom != same:
            continue  # in fresh domains: nothing ran before it
        for what, token in LEAKS.items():
            if (prev, case) == (f"selftest-leak-{what}-left", f"selftest-leak-{what}-fresh"):
                adjacent += 1
                assert token in [
                    c.split(":")[0] for c in cleaned.split(",")
                ], f"{case} ran right after {prev} but CASE-BEGIN says cleaned={cleaned}, expected {token}"
    if not pytestconfig.getoption("fresh") and pytestconfig.getoption("order") == "file":
        # In file order each pair runs back to back in one domain: the clean-up was really needed.
        assert adjacent == len(LEAKS), f"only {adjacent} leak pair(s) ran back to back: {begins}"


def test_a_xen_panic_is_named_with_its_message_and_trace(pytestconfig: pytest.Config) -> None:
    """A real panic (an NMI, fatal by nmi=fatal), in a machine of its own: nothing after it
    could run on that one. Named as a crash, with Xen's words, and QEMU is gone."""
    arts, guest = prepare(pytestconfig.getoption("xen"))
    out = BUILD / "test-run" / "xen-panic"
    run = run_all(arts, guest, load_cases(arts, [PANIC]), out)
    (res,) = run.results
    assert res.outcome is Outcome.CRASH, res.outcome
    problems = "\n".join(p.text for p in res.problems)
    assert "Xen panicked: Xen panic: (XEN) Panic on CPU 0: FATAL TRAP: vec 2, NMI" in problems, problems
    assert "(XEN) Xen call trace:" in problems, f"Xen's stack trace is missing:\n{problems}"
    # What ran before the panic still counts.
    assert [(s.op, s.passed) for s in res.steps] == [("alloc_unbound", True)]
    assert_no_qemu_left(run.sessions, "Xen panicked")


def test_a_fuzz_campaign_counts_a_xen_panic_and_goes_on_in_a_new_machine(pytestconfig: pytest.Config) -> None:
    """Seed 2's domain has Dom0 send the panic key while both its vcpus fuzz: the campaign
    names the crash with Xen's message and each vcpu's last operations, read out of the
    machine's memory, and seed 3 still runs, on a machine of its own."""

    def text(seed: int, ops: int, vcpus: int, abi: str, domains: int) -> str:
        case = fuzz.case_text(seed, ops, vcpus, abi, domains)
        if seed != 2:
            return case
        # A short run first (its FUZZ-RING line names the same pages), then one that is
        # still going when Dom0's key lands.
        busy = f"A fuzz {seed} {ops} -> ok 0\nA fuzz {seed} 20000000 -> ok 0 &\nDom0 debug_key 0x4e -> ok\n\n"
        return case.replace("domains A\n", "domains A Dom0\n").replace(f"A fuzz {seed} {ops} -> ok 0\n\n", busy)

    arts, guest = prepare(pytestconfig.getoption("xen"))
    campaign = fuzz.run_campaign(arts, guest, [1, 2, 3], 2000, BUILD / "test-run" / "fuzz-panic", vcpus=2, text=text)
    assert [seed for seed, _ in campaign.crashes] == [2], campaign.crashes
    crash = campaign.crashes[0][1]
    assert "Panic on CPU 0: FATAL TRAP" in crash, crash
    assert sorted(r.seed for r in campaign.runs) == [1, 2, 3]  # seed 2's short run finished before the panic
    for vcpu in (0, 1):
        assert f"vcpu {vcpu} (fuzzing when Xen went down), its last 16 operation(s):" in crash, crash
        ops = [int(m[1]) for m in re.finditer(rf"^FUZZ-LAST vcpu={vcpu} op=(\d+) \w+\(", crash, re.M)]
        assert ops == list(range(ops[0], ops[0] + 16)), ops
    assert (campaign.mismatches, campaign.errors) == (0, [])
    assert campaign.summary("1-3").endswith("0 mismatches, 1 Xen crashes, seed 1-3")
    assert list((BUILD / "test-run" / "fuzz-panic").glob("machine-*")) != []


@pytest.mark.cases("fuzz-seed-3-two-vcpus", "fuzz-seed-4-fifo-two-vcpus")
def test_two_vcpus_send_on_each_others_shared_ports(xen_run: XenRun) -> None:
    """The fuzz cases with two vcpus race sends against their owners' binds, moves and
    closes: Xen took some of those sends, on 2-level and on FIFO."""
    runs = {r.seed: r for rep in parse(xen_run.lines()).values() for r in rep.fuzz if r.seed in (3, 4)}
    assert sorted(runs) == [3, 4], runs
    for run in runs.values():
        assert run.vcpus == 2 and run.raced > 0, run


def test_a_dead_agent_costs_one_group_and_the_rest_run_on_a_new_machine(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dom0's agent is killed as group 2 begins: group 2 is an ERROR that says so, the
    machine is not driven on, and groups 3 and 4 run on a new one and pass. On that one, a
    command that stalls past its deadline is killed and the next answered."""
    arts, guest = prepare(pytestconfig.getoption("xen"))
    files = [ROOT / "cases" / f for f in ("close.evt", "send.evt", "status.evt", "unmask.evt")]
    seen: dict[str, object] = {}
    run_group = Session._run_group

    def meddling(self: Session, group: Group, upcoming: list[Group]) -> GroupResult:
        assert self.dom0 is not None
        if group.index == 2:
            self.dom0.spawn("kill -9 $(pidof evt-agent)")
        if group.index == 3:
            with pytest.raises(Dom0CommandFailed, match=r"no answer within 2s \(killed\)"):
                self.dom0.run("sleep 300; echo never", timeout=2)
            seen["after stall"] = self.dom0.run("echo answered; pidof sleep || echo no-sleep-left")
        return run_group(self, group, upcoming)

    monkeypatch.setattr(Session, "_run_group", meddling)
    run = run_all(arts, guest, load_cases(arts, files), BUILD / "test-run" / "agent-killed", fresh=True)
    by_group = {g.group.index: g for g in run.groups}
    assert sorted(by_group) == [1, 2, 3, 4]
    lost = by_group[2].error
    assert isinstance(lost, Dom0ChannelLost), lost
    assert "dom0's agent died: DOM0-FAILED: agent exited" in str(lost)
    assert [r.outcome for r in by_group[2].case_results()] == [Outcome.ERROR]
    for i in (1, 3, 4):
        assert by_group[i].error is None and all(r.passed for r in by_group[i].case_results()), by_group[i].error
    (session,) = run.sessions
    assert len(session.machines) == 2 and session.replaced == [lost]
    assert seen["after stall"] == "answered\nno-sleep-left"
    assert run.outcome is Outcome.ERROR  # the verdict says a group was lost, whatever else passed
    assert_no_qemu_left(run.sessions, "the agent was killed")
