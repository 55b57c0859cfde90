"""orchestrator.console: bytes from the serial line into lines, with panic detection."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from orchestrator.console import BAD_PATTERNS, Line
from orchestrator.errors import GuestSilent, HarnessError, MachineDied, XenPanic
from orchestrator.results import parse

from .fakes import FakeStream, make_console

DATA = Path(__file__).parent / "data"
LOG_PATH = Path("/runs/x/serial.log")


def test_lines_split_across_chunks() -> None:
    stream = FakeStream([b"hel", b"lo\r\r\nwor", b"ld\n(XEN) a\r\n(XEN", b") b\r\r\r\n", b"partial"])
    console, log = make_console(stream, LOG_PATH)
    texts: list[list[str]] = []
    for _ in range(5):
        console.pump(1.0)
        texts.append([ln.text for ln in console.lines])
    assert texts == [
        [],
        ["hello"],
        ["hello", "world", "(XEN) a"],
        ["hello", "world", "(XEN) a", "(XEN) b"],
        ["hello", "world", "(XEN) a", "(XEN) b"],
    ]
    assert [ln.index for ln in console.lines] == [0, 1, 2, 3]
    # Everything is logged byte for byte, the unfinished line too.
    assert log.getvalue() == b"hello\r\r\nworld\n(XEN) a\r\n(XEN) b\r\r\r\npartial"
    # The tail shows the line still being printed.
    assert console.tail() == "hello\nworld\n(XEN) a\n(XEN) b\npartial"
    assert console.tail(2) == "(XEN) a\n(XEN) b\npartial"
    # No more data: pump returns without new lines.
    console.pump(0.01)
    assert len(console.lines) == 4


def test_only_trailing_cr_stripped() -> None:
    console, _ = make_console(FakeStream([b"a\rb\r\r\r\n\r\n  spaced  \r\n"]))
    console.pump(1.0)
    assert [ln.text for ln in console.lines] == ["a\rb", "", "  spaced  "]


def test_invalid_utf8_replaced() -> None:
    console, _ = make_console(FakeStream([b"caf\xe9\n"]))
    console.pump(1.0)
    assert console.lines[0].text == "caf\ufffd"


def test_line_times_are_monotonic() -> None:
    console, _ = make_console(FakeStream([b"one\n", b"two\n"]))
    before = time.monotonic()
    console.pump(1.0)
    console.pump(1.0)
    first, second = console.lines
    assert before <= first.time <= second.time <= time.monotonic()


def test_saved_log_through_the_console_parses_like_the_file() -> None:
    raw = (DATA / "serial-interdomain-pass.log").read_bytes()
    chunks = [raw[i : i + 37] for i in range(0, len(raw), 37)]
    stream = FakeStream(chunks)
    console, log = make_console(stream)
    for _ in chunks:
        console.pump(1.0)
    assert log.getvalue() == raw
    texts = [ln.text for ln in console.lines]
    assert not any("\r" in t for t in texts)
    assert "DOM0-READY kernel=6.1.0-56-amd64 xen=4.17.7" in texts
    from_console = parse(texts)
    from_file = parse((DATA / "serial-interdomain-pass.log").read_text().splitlines())
    assert from_console == from_file
    assert from_console["g1-A"].done == (29, 0)


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("(XEN) Panic on CPU 0:", "Xen panic"),
        ("(XEN) **************************************** Panic on CPU 1:", "Xen panic"),
        ("(XEN) FATAL TRAP: vector = 14 (page fault)", "Xen fatal trap"),
        ("(XEN) Xen BUG at common/event_channel.c:123", "Xen BUG/assertion"),
        ("(XEN) Assertion 'chn->state == ECS_FREE' failed at common/event_channel.c:200", "Xen BUG/assertion"),
        ("[    3.210000] Kernel panic - not syncing: Attempted to kill init!", "dom0 kernel panic"),
        ("DOM0-FAILED: agent exited (1)", "dom0's agent died"),
    ],
)
def test_bad_patterns_raise_at_once(line: str, name: str) -> None:
    stream = FakeStream(
        [
            b"(XEN) d0 has maximum 232 PIRQs\r\r\n",
            line.encode() + b"\r\r\n(XEN) ----[ Xen-4.17.7  x86_64  debug=n  Not tainted ]----\r\n",
            b"(XEN) Reboot in five seconds...\r\n",
        ],
        eof=True,
    )
    console, _ = make_console(stream, LOG_PATH)
    start = time.monotonic()
    with pytest.raises((XenPanic, MachineDied)) as exc:
        # A long timeout: the panic must end the wait, not the clock.
        console.wait_for(re.compile("never printed"), 0, 60.0, lambda d: GuestSilent(d))
    assert time.monotonic() - start < 5.0
    err = exc.value
    # A dead agent loses the machine but says nothing of Xen: ERROR; the others, CRASH.
    assert isinstance(err, XenPanic) is (name != "dom0's agent died")
    assert err.detail == f"{name}: {line}"
    assert err.log_path == LOG_PATH
    # The tail has the machine's last words: lines printed after the panic line too.
    assert line in err.log_tail
    assert "(XEN) d0 has maximum 232 PIRQs" in err.log_tail
    assert "Reboot in five seconds" in err.log_tail
    assert str(err).startswith(f"{err.what}: {name}: ")
    assert f"--- full serial log: {LOG_PATH}" in str(err)


def test_a_panic_is_named_with_xens_message() -> None:
    block = [
        b"(XEN) ****************************************\n",
        b"(XEN) Panic on CPU 0:\n",
        b"(XEN) FATAL TRAP: vec 2, NMI[0000]\n",
        b"(XEN) ****************************************\n",
        b"(XEN) Manual reset required ('noreboot' specified)\n",
    ]
    console, _ = make_console(FakeStream(block, eof=True), LOG_PATH)
    with pytest.raises(XenPanic) as exc:
        console.wait_for(re.compile("never printed"), 0, 60.0, lambda d: GuestSilent(d))
    assert exc.value.detail == "Xen panic: (XEN) Panic on CPU 0: FATAL TRAP: vec 2, NMI[0000]"


def test_panic_split_across_chunks_still_caught() -> None:
    stream = FakeStream([b"(XEN) Pan", b"ic on CPU 3:\n"], eof=True)
    console, _ = make_console(stream)
    console.pump(1.0)  # half a line: nothing to check yet
    with pytest.raises(XenPanic, match="Panic on CPU 3"):
        console.pump(1.0)


def test_bad_patterns_do_not_fire_on_a_normal_run() -> None:
    raw = (DATA / "serial-interdomain-pass.log").read_bytes()
    texts = raw.decode().splitlines()
    for text in texts:
        for name, pattern in BAD_PATTERNS:
            assert not pattern.search(text), (name, text)
    # Words that only look alarming.
    for text in ["(XEN) Panic on nothing", "kernel panic - not syncing", "DOM0-FAILED: xl create", "(XEN) BUG"]:
        assert not any(p.search(text) for _, p in BAD_PATTERNS), text


def test_eof_raises_machine_died_and_flushes_partial() -> None:
    stream = FakeStream([b"(XEN) one\n(XEN) last words, no newline"], eof=True)
    console, _ = make_console(stream, LOG_PATH)
    console.pump(1.0)
    assert [ln.text for ln in console.lines] == ["(XEN) one"]
    with pytest.raises(MachineDied) as exc:
        console.pump(1.0)
    assert exc.value.detail == "QEMU closed the serial line"
    assert exc.value.log_path == LOG_PATH
    assert [ln.text for ln in console.lines] == ["(XEN) one", "(XEN) last words, no newline"]
    assert exc.value.log_tail.endswith("(XEN) last words, no newline")
    assert console.closed
    # Later reads fail at once, without touching the stream.
    reads = stream.reads
    with pytest.raises(MachineDied, match="the machine is gone"):
        console.pump(1.0)
    assert stream.reads == reads


def test_eof_during_wait_for() -> None:
    console, _ = make_console(FakeStream([b"booting\n"], eof=True))
    with pytest.raises(MachineDied):
        console.wait_for(re.compile("DOM0-READY"), 0, 60.0, lambda d: GuestSilent(d))


def test_wait_for_times_out_with_the_given_error() -> None:
    made: list[HarnessError] = []

    def on_timeout(detail: str) -> HarnessError:
        err = GuestSilent(f"g1-A: {detail}", "tail", LOG_PATH)
        made.append(err)
        return err

    console, _ = make_console(FakeStream([b"(XEN) something else\n"]))
    start = time.monotonic()
    with pytest.raises(GuestSilent) as exc:
        console.wait_for(re.compile(r"EVT DONE"), 0, 0.2, on_timeout)
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 3.0
    assert made == [exc.value]
    assert exc.value.detail == "g1-A: no line matching /EVT DONE/ within 0s"
    assert len(console.lines) == 1  # it kept reading while it waited


def test_wait_for_since_and_accept() -> None:
    console, _ = make_console(FakeStream([b"v 1\nv 2\n", b"v 3\n", b"v 4\n"]))
    pattern = re.compile(r"v (\d)")
    line, m = console.wait_for(pattern, 0, 5.0, lambda d: GuestSilent(d))
    assert (line.index, m.group(1)) == (0, "1")
    line, m = console.wait_for(pattern, 1, 5.0, lambda d: GuestSilent(d), accept=lambda ln: ln.text != "v 2")
    assert (line.index, m.group(1)) == (2, "3")  # read on demand from the stream
    line, m = console.wait_for(pattern, 3, 5.0, lambda d: GuestSilent(d))
    assert isinstance(line, Line) and line.text == "v 4"


def test_around() -> None:
    console, _ = make_console(FakeStream(["".join(f"l{i}\n" for i in range(20)).encode()]))
    console.pump(1.0)
    assert console.around(10, before=2, after=1) == "l8\nl9\nl10\nl11"
    assert console.around(0, before=5, after=0) == "l0"


def test_xen_line_cutting_into_a_dom0_line_is_split_off_and_the_dom0_line_rejoined() -> None:
    cut = b"[g1-A] EVT RESULT case=x li(XEN) uart interrupt\r\nne=3 verdict=PASS\r\n"
    stream = FakeStream([cut, b"(XEN) next\r\n"])
    console, _ = make_console(stream)
    console.pump(0.1)
    console.pump(0.1)
    texts = [ln.text for ln in console.lines]
    assert texts == ["(XEN) uart interrupt", "[g1-A] EVT RESULT case=x line=3 verdict=PASS", "(XEN) next"]


def test_a_quiet_console_is_nudged_with_an_empty_line() -> None:
    # dom0's output sometimes waits for the next input: an empty line brings it out.
    stream = FakeStream(respond=lambda text: b"late output\r\n" if text == "\n" else b"")
    console, log = make_console(stream)
    line, _ = console.wait_for(re.compile("late output"), 0, 5.0, lambda d: GuestSilent(d), nudge=0.2)
    assert line.text == "late output" and stream.sent == ["\n"]
    assert b"nudging the console" in log.getvalue()


def test_without_nudge_nothing_is_sent() -> None:
    stream = FakeStream(respond=lambda text: b"late output\r\n")
    console, _ = make_console(stream)
    with pytest.raises(GuestSilent):
        console.wait_for(re.compile("late output"), 0, 0.5, lambda d: GuestSilent(d))
    assert stream.sent == []


def test_a_note_never_cuts_a_line_in_the_saved_log() -> None:
    """A note made while the machine is part way through a line waits for its end: the
    saved log parses as the machine printed it."""
    stream = FakeStream([b"[g1-A] EVT CASE-BEGIN x reset", b" ports=2\r\n(XEN) next\r\n"])
    console, log = make_console(stream)
    console.pump(0.1)
    console.note("[harness -> dom0] sh /evt/create g2 data/evtchn-test A")
    console.pump(0.1)
    console.note("[harness -> dom0] true")
    assert log.getvalue().decode().split("\n") == [
        "[g1-A] EVT CASE-BEGIN x reset ports=2\r",
        "[harness -> dom0] sh /evt/create g2 data/evtchn-test A",
        "(XEN) next\r",
        "[harness -> dom0] true",
        "",
    ]


def test_lines_that_come_by_the_channel_are_kept_and_logged_between_serial_lines() -> None:
    stream = FakeStream([b"(XEN) half a li", b"ne\r\n"])
    console, log = make_console(stream)
    console.pump(0.1)
    console.feed_side(b"[g1-A] EVT BOOT domid=1\n[g1-A] EVT RES")
    console.feed_side(b"ULT case=x\n")
    console.pump(0.1)
    texts = [ln.text for ln in console.lines]
    assert texts == ["[g1-A] EVT BOOT domid=1", "[g1-A] EVT RESULT case=x", "(XEN) half a line"]
    assert log.getvalue().decode().split("\n") == [
        "(XEN) half a line\r",
        "[g1-A] EVT BOOT domid=1",
        "[g1-A] EVT RESULT case=x",
        "",
    ]
