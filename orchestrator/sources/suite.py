"""A Debian suite's Xen: hypervisor, toolstack, headers and dom0, all from its packages."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import SUITES, Artifacts, fetch
from . import Source


def _prepare(spec: str, build: Path, coverage: bool) -> Artifacts:
    return fetch(spec, build)


def _check(spec: str) -> None:
    pass  # matched by name: nothing more to say before fetching


SOURCE = Source(
    form=f"a Debian suite ({', '.join(SUITES)})",
    help="Debian's Xen and dom0 (" + ", ".join(f"{s.name}: Xen {s.xen_series}" for s in SUITES.values()) + ")",
    matches=lambda spec: spec in SUITES,
    check=_check,
    prepare=_prepare,
    suite=lambda spec: spec,
)
