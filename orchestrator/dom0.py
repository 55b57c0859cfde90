"""The dom0 session: dom0's /init is watched on the serial console until it is ready;
commands then go to its agent over the command channel (agent.py), never through the
serial line, which stays the way what Xen, dom0 and the guests print is read."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
        with answering(self, f"`{command}`"):
            req_id = self.channel.submit(EXEC, command.encode())
        return Pending(self, command, req_id, time.monotonic())

    def begin_after(self, first: Pending, command: str) -> Pending:
        """As begin, but `command` is sent only once `first` has ended (Agent.submit_after):
        the two run one after the other in dom0, without either waiting there."""
        self.console.note(f"[harness -> dom0] (after `{first.command}`) {command}")
        req_id = self.channel.submit_after(first.req_id, EXEC, command.encode())
        return Pending(self, command, req_id, time.monotonic())

    def get(self, path: str, timeout: float = COMMAND_TIMEOUT) -> bytes:
        """A dom0 file's bytes, exactly (the agent's GET)."""
        self.console.note(f"[harness <- dom0] {path}")
        with answering(self, f"reading {path}"):
            return self.channel.get(path, timeout)

    def spawn(self, command: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Start `command` in dom0, its output going to the console; returns once it runs."""
        self.console.note(f"[harness -> dom0] {command} &")
        with answering(self, f"`{command}`"):
            self.channel.spawn(command, timeout)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.console.pump(end - time.monotonic())


@contextmanager
def answering(dom0: Dom0, what: str) -> Iterator[None]:
    """The channel's failures as the session's errors, naming what was asked: no answer
    or a refusal fails that request; a broken channel loses the machine."""
    try:
        yield
    except (TimedOut, Refused) as e:
        raise Dom0CommandFailed(f"{what}: {e}", dom0.console.tail(), dom0.console.log_path) from None
    except ChannelError as e:
        raise Dom0ChannelLost(f"{what}: {e}", dom0.console.tail(), dom0.console.log_path) from None


class Pending:
    """A dom0 command under way (Dom0.begin)."""

    def __init__(self, dom0: Dom0, command: str, req_id: int, started: float) -> None:
        self.dom0, self.command, self.req_id, self.started = dom0, command, req_id, started

    def ready(self) -> bool:
        """Has its answer come? (Never waits.)"""
        with answering(self.dom0, f"`{self.command}`"):
            self.dom0.channel.poll()
        return self.req_id in self.dom0.channel.replies

    def abandon(self) -> None:
        """Not wanted any more: its answer, when it comes, is dropped (it runs to its end)."""
        self.dom0.channel.waiting.discard(self.req_id)
        self.dom0.channel.replies.pop(self.req_id, None)

    def result(self, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Its exit code and output, waiting at most `timeout` more; past that it is killed."""
        d = self.dom0
        with answering(d, f"`{self.command}`"):
            try:
                result = d.channel.finish(self.req_id, timeout)
            except TimedOut:
                raise Dom0CommandFailed(
                    f"`{self.command}`: no answer within {timeout:g}s (killed)", d.console.tail(), d.console.log_path
                ) from None
        d.latencies.append(time.monotonic() - self.started)
        text = result.output.decode("utf-8", "replace").strip()
        if result.truncated:
            text += "\n[harness] (output truncated by dom0's agent)"
        return result.status, text
