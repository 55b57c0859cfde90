"""Harness C code built for the host, with ASan and UBSan, for the tests that drive it: the script
engine (script/, on the include path), dom0's agent, the guest's fuzz ring layout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.check import INCLUDE_ENV, include_for

REPO = Path(__file__).resolve().parents[2]


def xen_include() -> Path:
    """Xen's public headers of the suite under test (what `make setup` fetched)."""
    inc = include_for("bookworm")
    if inc is None or not (inc / "xen" / "errno.h").exists():
        pytest.fail(f"no Xen headers for the host build: run `make setup`, or set {INCLUDE_ENV}=<xen include dir>")
    return inc


def build(out: Path, include: Path, *sources: Path) -> Path:
    """gcc with the guest's warnings and both sanitizers; a failed build fails the test."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to build the harness's C code for the host")
    cmd = [
        gcc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
        "-include", "stdint.h", "-D__XEN_INTERFACE_VERSION__=0x00040d00",
        f"-I{REPO / 'script'}", f"-I{include}", "-o", str(out), *map(str, sources),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building {out.name} failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return out
