"""The dom0 session: a shell on the serial console, driven command by command."""

from __future__ import annotations

import re
import time

from .console import Console
from .errors import Dom0CommandFailed, Dom0NotReady

READY = re.compile(r"DOM0-READY (.*)")
FAILED = re.compile(r"DOM0-FAILED: (.*)")
RC = re.compile(r"@@RC=(\d+)@@")
# Xen's own lines on the same serial port ("(XEN) uart interrupt taking more than 4ms, ...")
# can land in the middle of a command's output: they are not the command's.
XEN_LINE = "(XEN) "
# Lines a domain's console relay writes: "[name] text".
RELAY = re.compile(r"^\[([\w.-]+)\] ")

NOT_FOUND = re.compile(r"^sh: .*?(\S+): not found$", re.M)
# A domain name (g<group>-<role>) the command did not hold: a letter of it arrived changed.
DOMAIN_NAME = re.compile(r"\bg\d+-\w+")
GARBLED_RETRIES = 3
BOOT_TIMEOUT = 180.0
COMMAND_TIMEOUT = 60.0
NUDGE_S = 3.0


class Dom0:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.ready_info = ""
        self.ready_at = 0.0

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> str:
        either = re.compile(f"{READY.pattern}|{FAILED.pattern}")
        line, m = self.console.wait_for(
            either, 0, timeout, lambda d: Dom0NotReady(d, self.console.tail(), self.console.log_path)
        )
        if m.group(2) is not None:
            raise Dom0NotReady(f"dom0's /init: {m.group(2)}", self.console.tail(), self.console.log_path)
        self.ready_info = m.group(1)
        self.ready_at = line.time
        # The shell prints its prompt after the marker; make sure it is listening.
        self.run("true")
        return self.ready_info

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run `command` in dom0's shell; its output, or Dom0CommandFailed if it exits non-zero."""
        rc, text = self.run_rc(command, timeout)
        if rc != 0:
            raise Dom0CommandFailed(f"`{command}` exited {rc}:\n{text}", self.console.tail(), self.console.log_path)
        return text

    def run_rc(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Run `command`; its exit code and output (relay lines left out).

        A command that reached dom0's shell garbled (Xen's serial input ring can lose or
        mangle a character when dom0 is slow to read it) is sent again: the shell then
        names a word we never sent, or a syntax error in a line we know to be good.
        """
        for _ in range(GARBLED_RETRIES):
            rc, out = self._run_once(command, timeout)
            if not _garbled(command, rc, out):
                return rc, out
            self.console.note(f"[harness] dom0 got this command garbled ({out.strip()[:120]}); sending it again")
        return rc, out

    def _run_once(self, command: str, timeout: float) -> tuple[int, str]:
        # `$?` is expanded by the shell, so the echoed command line never matches RC.
        sep = " " if command.rstrip().endswith("&") else "; "
        start = self.console.send_line(f'{command}{sep}echo "@@RC=$?@@"')
        line, m = self.console.wait_for(
            RC,
            start,
            timeout,
            lambda d: Dom0CommandFailed(f"`{command}`: {d}", self.console.tail(), self.console.log_path),
            nudge=NUDGE_S,
        )
        out = [
            ln.text
            for ln in self.console.lines[start : line.index]
            if not RELAY.match(ln.text) and not ln.text.startswith(XEN_LINE) and "@@RC=" not in ln.text
        ]
        return int(m.group(1)), "\n".join(out).strip()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.console.pump(end - time.monotonic())


def _names(command: str, name: str) -> bool:
    """Does `command` name the domain `name`: whole, or as its group and role (`unpause g3 A`)?"""
    group, _, role = name.partition("-")
    return name in command or {group, role} <= set(command.split())


def _garbled(command: str, rc: int, out: str) -> bool:
    """Did the shell run something other than `command`? (Every command we send is valid sh.)"""
    if rc == 2 and "syntax error" in out:
        return True
    if rc != 0 and any(not _names(command, name) for name in DOMAIN_NAME.findall(out)):
        return True
    return rc == 127 and any(word not in command for word in NOT_FOUND.findall(out))
