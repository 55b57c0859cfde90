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
import time
from pathlib import Path

from .artifacts import Artifacts
from .cases.compile import compile_group
from .cases.parse import load
from .cases.plan import plan
from .console import Console
from .errors import HarnessError, SetupError
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
# The guest needs little memory; Xen's own set-up of a 1 GiB dom0 is not what is measured.
DOM0_MEM = "dom0_mem=64M,max:64M"


def script() -> str:
    """The anchor case compiled as the guest reads it."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "anchor.evt"
        path.write_text(CASE)
        (group,) = plan(load([path]))
        return compile_group(group)["A"]


def xen_cmdline(base: str) -> str:
    """The harness's Xen command line with a small dom0."""
    return re.sub(r"\bdom0_mem=\S+", DOM0_MEM, base)


def boot_seconds(
    arts: Artifacts, guest: Path, xen_cmdline_text: str, out: Path, cfg: QemuConfig | None = None
) -> float:
    """QEMU start to the guest's first result line, once; QEMU is gone when it returns."""
    import pexpect

    cfg = cfg or QemuConfig()
    out.mkdir(parents=True, exist_ok=True)
    script_path = out / "anchor.script"
    script_path.write_text(script())
    for p in (arts.xen, guest, script_path):
        if "," in str(p) or " " in str(p):
            raise SetupError(f"{p}: QEMU's option lists cannot take commas or spaces in paths")
    argv = [
        cfg.binary, "-accel", cfg.accel, "-cpu", cfg.cpu, "-smp", str(cfg.smp), "-m", str(cfg.memory_mb),
        *cfg.extra,
        "-kernel", str(arts.xen), "-append", xen_cmdline(xen_cmdline_text),
        "-initrd", f"{guest},{script_path}",
    ]  # fmt: skip
    log_path = out / "serial.log"
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        start = time.monotonic()
        child = pexpect.spawn(argv[0], argv[1:], echo=False)
        try:
            console = Console(child, log, log_path)  # type: ignore[arg-type]
            line, _ = console.wait_for(
                FIRST_RESULT,
                0,
                TIMEOUT_S,
                lambda d: HarnessError(f"the anchor (our guest as dom0): {d}", console.tail(), log_path),
            )
            return line.time - start
        finally:
            child.terminate(force=True)
            child.close(force=True)
