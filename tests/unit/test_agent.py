"""orchestrator.agent against the real dom0/agent.c, built for the host and served over a
socket pair (its --fd mode) instead of the virtio port: framing, ids, files, kills."""

from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import agent
from orchestrator.agent import Agent, ChannelError, Decoder, Frame, Refused, TimedOut, encode

from .hostbuild import REPO, build


@pytest.fixture(scope="module")
def agent_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agent") / "evt-agent"
    return build(out, REPO / "script", REPO / "dom0" / "agent.c")


class SocketAgent(Agent):
    """An Agent whose socket is one end of a pair; the real agent serves the other. Its
    unasked output is collected in `output`."""

    def __init__(self, sock: socket.socket, out_fifo: Path) -> None:
        self.output = b""
        super().__init__(Path("/nonexistent"), on_output=self._took)
        sock.setblocking(False)
        self.sock = sock
        self.out_fifo = out_fifo

    def _took(self, data: bytes) -> None:
        self.output += data

    def output_until(self, text: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            assert self.sock is not None
            select.select([self.sock], [], [], 0.1)
            self.poll()
        return self.output


@pytest.fixture
def served(agent_binary: Path, tmp_path: Path) -> Iterator[tuple[SocketAgent, subprocess.Popen[bytes]]]:
    host, theirs = socket.socketpair()
    out_fifo = tmp_path / "evt-out"
    proc = subprocess.Popen(
        [str(agent_binary), "--fd", str(theirs.fileno()), "--out", str(out_fifo), "AGENT-UP"],
        pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    theirs.close()
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"AGENT-UP\n"
    try:
        yield SocketAgent(host, out_fifo), proc
    finally:
        proc.kill()
        proc.wait()
        host.close()


def test_codec_round_trip_cut_anywhere() -> None:
    frames = [encode(b"R", 7, b"\0\0\0\0hello"), encode(b"D", 8, bytes(range(256)) * 3), encode(b"H", 9)]
    stream = b"".join(frames)
    for cut in range(1, len(stream)):
        d = Decoder()
        got = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert [(f.kind, f.id) for f in got] == [(b"R", 7), (b"D", 8), (b"H", 9)]
        assert got[1].payload == bytes(range(256)) * 3


def test_codec_refuses_a_changed_byte() -> None:
    """Any one byte changed, and no frame is taken: refused, or (a grown length) waited for."""
    frame = bytearray(encode(b"R", 3, b"\0\0\0\0output"))
    for i in range(len(frame)):
        bad = bytearray(frame)
        bad[i] ^= 0x01
        try:
            got = Decoder().feed(bytes(bad) + encode(b"R", 4, b"\0\0\0\0next" * 4))
        except ChannelError:
            continue
        assert got == [], f"byte {i} changed and a frame was taken"  # a grown length waits


def test_exec_status_and_output(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    assert a.hello(5).startswith("evt-agent")
    r = a.exec("echo out; echo err >&2; exit 3", 5)
    assert (r.status, r.output) == (3, b"out\nerr\n")
    assert a.exec("kill -9 $$", 5).status == 128 + 9


def test_binary_files_both_ways(served: tuple[SocketAgent, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    a, _ = served
    blob = os.urandom(3 << 20)
    a.put(str(tmp_path / "blob"), blob)
    assert (tmp_path / "blob").read_bytes() == blob
    assert a.get(str(tmp_path / "blob")) == blob
    with pytest.raises(Refused, match="No such file"):
        a.get(str(tmp_path / "absent"))
    with pytest.raises(Refused, match="not a regular file"):
        a.get("/dev/zero")


def test_a_late_reply_is_never_taken_for_the_next_request(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    with pytest.raises(TimedOut):
        a.exec("sleep 0.4; echo late", 0.1)
    # The timed-out command was killed; whatever the agent says of it carries its old id.
    r = a.exec("echo mine", 5)
    assert r.output == b"mine\n"
    time.sleep(0.5)
    assert a.exec("echo again", 5).output == b"again\n"
    assert all(f.id < a.next_id - 1 for f in a.stray)


def test_requests_run_at_once(served: tuple[SocketAgent, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    """A slow request holds up nothing: the next one is answered while it runs."""
    a, _ = served
    a.spawn(f"sleep 30; touch {tmp_path}/never", 5)
    start = time.monotonic()
    assert a.exec("echo quick", 5).output == b"quick\n"
    assert time.monotonic() - start < 5


def test_background_child_does_not_hold_the_reply(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    r = a.exec("(sleep 30) & echo started", 5)
    assert (r.status, r.output) == (0, b"started\n")


def test_spawned_output_comes_back_as_output_frames(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    a.spawn("echo from-spawn; echo to-stderr >&2", 5)
    assert a.output_until(b"to-stderr\n") == b"from-spawn\nto-stderr\n"


def test_lines_written_to_the_fifo_come_back_whole_and_in_order(
    served: tuple[SocketAgent, subprocess.Popen[bytes]],
) -> None:
    """As relay.sh writes a guest's console: line by line, from several writers at once."""
    a, _ = served
    writers = " & ".join(
        f'(for i in $(seq 1 200); do echo "[g1-{w}] EVT RESULT line=$i"; done > {a.out_fifo})' for w in "AB"
    )
    a.exec(f"{writers}; wait", 10)
    got = a.output_until(b"[g1-B] EVT RESULT line=200\n")
    got = a.output_until(b"[g1-A] EVT RESULT line=200\n")
    lines = got.decode().splitlines()
    for w in "AB":
        mine = [ln for ln in lines if ln.startswith(f"[g1-{w}] ")]
        assert mine == [f"[g1-{w}] EVT RESULT line={i}" for i in range(1, 201)]
    assert len(lines) == 400


def test_a_corrupt_request_is_refused_by_id_zero(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    assert a.sock is not None
    a.sock.setblocking(True)
    a.sock.sendall(b"JUNKJUNKJUNKJUNKJUNKJUNK")
    a.sock.setblocking(False)
    with pytest.raises(ChannelError, match="refused a frame"):
        a.hello(5)


def test_checksum_failure_names_the_frame() -> None:
    frame = bytearray(encode(b"R", 42, struct.pack("<i", 0) + b"x"))
    frame[-1] ^= 0xFF
    with pytest.raises(ChannelError, match="frame 42"):
        Decoder().feed(bytes(frame))


def test_result_of_a_wrong_kind_is_a_channel_error() -> None:
    with pytest.raises(ChannelError):
        agent._result(Frame(b"D", 1, b"data"))


def test_a_request_after_another_is_sent_once_that_ones_reply_came(
    served: tuple[SocketAgent, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """submit_after: the second runs in dom0 only after the first ended, with no waiting of
    its own there; each is collected by its id, the second's first if the caller likes."""
    a, _ = served
    mark = tmp_path / "first-ended"
    first = a.submit(agent.EXEC, f"sleep 0.3; touch {mark}".encode())
    second = a.submit_after(first, agent.EXEC, f"test -e {mark} && echo after".encode())
    assert a.finish(second, 10).output == b"after\n"
    assert a.finish(first, 10).status == 0


def test_a_request_after_one_given_up_on_is_never_sent(served: tuple[SocketAgent, subprocess.Popen[bytes]]) -> None:
    a, _ = served
    first = a.submit(agent.EXEC, b"sleep 5")
    second = a.submit_after(first, agent.EXEC, b"echo never")
    with pytest.raises(TimedOut):
        a.collect(second, 0.2)
    assert a.after[first] == []  # taken off: the first's reply, when it comes, sends nothing
