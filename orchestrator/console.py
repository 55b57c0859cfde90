"""The serial console: where the harness reads what Xen, dom0 and the guests print.

Commands do not come this way (dom0's agent has a channel of its own, agent.py);
the only thing ever written here is the nudge's keystroke. Every byte QEMU prints
is copied to a log file as it arrives and split into lines that are kept for
whoever waits on them: the dom0 session waits for dom0's ready line, each domain
handle waits for its own (prefixed) lines.  A table
of bad patterns is checked on every line, so a Xen panic fails the run at once
instead of at some timeout.
"""

from __future__ import annotations

import re
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from .errors import Dom0ChannelLost, HarnessError, MachineDied, XenPanic

# Named patterns that mean the whole machine is lost.
BAD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Xen panic", re.compile(r"\(XEN\) (?:\*+ )?Panic on CPU \d+")),
    ("Xen fatal trap", re.compile(r"\(XEN\) FATAL TRAP")),
    ("Xen BUG/assertion", re.compile(r"\(XEN\) (?:Xen BUG at|Assertion .* failed at)")),
    # Not a Linux peer's (a domU: its console lines come relayed, "[g1-Linux] ...").
    ("dom0 kernel panic", re.compile(r"^(?!\[g\d+-\w+\] ).*Kernel panic - not syncing")),
    ("dom0's agent died", re.compile(r"DOM0-FAILED: agent exited")),
)
# Of those, the ones that lose the machine without Xen going down: an ERROR, not a CRASH.
NOT_XEN = ("dom0's agent died",)

TAIL_LINES = 40


class Side(Protocol):
    """A second source the console reads (agent.Agent): a descriptor to wait on, a poll."""

    def fileno(self) -> int | None: ...
    def poll(self) -> None: ...


class Stream(Protocol):
    """What the console needs from the process behind it (pexpect.spawn fits)."""

    def read_nonblocking(self, size: int, timeout: float | None) -> bytes: ...
    def send(self, s: str | bytes) -> int: ...  # only the nudge's keystroke: commands go to dom0's agent


@dataclass(frozen=True)
class Line:
    index: int
    time: float  # time.monotonic() when the line was complete
    text: str


