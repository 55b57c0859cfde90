"""The command channel to dom0: frames over a virtio-serial port, to dom0/agent.c.

Dom0's serial input is Xen's small ring, which loses or changes characters when dom0
is slow; so commands, exit codes, output and files travel here instead, each frame
with a request id and a checksum (the frame layout is in dom0/agent.c). A reply is
matched to its request by id: one that comes after its request was given up on is
dropped, never taken for another's. The serial line stays the way the harness reads
what Xen, dom0 and the guests print.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PORT_NAME = "org.xenevt.agent"  # the virtserialport's name; the agent looks for it
MAGIC = b"EVTA"
HEADER = struct.Struct("<4sBBHIII")  # magic, kind, flags, 0, id, length, crc32
MAX_PAYLOAD = 64 << 20
FLAG_TRUNCATED = 1

HELLO, EXEC, SPAWN, KILL, PUT, GET = b"H", b"X", b"S", b"K", b"P", b"G"
RESULT, DATA, REFUSED = b"R", b"D", b"E"
OUTPUT = b"O"  # unasked (id 0): guests' console lines and what SPAWN started, as written


class ChannelError(Exception):
    """The channel broke (closed, or a frame that fails its checks): nothing more it
    says can be trusted."""


@dataclass(frozen=True)
class Frame:
    kind: bytes
    id: int
    payload: bytes
    flags: int = 0


def encode(kind: bytes, req_id: int, payload: bytes = b"", flags: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame's payload is at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    head = HEADER.pack(MAGIC, kind[0], flags, 0, req_id, len(payload), 0)[:16]
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


class Decoder:
    """Frames out of a byte stream, however it is cut."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while len(self.buf) >= HEADER.size:
            magic, kind, flags, _, req_id, length, crc = HEADER.unpack_from(self.buf)
            if magic != MAGIC or length > MAX_PAYLOAD:
                raise ChannelError(f"a frame that is not one: {self.buf[: HEADER.size]!r}")
            if len(self.buf) < HEADER.size + length:
                break
            payload = self.buf[HEADER.size : HEADER.size + length]
            if zlib.crc32(payload, zlib.crc32(self.buf[:16])) != crc:
                raise ChannelError(f"frame {req_id} ({bytes([kind])!r}, {length} bytes) fails its checksum")
            frames.append(Frame(bytes([kind]), req_id, payload, flags))
            self.buf = self.buf[HEADER.size + length :]
        return frames


@dataclass(frozen=True)
class Result:
    status: int  # the shell's exit code, or 128 + the signal that ended it
    output: bytes
    truncated: bool = False


class Refused(Exception):
    """The agent could not do what was asked (no such file, fork failed, ...)."""


class TimedOut(Exception):
    pass


# Waits for bytes on the socket while something else is kept going (the serial console):
# given the socket's fd and at most how long to wait; the caller then looks for itself.
Waiter = Callable[[int, float], object]


def _plain_wait(fd: int, timeout: float) -> None:
    select.select([fd], [], [], max(timeout, 0))


