"""The bench's anchor: Xen booted with our guest as its dom0, as XTF boots a test.

Absolute times differ between hosts; a figure stated as a multiple of something measured
in the same run on the same host does not. The anchor is the cheapest real thing this
harness can do: QEMU starts Xen, Xen starts the guest kernel as dom0 with a two-step
script on its command-line module, and the guest prints its first result line. No dom0
kernel, no toolstack, no saved machine: the same work XTF's boot-per-test does.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from . import direct
from .artifacts import Artifacts
from .cases.compile import compile_group
from .cases.parse import load
from .cases.plan import plan
from .evtlines import TAG
from .machine import QemuConfig

CASE = """case anchor
title   the bench's anchor: one channel made and closed by the guest booted as dom0
domains A
source  xen/common/event_channel.c: evtchn_alloc_unbound(), evtchn_close()
A alloc_unbound self self -> ok => p
A close $p                -> ok
"""
FIRST_RESULT = re.compile(rf"EVT {TAG['RESULT']} ")
TIMEOUT_S = 120.0


def script() -> str:
    """The anchor case compiled as the guest reads it."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "anchor.evt"
        path.write_text(CASE)
        (group,) = plan(load([path]))
        return compile_group(group)["A"]


def boot_seconds(
    arts: Artifacts, guest: Path, xen_cmdline_text: str, out: Path, cfg: QemuConfig | None = None
) -> float:
    """QEMU start to the guest's first result line, once; QEMU is gone when it returns."""
    got = direct.boot(arts, guest, direct.xen_cmdline(xen_cmdline_text), script(), out, FIRST_RESULT, TIMEOUT_S, cfg)
    if got.error is not None:
        raise got.error
    return got.seconds
