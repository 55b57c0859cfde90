"""Test doubles for the console: a stream that plays back scripted bytes."""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pexpect

from orchestrator.console import Console


class FakeStream:
    """Stands in for pexpect.spawn: `read_nonblocking` hands out queued chunks one by one.

    When the queue is empty it raises pexpect.TIMEOUT (after a short nap, so polling
    loops do not spin), or pexpect.EOF once `eof` is set. `respond`, if given, is
    called with every text sent and returns the bytes the machine answers with.
    """

    def __init__(
        self,
        chunks: list[bytes] | None = None,
        eof: bool = False,
        respond: Callable[[str], bytes] | None = None,
    ) -> None:
        self.queue: deque[bytes] = deque(chunks or [])
        self.eof = eof
        self.respond = respond
        self.sent: list[str] = []
        self.reads = 0

    def read_nonblocking(self, size: int, timeout: float | None) -> bytes:
        self.reads += 1
        if self.queue:
            chunk = self.queue.popleft()
            if len(chunk) > size:
                self.queue.appendleft(chunk[size:])
                chunk = chunk[:size]
            return chunk
        if self.eof:
            raise pexpect.EOF("fake stream closed")
        time.sleep(min(timeout or 0.0, 0.005))
        raise pexpect.TIMEOUT("fake stream empty")

    def send(self, s: str | bytes) -> int:
        text = s.decode() if isinstance(s, bytes) else s
        self.sent.append(text)
        if self.respond is not None:
            answer = self.respond(text)
            if answer:
                self.queue.append(answer)
        return len(s)


def make_console(stream: FakeStream, log_path: Path = Path("/nonexistent/serial.log")) -> tuple[Console, io.BytesIO]:
    log = io.BytesIO()
    return Console(stream, log, log_path), log
