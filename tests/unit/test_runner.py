"""runner.Session.run_group when things go wrong: every failure ends up in the result, named.

No QEMU: the session gets a dom0 whose shell is tests/unit/fakes.py's FakeDom0Shell.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator import agent, baseline, domain, initramfs, runner
from orchestrator.artifacts import Artifacts
from orchestrator.cases.model import DOM0, LINUX, Config
from orchestrator.cases.parse import load
from orchestrator.cases.plan import Group, plan
from orchestrator.console import Line
from orchestrator.errors import DomainCreateFailed, GuestCrashed, GuestDied, GuestSilent, HarnessError, XenPanic
from orchestrator.outcome import Outcome
from orchestrator.results import CaseResult, GroupResult
from orchestrator.runner import Session

from .fakes import Answer, FakeChannel, FakeDom0Shell, FakeGuest, make_dom0, write_headers

CASES = """case first
domains A B
timeout 1
source  somewhere
A alloc_unbound self @B -> ok => p
B send 1                -> EINVAL

case second
domains Solo
timeout 1
source  somewhere
Solo send 1 -> EINVAL
"""


def _result(case: str, line: int, op: str, args: str, got: str = "EINVAL", verdict: str = "PASS") -> str:
    expect = "ok" if op == "alloc_unbound" else "EINVAL"
    return f"EVT RESULT case={case} line={line} op={op} args={args} expect={expect} got={got} verdict={verdict}"


def _passing(case: str, lines: list[str], done: tuple[int, int]) -> list[str]:
    return [
        "EVT BOOT domid=1 xen=4.17.7 script=10 vcpus=1 periodic-timer=off",
        f"EVT CASE-BEGIN {case} reset ports=2 rebound console=1 store=2 abi=2l",
        *lines,
        f"EVT CASE-END {case} pass={done[0]} fail={done[1]} us=10",
        f"EVT DONE pass={done[0]} fail={done[1]}",
    ]


A_OK = _passing("first", [_result("first", 5, "alloc_unbound", "32752,2", got="ok:3")], (1, 0))
B_OK = _passing("first", [_result("first", 6, "send", "1")], (1, 0))
SOLO_OK = _passing("second", [_result("second", 12, "send", "1")], (1, 0))


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real budgets are for TCG; the fakes answer at once.
    monkeypatch.setattr(runner, "GROUP_BOOT_S", 0.0)
    monkeypatch.setattr(domain, "ALIVE_CHECK_S", 0.2)


def _session(tmp_path: Path, shell: FakeDom0Shell, cases: str = CASES) -> Session:
    path = tmp_path / "c.evt"
    path.write_text(cases)
    include = write_headers(tmp_path / "include")
    arts = Artifacts("bookworm", tmp_path / "xen", tmp_path / "vmlinuz", tmp_path, include, tmp_path, {})
    session = Session(arts, tmp_path / "evtchn-guest", plan(load([path])), tmp_path / "out")
    session.dom0 = make_dom0(shell)  # instead of booting: __enter__ is not called
    return session


def _run(tmp_path: Path, guests: dict[str, FakeGuest]) -> tuple[Session, FakeDom0Shell, list[GroupResult]]:
    shell = FakeDom0Shell(guests)
    session = _session(tmp_path, shell)
    return session, shell, session.run_groups(session.groups)


def ran(shell: FakeDom0Shell, part: str) -> bool:
    """Whether a command line dom0 got holds `part` (the runner joins steps into one line)."""
    return any(part in c for c in shell.commands)


def unpausing(shell: FakeDom0Shell, name: str) -> str:
    """The start of the command that unpauses a group whose first domain is `name`."""
    return f"/evt/evtchn-op --unpause {shell.domids[name]}"


def _cases(results: list[GroupResult]) -> dict[str, CaseResult]:
    return {r.case.name: r for g in results for r in g.case_results()}


def test_all_pass(tmp_path: Path) -> None:
    _, shell, results = _run(
        tmp_path, {"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert [g.error for g in results] == [None, None]
    assert {n: r.outcome for n, r in _cases(results).items()} == {"first": Outcome.PASS, "second": Outcome.PASS}
    # Each domain learns every domain's id under the harness's xenstore folder.
    assert shell.xenstore["/local/domain/1/data/evtchn-test/dom/B"] == "2", shell.xenstore
    assert shell.xenstore["/local/domain/2/data/evtchn-test/dom/A"] == "1", shell.xenstore
    # Ended domains cost only memory: no `xl destroy` on the way (ENDED_KEPT).
    assert not any("xl destroy" in c for c in shell.commands), shell.commands
    # g2's domain was made while g1's guests ran, before its group began.
    create_solo = next(i for i, c in enumerate(shell.commands) if c.startswith("sh /evt/create g2 "))
    unpause_g1 = next(i for i, c in enumerate(shell.commands) if c.startswith(unpausing(shell, "g1-A")))
    done_g1 = next(i for i, c in enumerate(shell.commands) if "xl-g1-A.log" in c)  # its shutdown reasons
    assert unpause_g1 < create_solo < done_g1


RACING = """case racing
domains A
vcpus 2
timeout 1
source  somewhere
A fuzz 3 10 -> ok 0

