"""orchestrator.dom0: commands through the serial shell, output and exit code back."""

from __future__ import annotations

import pytest

from orchestrator.dom0 import Dom0
from orchestrator.errors import Dom0CommandFailed, Dom0NotReady

from .fakes import FakeStream, make_console

SUFFIX_SEQ = '; echo "@@RC=$?@@"\n'
SUFFIX_BG = ' echo "@@RC=$?@@"\n'
CRLF = b"\r\r\r\n"  # what dom0's console looks like on QEMU's serial line


class FakeShell:
    """Answers each command sent to dom0 the way its shell would, from a script."""

    def __init__(self, answers: dict[str, tuple[list[str], int]]) -> None:
        self.answers = answers
        self.commands: list[str] = []

    def __call__(self, chunk: str) -> bytes:
        # The console sends long lines in bites: answer once the whole line is in.
        self.buf = getattr(self, "buf", "") + chunk
        if not self.buf.endswith("\n"):
            return b""
        sent, self.buf = self.buf, ""
        if sent.endswith(SUFFIX_SEQ):
            command = sent.removesuffix(SUFFIX_SEQ)
        else:
            assert sent.endswith(SUFFIX_BG), sent
            command = sent.removesuffix(SUFFIX_BG)
        self.commands.append(command)
        if command not in self.answers:
            return b""  # the shell hangs
        lines, rc = self.answers[command]
        return b"".join(ln.encode() + CRLF for ln in [*lines, f"@@RC={rc}@@"])


def make_dom0(answers: dict[str, tuple[list[str], int]], boot: list[bytes] | None = None) -> tuple[Dom0, FakeStream]:
    stream = FakeStream(boot, respond=FakeShell(answers))
    console, _ = make_console(stream)
    return Dom0(console), stream


def test_run_returns_output() -> None:
    dom0, stream = make_dom0({"xl domid g1-A": (["1"], 0)})
    assert dom0.run("xl domid g1-A") == "1"
    assert "".join(stream.sent) == 'xl domid g1-A; echo "@@RC=$?@@"\n'


def test_run_multiline_output_without_relay_lines() -> None:
    dom0, _ = make_dom0(
        {
            "cat /var/log/xen/xl-g1-A.log": (
                [
                    "Waiting for domain g1-A (domid 1) to die [pid 121]",
                    "[g1-A] EVT DONE pass=29 fail=0",
                    "Domain 1 has shut down, reason code 0 0x0",
                    "[g1-B] EVT RESULT case=c line=3 op=put args=c1-ready,1 expect=ok got=ok verdict=PASS",
                    "Done. Exiting now",
                ],
                0,
            )
        }
    )
    assert dom0.run("cat /var/log/xen/xl-g1-A.log") == (
        "Waiting for domain g1-A (domid 1) to die [pid 121]\n"
        "Domain 1 has shut down, reason code 0 0x0\n"
        "Done. Exiting now"
    )
    # The relay lines are still on the console for the domains to read.
    assert any(ln.text == "[g1-A] EVT DONE pass=29 fail=0" for ln in dom0.console.lines)


def test_run_excludes_earlier_output() -> None:
    dom0, _ = make_dom0({"xl domid g1-B": (["2"], 0)}, boot=[b"left over from before\r\n"])
    assert dom0.run("xl domid g1-B") == "2"
    assert dom0.console.lines[0].text == "left over from before"


def test_consecutive_commands_get_their_own_output() -> None:
    dom0, _ = make_dom0({"echo one": (["one"], 0), "echo two": (["two"], 0), "true": ([], 0)})
    assert dom0.run("echo one") == "one"
    assert dom0.run("true") == ""
    assert dom0.run("echo two") == "two"


def test_nonzero_rc_raises() -> None:
    cmd = "pkill -f 'tail -F'"
    dom0, _ = make_dom0({cmd: (["sh: eval: line 0: pkill: not found"], 127)})
    with pytest.raises(Dom0CommandFailed) as exc:
        dom0.run(cmd)
    assert exc.value.detail == f"`{cmd}` exited 127:\nsh: eval: line 0: pkill: not found"
    assert exc.value.log_path == dom0.console.log_path


def test_run_rc_returns_code_and_output() -> None:
    dom0, _ = make_dom0({"xl create -p /evt/g1/A.cfg 2>&1": (["Parsing config from /evt/g1/A.cfg", "oops"], 3)})
    assert dom0.run_rc("xl create -p /evt/g1/A.cfg 2>&1") == (3, "Parsing config from /evt/g1/A.cfg\noops")


def test_background_command_sent_without_semicolon() -> None:
    cmd = "(tail -F -n +1 /var/log/xen/console/guest-g1-A.log | awk '{print \"[g1-A] \" $0}') &"
    dom0, stream = make_dom0({cmd: ([], 0)})
    assert dom0.run(cmd) == ""
    assert "".join(stream.sent) == cmd + ' echo "@@RC=$?@@"\n'
    assert ";" not in "".join(stream.sent).removeprefix(cmd)


