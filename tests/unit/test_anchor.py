"""orchestrator.anchor: what the bench's anchor boots (no QEMU here; bench runs it)."""

from __future__ import annotations

from orchestrator.anchor import DOM0_MEM, script, xen_cmdline
from orchestrator.runner import xen_config_text


def test_the_anchor_script_makes_and_closes_one_channel() -> None:
    text = script()
    steps = [ln.split()[1] for ln in text.splitlines() if ln[:1].isdigit()]  # "<line> <op> ..."
    assert steps == ["alloc_unbound", "close"]


def test_the_anchor_boots_xen_as_the_harness_does_with_a_small_dom0() -> None:
    base = xen_config_text("xen.cmdline")
    line = xen_cmdline(base)
    assert DOM0_MEM in line and line.count("dom0_mem=") == 1
    assert set(line.split()) - {DOM0_MEM} == set(base.split()) - {w for w in base.split() if w.startswith("dom0_mem=")}