case after
domains Solo
timeout 1
source  somewhere
Solo send 1 -> EINVAL
"""


def test_nothing_is_created_beside_a_group_that_fuzzes_on_every_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guest fuzzing on both of the machine's cpus has them to itself: the next group's
    domains are made once it is over, not beside it (Session._races_alone). Such groups
    run last, so the others' domains are made beside the others."""
    fuzzed = _result("racing", 6, "fuzz", "3,10", got="ok:0").replace("expect=EINVAL", "expect=ok:0")
    again = _result("racing-again", 20, "fuzz", "3,10", got="ok:0").replace("expect=EINVAL", "expect=ok:0")
    after = _passing("after", [_result("after", 12, "send", "1")], (1, 0))
    shell = FakeDom0Shell(
        {
            "g1-A": FakeGuest(_passing("racing", [fuzzed], (1, 0))),
            "g2-Solo": FakeGuest(after),
            "g3-A": FakeGuest(_passing("racing-again", [again], (1, 0))),
        }
    )
    second = "\ncase racing-again\ndomains A\nvcpus 2\nfresh\ntimeout 1\nsource  somewhere\nA fuzz 3 10 -> ok 0\n"
    session = _session(tmp_path, shell, RACING + second)
    seen: list[str] = []
    waited = domain.Domain.wait_done
    started = Session._start_create

    def wait_done(self: domain.Domain, *args: object, **kwargs: object) -> object:
        seen.append(f"waited {self.name}")
        return waited(self, *args, **kwargs)  # type: ignore[arg-type]

    def start_create(self: Session, group: Group, *args: object) -> object:
        seen.append(f"create g{group.index}")
        return started(self, group, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(domain.Domain, "wait_done", wait_done)
    monkeypatch.setattr(Session, "_start_create", start_create)
    results = session.run_groups(session.groups)
    assert [g.group.index for g in results] == [1, 2, 3]  # in the order given
    assert [g.error for g in results] == [None, None, None]
    assert {n: r.outcome for n, r in _cases(results).items()} == {
        "racing": Outcome.PASS,
        "after": Outcome.PASS,
        "racing-again": Outcome.PASS,
    }
    # Group 2 first; beside it group 1, and none past it; beside group 1, nothing.
    assert seen == ["create g2", "create g1", "waited g2-Solo", "waited g1-A", "create g3", "waited g3-A"]
    # Nor is the last group's shutdown read in dom0 beside a racing one: before it starts.
    for last, racing in (("g2-Solo", "g1-A"), ("g1-A", "g3-A")):
        read = next(i for i, c in enumerate(shell.commands) if f"xl-{last}.log" in c)
        assert read < next(i for i, c in enumerate(shell.commands) if c.startswith(unpausing(shell, racing)))
    # Made ahead of a racing group, but no further: they would be under way beside it.
    assert session._beside(session.groups[1], session.groups) == session.groups[:1]
    # With twice the cpus, one is left over: the next group is made beside it, as usual.
    session.qemu = replace(session.qemu, smp=4)
    assert not session._races_alone(session.groups[0])


def test_ended_domains_are_destroyed_once_there_are_many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "ENDED_KEPT", 1)
    _, shell, results = _run(
        tmp_path, {"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert [g.error for g in results] == [None, None]
    # Once g2 runs, g1's first is one past the limit; the rest are left to the machine's end.
    assert ran(shell, "xl destroy g1-A 2>&1")
    assert not ran(shell, "xl destroy g1-B 2>&1") and not ran(shell, "xl destroy g2-Solo 2>&1")


def test_first_create_fails_and_the_report_still_comes(tmp_path: Path) -> None:
    session, shell, results = _run(tmp_path, {"g1-A": FakeGuest(create_rc=3), "g2-Solo": FakeGuest(SOLO_OK)})
    first = results[0]
    assert isinstance(first.error, DomainCreateFailed)
    assert "exited 3" in str(first.error) and "out of memory" in str(first.error)
    assert set(first.reports) == {"A", "B"} and first.reports["B"].steps == []  # B was never created
    res = _cases(results)
    assert res["first"].outcome is Outcome.ERROR
    assert any("xl create failed" in p.text for p in res["first"].problems)
    # Nothing was left running, and the next group did not notice.
    assert ran(shell, "xl destroy g1-A 2>&1")
    assert session.lost is None and res["second"].outcome is Outcome.PASS


def test_second_create_fails_after_the_first_succeeded(tmp_path: Path) -> None:
    _, shell, results = _run(tmp_path, {"g1-B": FakeGuest(create_rc=1), "g2-Solo": FakeGuest(SOLO_OK)})
    assert isinstance(results[0].error, DomainCreateFailed)
    # The one that was created is gone again, before its relay is stopped (a write to a
    # pipe nobody reads would kill xenconsoled).
    destroy = next(c for c in shell.commands if "xl destroy g1-A 2>&1" in c)
    assert "kill $(cat /run/relay-g1-A.pid)" in destroy.partition("xl destroy g1-A 2>&1")[2]


def test_guest_crash_is_a_crash_of_its_case_only(tmp_path: Path) -> None:
    crash = [*A_OK[:2], "EVT CRASH vec=14 page-fault err=0 rip=ffffffff80003a1c cr2=0 rsp=0"]
    _, _, results = _run(
        tmp_path, {"g1-A": FakeGuest(crash, reason=3), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert isinstance(results[0].error, GuestCrashed)
    res = _cases(results)
    assert res["first"].outcome is Outcome.CRASH
    assert any("rip=ffffffff80003a1c" in p.text for p in res["first"].problems)
    assert res["second"].outcome is Outcome.PASS


def test_silent_guest_is_an_error(tmp_path: Path) -> None:
    _, _, results = _run(
        tmp_path, {"g1-A": FakeGuest(A_OK[:2], reason=None), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert isinstance(results[0].error, GuestSilent)
    res = _cases(results)
    assert res["first"].outcome is Outcome.ERROR
    assert res["first"].steps[0].op == "send"  # what B said still counts
    assert res["second"].outcome is Outcome.PASS


def test_domain_that_dies_before_done(tmp_path: Path) -> None:
    _, _, results = _run(
        tmp_path, {"g1-A": FakeGuest(A_OK[:2], reason=3), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert isinstance(results[0].error, GuestDied)
    assert "stopped before `EVT DONE`: crash (the guest faulted)" in str(results[0].error)
    assert _cases(results)["first"].outcome is Outcome.ERROR


def test_a_preserved_domain_that_stopped_is_judged_once_its_console_closes(tmp_path: Path) -> None:
    # Its console stays open while it is kept: the alive check destroys it, xenconsoled
    # closes the console, and the relay's last line says every line of it is in.
    _, shell, results = _run(
        tmp_path,
        {"g1-A": FakeGuest(A_OK[:2], reason=0, preserved=True), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)},
    )
    assert isinstance(results[0].error, GuestDied), results[0].error
    assert "stopped before `EVT DONE`: poweroff (all passed)" in str(results[0].error)
    assert "xl destroy g1-A 2>&1" in shell.commands


def test_shutdown_reason_must_agree_with_done(tmp_path: Path) -> None:
    _, _, results = _run(
        tmp_path, {"g1-A": FakeGuest(A_OK, reason=1), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert isinstance(results[0].error, GuestDied)
    msg = str(results[0].error)
    assert "shut down with reboot (a step failed), expected poweroff (all passed)" in msg
    assert _cases(results)["first"].outcome is Outcome.ERROR


def test_xen_panic_mid_group_reaches_every_later_group(tmp_path: Path) -> None:
    panic = [*A_OK[:2], "(XEN) ****************************************", "(XEN) Panic on CPU 0:"]
    session, shell, results = _run(
        tmp_path, {"g1-A": FakeGuest(panic, reason=None), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    assert isinstance(results[0].error, XenPanic) and session.lost is results[0].error
    assert results[1].error is session.lost
    res = _cases(results)
    assert res["first"].outcome is Outcome.CRASH and res["second"].outcome is Outcome.CRASH
    assert not ran(shell, "xl create -p /evt/g2/")  # no use trying


def test_a_harness_bug_is_an_error_of_its_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: domain.Domain, *args: object, **kwargs: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(domain.Domain, "wait_done", broken)
    session, _, results = _run(tmp_path, {"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK)})
    assert isinstance(results[0].error, HarnessError)
    assert "harness bug in group 1: KeyError('oops')" in str(results[0].error)
    assert session.lost is None
    assert all(r.outcome is Outcome.ERROR for r in _cases(results).values())


def test_progress_counts_a_known_failure_as_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline, "CASES", tmp_path)  # baseline lines name the project's cases only
    path = tmp_path / "c.evt"
    path.write_text("case k\ndomains A\nsource s\nA close 1000 -> EINVAL\nA close 2000 -> EINVAL\n")
    (group,) = plan(load([path]))
    known = {("c.evt:4", "A", "EINVAL", "EBUSY")}
    progress = runner.Progress(group, known)
    lines = [
        "[g1-A] EVT RESULT case=k line=4 op=close args=1000 expect=EINVAL got=EBUSY verdict=FAIL",
        "[g1-A] EVT RESULT case=k line=5 op=close args=2000 expect=EINVAL got=EINVAL verdict=PASS",
        "[g1-A] EVT CASE-END k pass=1 fail=1 us=10",
    ]
    for i, text in enumerate(lines):
        progress(Line(i, 0.0, text))
    assert "k: pass (1 known)" in capsys.readouterr().err


class Unanswered(FakeDom0Shell):
    """dom0 that never answers the first command beginning with `prefix` (a creation that
    hangs, as on the slow host); every other command as usual."""

    def __init__(self, prefix: str, guests: dict[str, FakeGuest]) -> None:
        super().__init__(guests)
        self.prefix, self.held = prefix, False

    def __call__(self, command: str) -> Answer:
        if command.startswith(self.prefix) and not self.held:
            self.held = True
            self.commands.append(command)
            return None
        return super().__call__(command)


def test_a_creation_ahead_that_never_answers_is_killed_and_made_again(tmp_path: Path) -> None:
    """As on the slow host: group 2's domains, made ahead, got no answer. The request is
    killed in dom0 (not left to answer later), its half-made domains destroyed, and the
    group makes them again in its turn and passes; group 1 never waited for it."""

    shell = Unanswered(
        "sh /evt/create g2 ", {"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)}
    )
    session = _session(tmp_path, shell)
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None]
    assert _cases(results)["second"].outcome is Outcome.PASS
    creates = [c for c in shell.commands if c.startswith("sh /evt/create g2 ")]
    assert len(creates) == 2 and ran(shell, "xl destroy g2-Solo 2>&1")
    assert session.dom0 is not None and isinstance(session.dom0.channel, FakeChannel)
    assert any(kind == agent.KILL for kind, _ in session.dom0.channel.requests)  # killed in dom0


def test_a_bad_baseline_is_refused_as_the_session_is_made_before_any_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "baselines"
    folder.mkdir()
    (folder / "4.17.txt").write_bytes(b"# known\nfifo.evt:214 A expected=ok:1 got=ok:2  # caf\xe9\n")
    monkeypatch.setattr(baseline, "BASELINES", folder)
    booted: list[str] = []
    monkeypatch.setattr(Session, "_start", lambda self: booted.append("boot"))
    with pytest.raises(baseline.BaselineError, match=r"baselines/4\.17\.txt:2: not UTF-8 text"):
        _session(tmp_path, FakeDom0Shell())
    assert booted == []


def test_the_xens_baseline_is_the_one_read_before_the_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "baselines"
    folder.mkdir()
    (folder / "4.17.txt").write_text("first.evt:5 A expected=ok got=EBUSY  # why\n")
    monkeypatch.setattr(baseline, "BASELINES", folder)
    monkeypatch.setattr(baseline, "CASES", tmp_path)
    (tmp_path / "first.evt").write_text(CASES)
    session = _session(tmp_path, FakeDom0Shell())
    (folder / "4.17.txt").write_text("not read again\n")  # the run keeps what it checked
    path = baseline.path_for("4.17.7")  # as __enter__ looks it up once Xen says its version
    assert path is not None and [k.where for k in session.baselines[path]] == ["first.evt:5"]


def test_an_alive_check_dom0_is_slow_to_answer_is_no_error_of_the_guest(tmp_path: Path) -> None:
    """The slow host's fuzz group: dom0, starved, did not answer `xl list` within 60 s and the
    group was failed for it. An alive check is asked without waiting; unanswered, the guest's
    own budget is what ends the wait, and it is named for what it is."""

    class Starved(FakeDom0Shell):
        def __call__(self, command: str) -> Answer:
            if "echo listed=$?" in command:
                self.commands.append(command)
                return None  # dom0 never gets round to it
            return super().__call__(command)

    silent = SOLO_OK[:-1]  # no DONE
    shell = Starved({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(silent, reason=None)})
    session = _session(tmp_path, shell)
    results = session.run_groups(session.groups)
    assert results[0].error is None
    assert isinstance(results[1].error, GuestSilent), results[1].error
    assert any("echo listed=$?" in c for c in shell.commands)  # it was asked
    assert session.lost is None


def test_dom0s_script_starts_before_its_guests_are_unpaused(tmp_path: Path) -> None:
    """Its steps wait for the guests' at the rendezvous anyway: started first, evtchn-op's own
    start is not one more wait for the guests' first case."""
    cases = "case priv\ndomains A Dom0\ntimeout 1\nsource  somewhere\nDom0 send 1 -> EINVAL\nA send 1 -> EINVAL\n"
    a_ok = _passing("priv", [_result("priv", 6, "send", "1")], (1, 0))
    dom0_lines = ["EVT CASE-BEGIN priv", _result("priv", 5, "send", "1"), "EVT CASE-END priv pass=1 fail=0 us=5"]
    shell = FakeDom0Shell({"g1-A": FakeGuest(a_ok), "g1-Dom0": FakeGuest([*dom0_lines, "EVT DONE pass=1 fail=0"])})
    session = _session(tmp_path, shell, cases)
    (result,) = session.run_groups(session.groups)
    assert result.error is None and _cases([result])["priv"].outcome is Outcome.PASS
    script = next(i for i, c in enumerate(shell.commands) if c.startswith("/evt/evtchn-op g1-Dom0 "))
    unpause = next(i for i, c in enumerate(shell.commands) if c.startswith(unpausing(shell, "g1-A")))
    assert script < unpause


def test_later_groups_are_made_ahead_each_after_the_one_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While group 1 (one domain) runs, dom0 is asked for groups 2 and 3 (CREATE_AHEAD_GROUPS):
    in one stream, group 3's creation is sent only once group 2's has ended (Dom0.begin_after),
    so dom0 runs them one after the other and the next group's are never slowed by a later one's."""
    monkeypatch.setattr(runner, "CREATE_STREAMS", 1)

    cases = "".join(
        f"case {name}\ndomains {dom}\nvcpus {vcpus}\ntimeout 1\nsource  somewhere\n{dom} send 1 -> EINVAL\n\n"
        for name, dom, vcpus in (("first", "One", 1), ("second", "Solo", 2), ("third", "Trio", 3))
    )
    shell = Unanswered(
        "sh /evt/create g2 ",
        {
            f"g{i}-{dom}": FakeGuest(_passing(name, [_result(name, 6 + 7 * (i - 1), "send", "1")], (1, 0)))
            for i, (name, dom) in enumerate((("first", "One"), ("second", "Solo"), ("third", "Trio")), 1)
        },
    )
    session = _session(tmp_path, shell, cases)
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None, None]
    assert session.dom0 is not None and isinstance(session.dom0.channel, FakeChannel)
    sent = [c for _, c in session.dom0.channel.requests if "/evt/create g3 " in c]
    # Chained to group 2's, which never answered: not sent then; group 3 made its own.
    assert sent[0].startswith("(never sent) sh /evt/create g3 ") and len(sent) == 2
    assert _cases(results)["third"].outcome is Outcome.PASS


def test_fewer_groups_are_made_beside_domains_that_meet_through_xenstore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group 1 (A B) meets through xenstore: only CREATE_AHEAD_BESIDE_XENSTORE groups are made
    beside it: one, group 2, not group 3 (Session._beside); xenstored would serve the
    creations' transactions before its guests."""
    third = "\ncase third\ndomains Trio\nvcpus 2\ntimeout 1\nsource  somewhere\nTrio send 1 -> EINVAL\n"
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    shell.guests["g3-Trio"] = FakeGuest(_passing("third", [_result("third", 19, "send", "1")], (1, 0)))
    session = _session(tmp_path, shell, CASES + third)
    assert [g.index for g in session._beside(session.groups[0], session.groups[1:])] == [2]
    monkeypatch.setattr(runner, "CREATE_AHEAD_BESIDE_XENSTORE", 2)
    assert [g.index for g in session._beside(session.groups[0], session.groups[1:])] == [2, 3]
    monkeypatch.setattr(runner, "CREATE_AHEAD_BESIDE_XENSTORE", 1)
    assert [g.index for g in session._beside(session.groups[1], session.groups[2:])] == [3]
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None, None]
    create_g3 = next(i for i, c in enumerate(shell.commands) if c.startswith("sh /evt/create g3 "))
    unpause_g2 = next(i for i, c in enumerate(shell.commands) if c.startswith(unpausing(shell, "g2-Solo")))
    assert create_g3 > unpause_g2  # asked for only once group 2 runs


LINUX_GROUPS = "".join(
    f"case {name}\ndomains A Linux\n{extra}timeout 1\nsource  somewhere\nA send 1 -> EINVAL\nLinux send 1 -> EINVAL\n\n"
    for name, extra in (("first", ""), ("two-vcpus", "vcpus 2\n"), ("again", "fresh\n"))
)


def _linux_session(tmp_path: Path, standby: bool) -> tuple[Session, FakeDom0Shell]:
    shell = FakeDom0Shell(
        {
            f"g{i}-{role}": FakeGuest(_passing(name, [_result(name, line, "send", "1")], (1, 0)))
            for i, name in enumerate(("first", "two-vcpus", "again"), 1)
            for role, line in (("A", 6 + 8 * (i - 1) + (i > 1)), ("Linux", 7 + 8 * (i - 1) + (i > 1)))
        }
    )
    session = _session(tmp_path, shell, LINUX_GROUPS)
    session._standbys = [runner.LINUX_STANDBY.name] if standby else []
    return session, shell


def test_the_first_linux_group_of_the_standbys_config_takes_it(tmp_path: Path) -> None:
    """The Linux peer standing by in the machine (Session._stand_by) is taken by the first
    group with a Linux peer of its config, once: one of two vcpus, and a later group, boot their own."""
    session, shell = _linux_session(tmp_path, standby=True)
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None, None]
    assert shell.standby_taken == ["g1-Linux"]
    taking = f"sh /evt/create g1 data/evtchn-test A Linux@{runner.LINUX_STANDBY.name}"
    assert any(c.startswith(taking) for c in shell.commands)
    for g in ("g2", "g3"):
        assert any(c.startswith(f"sh /evt/create {g} data/evtchn-test A Linux") for c in shell.commands)
    # The standby's domain learns every id as a created one does.
    linux = shell.domids["g1-Linux"]
    assert shell.xenstore[f"/local/domain/{linux}/data/evtchn-test/dom/A"] == str(shell.domids["g1-A"])


def test_with_no_standby_every_linux_group_boots_its_own(tmp_path: Path) -> None:
    session, shell = _linux_session(tmp_path, standby=False)
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None, None]
    assert shell.standby_taken == []


def test_the_standby_guests_are_as_many_of_each_config_as_the_suite_has() -> None:
    """runner.GUEST_STANDBY_CONFIGS, against the project's cases planned as a run plans them: a
    config the suite gains is made at every run until a standby of it is added, and one no case
    uses any more would cost the saved machine 16 MiB and dom0 a creation for nothing."""
    groups = plan(load(sorted((runner.ROOT / "cases").glob("*.evt"))))
    have: dict[Config, int] = {}
    for g in groups:
        for role in g.config.domains:
            if role not in (DOM0, LINUX):
                shape = replace(g.config, domains=("A",))
                have[shape] = have.get(shape, 0) + 1
    assert have == runner.GUEST_STANDBY_CONFIGS


def test_guests_take_the_standbys_that_fit_and_xl_keeps_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's guest becomes a standby of its config, if one is left (create.sh ROLE@NAME);
    the rest are made. xl still knows a taken one by its own name: destroyed by that."""
    monkeypatch.setattr(runner, "ENDED_KEPT", 0)
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    session = _session(tmp_path, shell)
    first = runner.GUEST_STANDBYS[0]
    assert first.config == Config(("A",))
    two_vcpus = next(sb for sb in runner.GUEST_STANDBYS if sb.config.vcpus == 2)
    session._standbys = [runner.LINUX_STANDBY.name, two_vcpus.name, first.name]
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None]
    assert shell.standby_taken == ["g1-A"]
    assert any(c.startswith(f"sh /evt/create g1 data/evtchn-test A@{first.name} B") for c in shell.commands)
    assert any(c.startswith("sh /evt/create g2 data/evtchn-test Solo") for c in shell.commands)
    assert session._standbys == [runner.LINUX_STANDBY.name, two_vcpus.name]
    assert ran(shell, f"xl destroy {first.name} 2>&1")
    assert not ran(shell, "xl destroy g1-A")


def test_a_standby_a_group_made_ahead_could_not_take_is_destroyed_and_its_domain_made(tmp_path: Path) -> None:
    """Session._finish_parked: g2's creation ahead failed as it took a standby (create.sh gave
    it no script); that standby is destroyed by its xl name, and g2's domain is made anew."""
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    session = _session(tmp_path, shell)
    first, second, third = (sb.name for sb in runner.GUEST_STANDBYS[:3])
    session._standbys = [first, second, third]
    shell.take_fails = {third}
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None]
    assert shell.standby_taken == ["g1-A", "g1-B"]
    creates = [c for c in shell.commands if c.startswith("sh /evt/create g2 ")]
    assert [c.split()[4] for c in creates] == [f"Solo@{third}", "Solo"]
    assert ran(shell, f"xl destroy {third} 2>&1")
    assert session._standbys == []


def test_a_run_that_counts_coverage_takes_no_standby(tmp_path: Path) -> None:
    """Xen's work to make a domain is counted as the cases' (Session._take_standbys)."""
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    session = _session(tmp_path, shell)
    session.coverage = True
    session._read_coverage = lambda group: None  # type: ignore[method-assign]
    session._standbys = [sb.name for sb in runner.STANDBYS]
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None]
    assert shell.standby_taken == []


def test_a_script_too_long_for_xenstore_goes_to_a_domain_made_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "STANDBY_SCRIPT_MAX", 10)
    shell = FakeDom0Shell({"g1-A": FakeGuest(A_OK), "g1-B": FakeGuest(B_OK), "g2-Solo": FakeGuest(SOLO_OK)})
    session = _session(tmp_path, shell)
    session._standbys = [sb.name for sb in runner.GUEST_STANDBYS]
    results = session.run_groups(session.groups)
    assert [g.error for g in results] == [None, None]
    assert shell.standby_taken == []


class Standby(FakeDom0Shell):
    """dom0 whose xen-config/standby.sh answers `rc`, and whose peer then says `said`."""

    def __init__(self, rc: int, said: str) -> None:
        super().__init__()
        self.rc, self.said = rc, said

    def answer_one(self, command: str) -> tuple[list[str], int, list[str]]:
        name = runner.LINUX_STANDBY.name
        if command == f"sh {initramfs.BASE_DIR}/standby {name}":
            return (
                [f"@@STANDBY {name} 1"] if not self.rc else ["xl: error"],
                self.rc,
                [f"({name}) EVT NOTE linux-peer: {self.said}"],
            )
        return super().answer_one(command)


@pytest.mark.parametrize(
    ("rc", "said", "stands_by"),
    [(0, "standing by", True), (0, "/modules/load-order: No such file or directory", False), (1, "", False)],
)
def test_a_standby_that_does_not_come_up_is_destroyed(tmp_path: Path, rc: int, said: str, stands_by: bool) -> None:
    """Session._stand_by: a peer that says it stands by is paused and kept for the saved
    machine; one that says anything else, or whose creation fails, is destroyed with its
    relay, and every Linux group boots its own."""
    shell = Standby(rc, said)
    session = _session(tmp_path, shell, LINUX_GROUPS)
    session._stand_by(guests=False)
    name = runner.LINUX_STANDBY.name
    assert ran(shell, f"xl pause {name}") is stands_by
    assert ran(shell, f"xl destroy {name}") is not stands_by
    relay = f"/run/relay-{name}.pid"
    assert ran(shell, f"kill $(cat {relay})") is not stands_by
    assert ran(shell, f"rm -f {relay}") is not stands_by
    assert ran(shell, f"rm -f {runner.STANDBY_DIR}/{name}") is not stands_by


class StandbyGuests(FakeDom0Shell):
    """dom0 whose xen-config/standby.sh makes every guest it is asked for but `fails`; with
    `hangs`, it never answers."""

    def __init__(self, fails: str, hangs: bool = False) -> None:
        super().__init__()
        self.fails, self.hangs = fails, hangs

    def __call__(self, command: str) -> Answer:
        if self.hangs and command.startswith(f"sh {initramfs.BASE_DIR}/standby -p "):
            self.commands.append(command)
            return None
        return super().__call__(command)

    def answer_one(self, command: str) -> tuple[list[str], int, list[str]]:
        words = command.split()
        if words[:3] == ["sh", f"{initramfs.BASE_DIR}/standby", "-p"]:
            made = [f"@@STANDBY {name} {i}" for i, name in enumerate(words[3:], 1) if name != self.fails]
            failed = self.fails in words[3:]
            return [*made, *(["libxl: error: out of memory"] if failed else [])], int(failed), []
        return super().answer_one(command)


def test_every_standby_guest_is_made_and_one_that_is_not_is_destroyed(tmp_path: Path) -> None:
    """Session._stand_by_guests: all of GUEST_STANDBYS, half of them by each of two commands
    at once; one whose creation failed is destroyed with its relay, and nothing else is."""
    lost = runner.GUEST_STANDBYS[3].name
    shell = StandbyGuests(lost)
    session = _session(tmp_path, shell)
    assert session._stand_by_guests()
    asked = [c.split()[3:] for c in shell.commands if c.startswith(f"sh {initramfs.BASE_DIR}/standby -p ")]
    assert len(asked) == 2
    assert sorted(n for names in asked for n in names) == sorted(sb.name for sb in runner.GUEST_STANDBYS)
    destroyed = [c for c in shell.commands if "xl destroy" in c]
    assert len(destroyed) == 1
    assert f"xl destroy {lost} 2>&1" in destroyed[0]
    assert f"kill $(cat /run/relay-{lost}.pid)" in destroyed[0]
    assert f"rm -f {runner.STANDBY_DIR}/{lost}" in destroyed[0]


def test_standby_guests_dom0_does_not_finish_making_leave_the_machine_unsaved(tmp_path: Path) -> None:
    """It may still be making them: nothing is destroyed under it, and _boot_cold saves nothing."""
    shell = StandbyGuests("", hangs=True)
    session = _session(tmp_path, shell)
    assert session._stand_by_guests() is False
    assert not ran(shell, "xl destroy")


def test_a_standby_guests_buffer_holds_the_longest_script_it_is_given() -> None:
    """runner.STANDBY_SCRIPT_MAX against the guest's buffer (guest/script.h) and the chunk
    script_fetch() needs room for (script/script_core.h), as the C headers say them."""
    header = (runner.ROOT / "guest" / "script.h").read_text()
    m = re.search(r"#define SCRIPT_STORE_MAX \((\d+) << (\d+)\)", header)
    assert m is not None
    store = int(m.group(1)) << int(m.group(2))
    m = re.search(r"#define SCRIPT_CHUNK (\d+)", (runner.ROOT / "script" / "script_core.h").read_text())
    assert m is not None
    assert runner.STANDBY_SCRIPT_MAX + int(m.group(1)) < store
