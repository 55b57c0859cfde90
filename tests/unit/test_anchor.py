"""orchestrator.anchor: what the bench's anchor boots (no QEMU here; bench runs it)."""

from __future__ import annotations

from orchestrator.anchor import script


def test_the_anchor_script_makes_and_closes_one_channel() -> None:
    text = script()
    steps = [ln.split()[1] for ln in text.splitlines() if ln[:1].isdigit()]  # "<line> <op> ..."
    assert steps == ["alloc_unbound", "close"]
