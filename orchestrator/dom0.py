"""The dom0 session: dom0's /init is watched on the serial console until it is ready;
commands then go to its agent over the command channel (agent.py), never through the
serial line, which stays the way what Xen, dom0 and the guests print is read."""

from __future__ import annotations

import re
import time

from .agent import EXEC, Agent, ChannelError, Refused, TimedOut
from .console import Console
from .errors import Dom0ChannelLost, Dom0CommandFailed, Dom0NotReady

READY = re.compile(r"DOM0-READY (.*)")
FAILED = re.compile(r"DOM0-FAILED: (.*)")
BOOT_TIMEOUT = 180.0
COMMAND_TIMEOUT = 60.0
# How long a wait for a domain's lines lets dom0's console sit quiet before a keystroke
# wakes it (console.wait_for's nudge).
NUDGE_S = 3.0


class Dom0:
    def __init__(self, console: Console, channel: Agent) -> None:
        self.console = console
        self.channel = channel
        self.ready_info = ""
        self.ready_at = 0.0
        self.latencies: list[float] = []  # each command's request to reply (bench: dom0_command_s)

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> str:
        """Until dom0's /init says it is ready (its agent has opened the channel's port)."""
        either = re.compile(f"{READY.pattern}|{FAILED.pattern}")
        line, m = self.console.wait_for(
            either, 0, timeout, lambda d: Dom0NotReady(d, self.console.tail(), self.console.log_path)
        )
        if m.group(2) is not None:
            raise Dom0NotReady(f"dom0's /init: {m.group(2)}", self.console.tail(), self.console.log_path)
        self.ready_info = m.group(1)
        self.ready_at = line.time
        self.connect(COMMAND_TIMEOUT)
        return self.ready_info

    def connect(self, timeout: float) -> str:
        """Reach dom0's agent (after a boot, or a restore); its version."""
        try:
            self.channel.close()
            self.channel.connect(timeout)
            self.console.attach(self.channel)
            return self.channel.hello(timeout)
        except TimedOut as e:
            raise Dom0NotReady(
                f"dom0's agent did not answer: {e}", self.console.tail(), self.console.log_path
            ) from None
        except ChannelError as e:
            raise Dom0ChannelLost(str(e), self.console.tail(), self.console.log_path) from None

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run `command` in dom0's shell; its output, or Dom0CommandFailed if it exits non-zero."""
        rc, text = self.run_rc(command, timeout)
        if rc != 0:
            raise Dom0CommandFailed(f"`{command}` exited {rc}:\n{text}", self.console.tail(), self.console.log_path)
        return text

    def run_rc(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Run `command`; its exit code and output (stdout and stderr). One that does not
        end within `timeout` is killed with everything it started in dom0."""
        return self.begin(command).result(timeout)

    def begin(self, command: str) -> Pending:
        """Start `command` and return at once; its result is asked for later (Pending.result),
        while the harness watches the guests and sends dom0 other commands meanwhile."""
        self.console.note(f"[harness -> dom0] {command}")
        try:
            req_id = self.channel.submit(EXEC, command.encode())
        except ChannelError as e:
            raise Dom0ChannelLost(f"`{command}`: {e}", self.console.tail(), self.console.log_path) from None
        return Pending(self, command, req_id, time.monotonic())

    def get(self, path: str, timeout: float = COMMAND_TIMEOUT) -> bytes:
        """A dom0 file's bytes, exactly (the agent's GET)."""
        self.console.note(f"[harness <- dom0] {path}")
        try:
            return self.channel.get(path, timeout)
        except (TimedOut, Refused) as e:
            raise Dom0CommandFailed(f"reading {path}: {e}", self.console.tail(), self.console.log_path) from None
        except ChannelError as e:
            raise Dom0ChannelLost(f"reading {path}: {e}", self.console.tail(), self.console.log_path) from None

    def spawn(self, command: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Start `command` in dom0, its output going to the console; returns once it runs."""
        self.console.note(f"[harness -> dom0] {command} &")
        try:
            self.channel.spawn(command, timeout)
        except (TimedOut, Refused) as e:
            raise Dom0CommandFailed(f"`{command}`: {e}", self.console.tail(), self.console.log_path) from None
        except ChannelError as e:
            raise Dom0ChannelLost(f"`{command}`: {e}", self.console.tail(), self.console.log_path) from None

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.console.pump(end - time.monotonic())


class Pending:
    """A dom0 command under way (Dom0.begin)."""

    def __init__(self, dom0: Dom0, command: str, req_id: int, started: float) -> None:
        self.dom0, self.command, self.req_id, self.started = dom0, command, req_id, started

    def ready(self) -> bool:
        """Has its answer come? (Never waits.)"""
        try:
            self.dom0.channel.poll()
        except ChannelError as e:
            d = self.dom0
            raise Dom0ChannelLost(f"`{self.command}`: {e}", d.console.tail(), d.console.log_path) from None
        return self.req_id in self.dom0.channel.replies

    def abandon(self) -> None:
        """Not wanted any more: its answer, when it comes, is dropped (it runs to its end)."""
        self.dom0.channel.waiting.discard(self.req_id)
        self.dom0.channel.replies.pop(self.req_id, None)

    def result(self, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Its exit code and output, waiting at most `timeout` more; past that it is killed."""
        d = self.dom0
        try:
            result = d.channel.finish(self.req_id, timeout)
        except TimedOut:
            raise Dom0CommandFailed(
                f"`{self.command}`: no answer within {timeout:g}s (killed)", d.console.tail(), d.console.log_path
            ) from None
        except Refused as e:
            raise Dom0CommandFailed(
                f"`{self.command}`: dom0's agent: {e}", d.console.tail(), d.console.log_path
            ) from None
        except ChannelError as e:
            raise Dom0ChannelLost(f"`{self.command}`: {e}", d.console.tail(), d.console.log_path) from None
        d.latencies.append(time.monotonic() - self.started)
        text = result.output.decode("utf-8", "replace").strip()
        if result.truncated:
            text += "\n[harness] (output truncated by dom0's agent)"
        return result.status, text
