"""orchestrator.dom0: dom0's readiness read off the console, commands through its agent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator import agent
from orchestrator.agent import ChannelError, Frame
from orchestrator.dom0 import Dom0
from orchestrator.errors import Dom0ChannelLost, Dom0CommandFailed, Dom0NotReady, MachineDied

from .fakes import Answer, FakeChannel, make_dom0


def scripted(answers: dict[str, tuple[list[str], int]]) -> Callable[[str], Answer]:
    def answer(command: str) -> Answer:
        if command not in answers:
            return None  # it never ends
        out, rc = answers[command]
        return out, rc, []

    return answer


def channel_of(dom0: Dom0) -> FakeChannel:
    ch = dom0.channel
    assert isinstance(ch, FakeChannel)
    return ch


def test_run_returns_output_and_sends_the_command_as_is() -> None:
    dom0 = make_dom0(scripted({"xl domid g1-A": (["1"], 0)}))
    assert dom0.run("xl domid g1-A") == "1"
    assert channel_of(dom0).requests == [(agent.EXEC, "xl domid g1-A")]
    # The command is noted in the log, never typed on the serial line.
    assert any(ln.text == "[harness -> dom0] xl domid g1-A" for ln in dom0.console.lines)


def test_consecutive_commands_get_their_own_output() -> None:
    dom0 = make_dom0(scripted({"echo one": (["one"], 0), "echo two": (["two"], 0), "true": ([], 0)}))
    assert dom0.run("echo one") == "one"
    assert dom0.run("true") == ""
    assert dom0.run("echo two") == "two"


def test_nonzero_rc_raises() -> None:
    cmd = "pkill -f 'tail -F'"
    dom0 = make_dom0(scripted({cmd: (["sh: pkill: not found"], 127)}))
    with pytest.raises(Dom0CommandFailed) as exc:
        dom0.run(cmd)
    assert exc.value.detail == f"`{cmd}` exited 127:\nsh: pkill: not found"
    assert exc.value.log_path == dom0.console.log_path


def test_run_rc_returns_code_and_output() -> None:
    cmd = "xl create -p /evt/g1/A.cfg 2>&1"
    dom0 = make_dom0(scripted({cmd: (["Parsing config from /evt/g1/A.cfg", "oops"], 3)}))
    assert dom0.run_rc(cmd) == (3, "Parsing config from /evt/g1/A.cfg\noops")


def test_a_command_that_never_answers_is_killed_at_its_deadline() -> None:
    dom0 = make_dom0(scripted({}))
    with pytest.raises(Dom0CommandFailed) as exc:
        dom0.run("xl list", timeout=0.2)
    assert exc.value.detail == "`xl list`: no answer within 0.2s (killed)"
    kinds = [k for k, _ in channel_of(dom0).requests]
    assert kinds == [agent.EXEC, agent.KILL]


def test_spawn_is_answered_once_started() -> None:
    dom0 = make_dom0(scripted({"/evt/evtchn-op g1-Dom0 /evt/g1/Dom0.script A=1": ([], 0)}))
    dom0.spawn("/evt/evtchn-op g1-Dom0 /evt/g1/Dom0.script A=1")
    assert channel_of(dom0).requests == [(agent.SPAWN, "/evt/evtchn-op g1-Dom0 /evt/g1/Dom0.script A=1")]


def test_a_broken_channel_loses_the_machine() -> None:
    """Nothing more the channel says can be trusted: the machine is not driven on."""

    class Broken(FakeChannel):
        def collect(self, req_id: int, timeout: float) -> Frame:
            raise ChannelError("frame 7 ('R', 12 bytes) fails its checksum")

    dom0 = make_dom0(scripted({}))
    dom0.channel = Broken(scripted({}), channel_of(dom0).stream)
    with pytest.raises(Dom0ChannelLost) as exc:
        dom0.run("true")
    assert isinstance(exc.value, MachineDied)
    assert "fails its checksum" in exc.value.detail


def test_wait_ready_then_hello() -> None:
    boot = [
        b"(XEN) Freed 656kB init memory\r\r\n",
        b"Done setting up Dom0\r\r\r\nDOM0-READY kernel=6.1.0-56-amd64 xen=4.17.7\r\r\r\n",
    ]
    dom0 = make_dom0(scripted({}), boot=boot)
    assert dom0.wait_ready(timeout=5.0) == "kernel=6.1.0-56-amd64 xen=4.17.7"
    assert dom0.ready_at == dom0.console.lines[2].time
    assert channel_of(dom0).requests == [(agent.HELLO, "")]
    assert channel_of(dom0).connects == 1


def test_wait_ready_reports_init_failure() -> None:
    dom0 = make_dom0(scripted({}), boot=[b"DOM0-FAILED: evt-agent: no virtio port org.xenevt.agent\r\n"])
    with pytest.raises(Dom0NotReady) as exc:
        dom0.wait_ready(timeout=5.0)
    assert exc.value.detail == "dom0's /init: evt-agent: no virtio port org.xenevt.agent"
    assert channel_of(dom0).requests == []


def test_wait_ready_times_out() -> None:
    dom0 = make_dom0(scripted({}), boot=[b"(XEN) booting\n"])
    with pytest.raises(Dom0NotReady, match="no line matching"):
        dom0.wait_ready(timeout=0.2)