def test_background_command_with_trailing_space() -> None:
    dom0, stream = make_dom0({"sleep 5 & ": ([], 0)})
    dom0.run("sleep 5 & ")
    assert "".join(stream.sent) == 'sleep 5 &  echo "@@RC=$?@@"\n'


def test_command_that_never_answers_times_out() -> None:
    dom0, _ = make_dom0({})
    with pytest.raises(Dom0CommandFailed) as exc:
        dom0.run("xl list", timeout=0.2)
    assert exc.value.detail.startswith("`xl list`: no line matching /@@RC=(\\d+)@@/")


def test_wait_ready() -> None:
    boot = [
        b"(XEN) Freed 656kB init memory\r\r\n",
        b"Done setting up Dom0\r\r\r\nDOM0-READY kernel=6.1.0-56-amd64 xen=4.17.7\r\r\r\n",
    ]
    dom0, stream = make_dom0({"true": ([], 0)}, boot=boot)
    assert dom0.wait_ready(timeout=5.0) == "kernel=6.1.0-56-amd64 xen=4.17.7"
    assert dom0.ready_info == "kernel=6.1.0-56-amd64 xen=4.17.7"
    assert dom0.ready_at == dom0.console.lines[2].time
    # It checks that the shell listens before it says dom0 is ready.
    assert "".join(stream.sent) == 'true; echo "@@RC=$?@@"\n'


def test_wait_ready_reports_init_failure() -> None:
    dom0, stream = make_dom0({}, boot=[b"DOM0-FAILED: modprobe xen-evtchn failed\r\n"])
    with pytest.raises(Dom0NotReady) as exc:
        dom0.wait_ready(timeout=5.0)
    assert exc.value.detail == "dom0's /init: modprobe xen-evtchn failed"
    assert stream.sent == []


def test_wait_ready_times_out() -> None:
    dom0, _ = make_dom0({}, boot=[b"(XEN) booting\n"])
    with pytest.raises(Dom0NotReady, match="no line matching"):
        dom0.wait_ready(timeout=0.2)


class GarblingShell(FakeShell):
    """The first time, the shell gets the command with a character mangled on the way."""

    garbled = b"sh: eval: line 0: xenstore-wrioe: not found" + CRLF + b"@@RC=127@@" + CRLF

    def __call__(self, chunk: str) -> bytes:
        out = super().__call__(chunk)
        if out and len(self.commands) == 1:
            return self.garbled
        return out


def test_a_command_garbled_on_the_serial_line_is_sent_again() -> None:
    shell = GarblingShell({"xenstore-write /a 1": ([], 0)})
    console, _ = make_console(FakeStream(respond=shell))
    dom0 = Dom0(console)
    assert dom0.run("xenstore-write /a 1") == ""
    assert shell.commands == ["xenstore-write /a 1", "xenstore-write /a 1"]
    assert any("garbled" in ln.text for ln in console.lines)


def test_a_missing_program_is_not_mistaken_for_a_garbled_command() -> None:
    dom0, stream = make_dom0({"nosuchtool 1": (["sh: eval: line 0: nosuchtool: not found"], 127)})
    with pytest.raises(Dom0CommandFailed, match="exited 127"):
        dom0.run("nosuchtool 1")
    assert "".join(stream.sent).count("nosuchtool 1;") == 1


def test_xen_lines_on_the_serial_port_are_not_the_commands_output() -> None:
    path = "/local/domain/9/data/evtchn-test/pub/c1-v-q"
    dom0, _ = make_dom0(
        {f"xenstore-read {path}": (["(XEN) uart interrupt taking more than 4ms, switched to polling", "3"], 0)}
    )
    assert dom0.run(f"xenstore-read {path}") == "3"


def test_a_domain_name_garbled_on_the_serial_line_is_sent_again() -> None:
    """As seen under load: `sh /evt/unpause g12 A Linux` arrived as `... Liuux`."""
    name = "sh /evt/unpause g12 A Linux"

    shell = GarblingShell({name: ([], 0)})
    shell.garbled = b"g12-Liuux: no such domain" + CRLF + b"@@RC=1@@" + CRLF
    console, _ = make_console(FakeStream(respond=shell))
    assert Dom0(console).run(name) == ""
    assert shell.commands == [name, name]


def test_a_domain_the_command_names_is_no_garbling() -> None:
    dom0, stream = make_dom0({"sh /evt/unpause g3 A": (["g3-A: no such domain"], 1)})
    with pytest.raises(Dom0CommandFailed, match="exited 1"):
        dom0.run("sh /evt/unpause g3 A")
    assert "".join(stream.sent).count("unpause g3 A;") == 1