class Console:
    def __init__(self, stream: Stream, log: IO[bytes], log_path: Path) -> None:
        self.stream = stream
        self.log = log
        self.log_path = log_path
        self.lines: list[Line] = []
        # Called with each new line as it is kept (progress reports, not waiting).
        self.watchers: list[Callable[[Line], None]] = []
        self._partial = b""
        self._held = ""  # the start of a dom0 line that Xen's output cut
        self._notes: list[bytes] = []  # the harness's notes, held until the log is at a line's end
        self.side: Side | None = None  # dom0's command channel, read with the serial line
        self._side_partial = b""
        self.closed = False

    # -- reading -----------------------------------------------------------

    def pump(self, timeout: float) -> None:
        """Read what the machine printed within `timeout` seconds into lines."""
        import pexpect  # local: the console is also used with fake streams in unit tests

        if self.closed:
            raise MachineDied("the machine is gone", self.tail(), self.log_path)
        if self.side is not None:
            own, theirs = getattr(self.stream, "child_fd", None), self.side.fileno()
            if own is None or theirs is None:
                self.side.poll()  # a fake stream, or no channel yet: look, then read on
            else:
                ready = select.select([own, theirs], [], [], max(timeout, 0))[0]
                if theirs in ready:
                    self.side.poll()
                if own not in ready:
                    return
                timeout = 0.01
        try:
            # pexpect reads *blocking* when given timeout=0: never pass it 0.
            data = self.stream.read_nonblocking(65536, max(timeout, 0.01))
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            self.closed = True
            self._flush_partial()
            raise MachineDied("QEMU closed the serial line", self.tail(), self.log_path) from None
        self.feed(data)

    def feed(self, data: bytes, check: bool = True) -> None:
        cut = data.find(b"\n") + 1 if self._notes else 0
        self.log.write(data[:cut])
        if cut:  # at a line's end: the notes held back go in here
            self.log.write(b"".join(self._notes))
            self._notes.clear()
        self.log.write(data[cut:])
        self.log.flush()
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        now = time.monotonic()
        first = len(self.lines)
        for raw in chunks:
            self._add(raw.decode("utf-8", "replace").rstrip("\r"), now)
        if check:
            self._check_bad(first)

    def _add(self, text: str, now: float) -> None:
        """Keep one line; undo Xen's own output cutting into a dom0 line.

        Xen writes its "(XEN) ..." lines to the serial port whenever it likes, so
        one can land in the middle of a line dom0 is printing. The Xen line is kept
        on its own and the cut dom0 line is joined up again with its rest.
        """
        cut = text.find("(XEN) ")
        if cut > 0:
            self._held += text[:cut]
            text = text[cut:]
        elif self._held and not text.startswith("(XEN) "):
            text, self._held = self._held + text, ""
        self._keep(Line(len(self.lines), now, text))

    def _keep(self, line: Line) -> None:
        self.lines.append(line)
        for watch in self.watchers:
            watch(line)

    def attach(self, side: Side) -> None:
        """Read `side` (dom0's command channel) in every pump too: the guests' lines come
        that way (feed_side), and the channel's replies are taken in as they come."""
        self.side = side

    def feed_side(self, data: bytes) -> None:
        """Lines that came by the command channel (guests' consoles, dom0's scripts): kept
        as the serial line's are, and written to the log between its lines."""
        chunks = (self._side_partial + data).split(b"\n")
        self._side_partial = chunks.pop()
        for raw in chunks:
            self.note(raw.decode("utf-8", "replace").rstrip("\r"))

    def _flush_partial(self) -> None:
        if self._partial:
            self.feed(b"\n")

    def _check_bad(self, first: int) -> None:
        for line in self.lines[first:]:
            for name, pattern in BAD_PATTERNS:
                if pattern.search(line.text):
                    # Let the machine finish printing its last words before giving up.
                    self._drain(2.0)
                    lost = Dom0ChannelLost if name in NOT_XEN else XenPanic
                    raise lost(f"{name}: {self._last_words(line)}", self.tail(), self.log_path)

    def _last_words(self, line: Line) -> str:
        """The line that matched and, for a panic, Xen's message between it and the row of
        stars that closes it: "(XEN) Panic on CPU 0: FATAL TRAP: vec 2, NMI[0000]"."""
        words = [line.text.strip()]
        for later in self.lines[line.index + 1 : line.index + 5]:
            text = later.text.strip()
            if re.fullmatch(r"\(XEN\) \*{8,}", text):
                return " ".join(words)
            words.append(text.removeprefix("(XEN) ").strip())
        return words[0]  # no closed block: the line alone

    def _drain(self, seconds: float) -> None:
        import pexpect

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.stream.read_nonblocking(65536, 0.2)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                self.closed = True
                return
            self.feed(data, check=False)

    def wait_for(
        self,
        pattern: re.Pattern[str],
        since: int,
        timeout: float,
        on_timeout: Callable[[str], HarnessError],
        accept: Callable[[Line], bool] = lambda _: True,
        nudge: float | None = None,
    ) -> tuple[Line, re.Match[str]]:
        """The first line at or after index `since` that matches; raises `on_timeout(...)`.

        With `nudge`, an empty line is sent whenever the machine has printed nothing for
        that long: dom0's console output sometimes waits for the next input to arrive
        (seen with both the 6.1 and the 6.12 kernel under TCG), and an empty command
        line is harmless to dom0's command loop.
        """
        deadline = time.monotonic() + timeout
        cursor = since
        quiet_since = time.monotonic()
        while True:
            while cursor < len(self.lines):
                line = self.lines[cursor]
                cursor += 1
                m = pattern.search(line.text)
                if m and accept(line):
                    return line, m
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise on_timeout(f"no line matching /{pattern.pattern}/ within {timeout:.0f}s")
            seen = len(self.lines)
            self.pump(min(left, 0.5))
            if len(self.lines) != seen or self._partial:
                quiet_since = time.monotonic()
            elif nudge is not None and time.monotonic() - quiet_since >= nudge:
                self.log.write(b"\n[harness -> dom0] (empty line: nudging the console)\n")
                self.stream.send("\n")
                quiet_since = time.monotonic()

    def tail(self, n: int = TAIL_LINES) -> str:
        texts = [line.text for line in self.lines[-n:]]
        if self._partial:
            texts.append(self._partial.decode("utf-8", "replace"))
        return "\n".join(texts)

    def around(self, index: int, before: int = 5, after: int = 5) -> str:
        return "\n".join(line.text for line in self.lines[max(0, index - before) : index + after + 1])

    # -- notes -------------------------------------------------------------

    def note(self, text: str) -> None:
        """Add a line of the harness's own to the log, as if the machine had printed it. In
        the log file it waits for the end of a line the machine is part way through, so a
        saved log reads (and parses) as the machine printed it."""
        if self._partial:
            self._notes.append(f"{text}\n".encode())
        else:
            self.log.write(f"{text}\n".encode())
        self._keep(Line(len(self.lines), time.monotonic(), text))
