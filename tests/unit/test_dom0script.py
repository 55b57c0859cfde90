"""dom0script.wait: Dom0's script is waited for by the rule a guest is, by the group's
silence and not by a fixed timer (a fake console fed over time, no QEMU)."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator import dom0script
from orchestrator.cases.model import SLOW_HOST_CAP, deadline
from orchestrator.errors import Dom0CommandFailed
from tests.unit.fakes import CRLF, FakeDom0Shell, make_dom0


def test_the_deadline_is_the_budget_then_the_groups_silence_up_to_the_cap() -> None:
    assert deadline(100.0, 10.0, 0.0) == 110.0  # nothing printed: the budget
    assert deadline(100.0, 10.0, 105.0) == 115.0  # a line at 105: silence as long as the budget
    assert deadline(100.0, 10.0, 50.0) == 110.0  # a line before the start shortens nothing
    assert deadline(100.0, 10.0, 1000.0) == 100.0 + SLOW_HOST_CAP * 10.0  # never past the cap


def feed(dom0_stream_queue: object, lines: list[tuple[float, str]]) -> threading.Thread:
    """Each line put on the console at its time (seconds from now)."""

    def run() -> None:
        start = time.monotonic()
        for at, text in lines:
            time.sleep(max(start + at - time.monotonic(), 0.0))
            dom0_stream_queue.append(text.encode() + CRLF)  # type: ignore[attr-defined]

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_script_slower_than_its_budget_is_waited_for_while_its_group_prints() -> None:
    shell = FakeDom0Shell()
    dom0 = make_dom0(shell)
    # A budget of 0.4 s; the script takes 1.2 s, its guest printing every 0.2 s meanwhile.
    lines = [(0.2 * k, f"[g3-A] EVT FUZZ-PROGRESS ops={k}") for k in range(1, 6)]
    feeder = feed(dom0.console.stream.queue, [*lines, (1.2, "[g3-Dom0] EVT DONE pass=1 fail=0")])  # type: ignore[attr-defined]
    dom0script.wait(dom0, "g3-Dom0", 0, time.monotonic(), 0.4)
    feeder.join()
    assert not any("killall" in c for c in shell.commands)


def test_a_silent_script_is_stopped_after_its_budget() -> None:
    shell = FakeDom0Shell()
    dom0 = make_dom0(shell)
    feed(dom0.console.stream.queue, [(0.05, "[g4-A] EVT CASE-BEGIN x"), (0.05, "[g9-A] another group's line")])  # type: ignore[attr-defined]
    start = time.monotonic()
    with pytest.raises(Dom0CommandFailed, match="no EVT DONE from /evt/evtchn-op within its budget"):
        dom0script.wait(dom0, "g4-Dom0", 0, start, 0.3)
    assert time.monotonic() - start < 0.3 * SLOW_HOST_CAP
    assert any("killall evtchn-op" in c for c in shell.commands)
