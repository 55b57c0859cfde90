"""pipeline.run_parallel: machines side by side, and a run given up stops all of them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from orchestrator import pipeline


class FakeSession:
    """Runs its groups until abandoned, as a session waiting on its machine would."""

    def __init__(self, name: str) -> None:
        self.groups = [name]
        self.abandoned = False
        self.stopped = threading.Event()
        self.ran = 0

    def run_groups(self, groups: list[str]) -> list[Any]:
        for _ in range(200):  # 10 s unless abandoned
            if self.abandoned:
                break
            self.ran += 1
            time.sleep(0.05)
        return []

    def abandon(self) -> None:
        self.abandoned = True
        self.stopped.set()


def test_an_interrupt_abandons_every_session_before_the_pool_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = [FakeSession("m1"), FakeSession("m2")]

    def interrupted(*_: object) -> list[Any]:
        raise KeyboardInterrupt  # as the signal handler raises it in the main thread

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr("concurrent.futures.Future.result", interrupted)
        pipeline.run_parallel(sessions)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert all(s.stopped.is_set() for s in sessions)
    assert time.monotonic() - start < 5  # not the 10 s the sessions would have run on


def test_results_come_back_in_group_order() -> None:
    class Done:
        def __init__(self, index: int) -> None:
            self.group = type("G", (), {"index": index})()

    class Quick:
        def __init__(self, indexes: list[int]) -> None:
            self.groups = indexes

        def run_groups(self, groups: list[int]) -> list[Any]:
            return [Done(i) for i in groups]

        def abandon(self) -> None:
            raise AssertionError("nothing went wrong")

    out = pipeline.run_parallel([Quick([2, 4]), Quick([1, 3])])  # type: ignore[list-item]
    assert [r.group.index for r in out] == [1, 2, 3, 4]


def test_machines_whose_vcpus_outnumber_the_cores_are_said_to() -> None:
    """--jobs 2 on 2 cores: each machine's 2 vcpus take turns with the other's."""
    said = pipeline.oversubscribed(2, 2, 2)
    assert said is not None and "2 machines of 2 vcpus on 2 host cores" in said
    assert pipeline.oversubscribed(2, 2, 4) is None
    assert pipeline.oversubscribed(1, 2, 1) is None  # one machine: nothing to share with
