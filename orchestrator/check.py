"""`python -m orchestrator check FILES...`: case files checked as the guests will read them, without a boot.

Every problem is printed as `file:line: message`. The errno names of expectations are
checked against Xen's xen/errno.h when its headers are at hand: EVT_XEN_INCLUDE, or the
include directory of build/debian/<suite>/manifest.json (`make setup` writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import baseline, sources
from .baseline import BaselineError
from .cases.errnos import ERRNO_H, read_errnos
from .cases.model import Case
from .cases.parse import check_files
from .errors import CaseFileError, SetupError

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
INCLUDE_ENV = "EVT_XEN_INCLUDE"


def manifest_for(xen: str) -> Path | None:
    """build/debian/<suite>/manifest.json of the Xen under test; None for a source tree
    (src:), whose headers are its own. SetupError for a --xen that `run` would refuse
    before booting: `check` must not pass what cannot run."""
    sources.check(xen)
    suite = sources.find(xen).suite(xen)
    return None if suite is None else BUILD / "debian" / suite / "manifest.json"


def include_for(xen: str) -> Path | None:
    """Xen's public headers: $EVT_XEN_INCLUDE, else the suite's manifest; None if neither is there."""
    manifest = manifest_for(xen)  # --xen is checked even when the headers come from the environment
    env = os.environ.get(INCLUDE_ENV)
    if env:
        include = Path(env)
        if not (include / ERRNO_H).is_file():
            raise SetupError(
                f"{INCLUDE_ENV}={env}: no {ERRNO_H} there: it names the directory of Xen's public headers "
                "(the one holding xen/errno.h, e.g. .../usr/include), or leave it unset"
            )
        return include
    if manifest is None or not manifest.exists():
        return None
    return Path(json.loads(manifest.read_text())["include"])


def errnos_for(xen: str) -> frozenset[str] | None:
    include = include_for(xen)
    return read_errnos(include) if include is not None else None


def load_checked(paths: list[Path], errnos: frozenset[str] | None) -> list[Case]:
    """The cases of the files, or CaseFileError naming every problem."""
    cases, problems = check_files(paths, errnos)
    if problems:
        raise CaseFileError("\n".join(problems))
    return cases


def cmd_check(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    errnos = errnos_for(args.xen)
    cases, problems = check_files(paths, errnos)
    try:
        baseline.read_all()  # as a run reads them before its boot
    except BaselineError as e:
        problems.append(e.detail)
    for p in problems:
        print(p)
    if errnos is None:
        print(
            f"note: errno names were not checked: no Xen headers (run `make setup`, or set {INCLUDE_ENV})",
            file=sys.stderr,
        )
    if problems:
        print(f"{len(problems)} problem(s) in {len(paths)} file(s)", file=sys.stderr)
        return 1
    print(f"{len(paths)} file(s), {len(cases)} case(s): ok")
    return 0