class Agent:
    """The host's end. Requests may be outstanding at once (submit, then collect each by
    its id); each is answered, or given up on at its deadline."""

    def __init__(
        self, path: Path, waiter: Waiter = _plain_wait, on_output: Callable[[bytes], None] | None = None
    ) -> None:
        self.path = path
        self.waiter = waiter
        self.on_output = on_output or (lambda data: None)
        self.sock: socket.socket | None = None
        self.decoder = Decoder()
        self.next_id = 1
        self.waiting: set[int] = set()  # submitted, not yet collected
        self.replies: dict[int, Frame] = {}  # arrived for a request not collected yet
        self.stray: list[Frame] = []  # late replies to requests given up on, for the log
        # Requests sent once another's reply has come (submit_after), by that one's id.
        self.after: dict[int, list[tuple[int, bytes, bytes]]] = {}

    def connect(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
                break
            except OSError as e:
                sock.close()
                if e.errno not in (errno.ENOENT, errno.ECONNREFUSED) or time.monotonic() > deadline:
                    raise ChannelError(f"cannot connect to {self.path}: {e}") from None
                time.sleep(0.05)
        sock.setblocking(False)
        self.sock, self.decoder = sock, Decoder()
        self.waiting.clear()
        self.replies.clear()
        self.after.clear()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def submit(self, kind: bytes, payload: bytes) -> int:
        """Send one request; its id, to collect its reply by."""
        if self.sock is None:
            self.connect()
        req_id = self._new_id()
        self._send(kind, req_id, payload)
        return req_id

    def submit_after(self, first: int, kind: bytes, payload: bytes) -> int:
        """A request sent the moment request `first`'s reply comes in (whatever it says, and
        even if `first` was given up on): dom0 runs the two one after the other, with no
        waiting of its own. Its id now, to collect its reply by as any other's."""
        req_id = self._new_id()
        self.after.setdefault(first, []).append((req_id, kind, payload))
        self.waiting.add(req_id)
        return req_id

    def _new_id(self) -> int:
        req_id = self.next_id
        self.next_id = self.next_id % 0xFFFFFFFF + 1
        return req_id

    def _send(self, kind: bytes, req_id: int, payload: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.setblocking(True)
            self.sock.sendall(encode(kind, req_id, payload))
        except OSError as e:
            raise ChannelError(f"sending request {req_id}: {e}") from None
        finally:
            self.sock.setblocking(False)
        self.waiting.add(req_id)

    def collect(self, req_id: int, timeout: float) -> Frame:
        """The reply to request `req_id`; TimedOut when none comes within `timeout` (the
        request is then given up on: a reply that comes later is dropped)."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if req_id in self.replies:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                self.waiting.discard(req_id)
                for chained in self.after.values():  # one not sent yet never will be
                    chained[:] = [c for c in chained if c[0] != req_id]
                raise TimedOut(f"request {req_id} had no reply within {timeout:g}s")
            self.waiter(self.sock.fileno(), min(left, 0.5))  # the console reads on meanwhile
        self.waiting.discard(req_id)
        return self.replies.pop(req_id)

    def fileno(self) -> int | None:
        return self.sock.fileno() if self.sock is not None else None

    def poll(self) -> None:
        """Take in whatever arrived: replies kept for their requests, output handed on."""
        if self.sock is None:
            return
        for frame in self._read():
            for req_id, kind, payload in self.after.pop(frame.id, []) if frame.id else []:
                self._send(kind, req_id, payload)
            if frame.id == 0 and frame.kind == OUTPUT:
                self.on_output(frame.payload)
            elif frame.id == 0 and frame.kind == REFUSED:
                raise ChannelError(f"the agent refused a frame: {frame.payload.decode(errors='replace')}")
            elif frame.id in self.waiting:
                self.replies[frame.id] = frame
            else:
                self.stray.append(frame)

    def request(self, kind: bytes, payload: bytes, timeout: float) -> Frame:
        """Send one request and wait for its reply; TimedOut when none comes in time."""
        return self.collect(self.submit(kind, payload), timeout)

    def _read(self) -> list[Frame]:
        assert self.sock is not None
        chunks = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            except OSError as e:
                raise ChannelError(f"reading the channel: {e}") from None
            if not data:
                raise ChannelError("the channel was closed")
            chunks.append(data)
        return self.decoder.feed(b"".join(chunks)) if chunks else []

    # -- the requests ---------------------------------------------------------

    def hello(self, timeout: float) -> str:
        return _result(self.request(HELLO, b"", timeout)).output.decode()

    def exec(self, command: str, timeout: float) -> Result:
        """Run `command` with dom0's sh; its status and output when it ends. On a
        timeout its process group is killed: nothing of it is left running."""
        return self.finish(self.submit(EXEC, command.encode()), timeout)

    def finish(self, req_id: int, timeout: float) -> Result:
        """The result of a submitted EXEC; past `timeout`, it is killed and TimedOut raised."""
        try:
            return _result(self.collect(req_id, timeout))
        except TimedOut:
            self.kill(req_id)
            raise

    def spawn(self, command: str, timeout: float) -> None:
        """Start `command` with dom0's sh, its output going to the console; returns once started."""
        _result(self.request(SPAWN, command.encode(), timeout))

    def kill(self, req_id: int, timeout: float = 10.0) -> bool:
        return _result(self.request(KILL, struct.pack("<I", req_id), timeout)).status == 0

    def put(self, path: str, data: bytes, timeout: float = 30.0) -> None:
        _result(self.request(PUT, path.encode() + b"\0" + data, timeout))

    def get(self, path: str, timeout: float = 30.0) -> bytes:
        frame = self.request(GET, path.encode(), timeout)
        if frame.kind == REFUSED:
            raise Refused(frame.payload.decode(errors="replace"))
        if frame.kind != DATA:
            raise ChannelError(f"a {frame.kind!r} frame in reply to a file request")
        return frame.payload


def _result(frame: Frame) -> Result:
    if frame.kind == REFUSED:
        raise Refused(frame.payload.decode(errors="replace"))
    if frame.kind != RESULT or len(frame.payload) < 4:
        raise ChannelError(f"a {frame.kind!r} frame of {len(frame.payload)} bytes where a result belongs")
    (status,) = struct.unpack_from("<i", frame.payload)
    return Result(status, frame.payload[4:], bool(frame.flags & FLAG_TRUNCATED))
