"""The privileged domain's part of a case, run inside dom0.

A case may give steps to `Dom0`: they are compiled like any guest's script and run by
`evtchn-op` (dom0/), which links the guests' own interpreter (guest/script_core.c):
hypercalls through the dom0 kernel's privcmd driver, rendezvous with the guests through
its xenbus device, under /local/domain/0 where every domain may read. Each step prints a
``[g<N>-Dom0] EVT RESULT ...`` line in the guests' own format, so one parser reads them all.
"""

from __future__ import annotations

import shlex

from . import lang
from .dom0 import Dom0
from .errors import HarnessError

TOOL = "/evt/evtchn-op"


def command(name: str, script_path: str, domids: dict[str, int]) -> str:
    """The dom0 shell command that runs one group's Dom0 script; names must be tokens."""
    for role in domids:
        if not lang.is_domain(role):
            raise HarnessError(f"domain name {role!r} is not a token")
    roles = " ".join(f"{role}={domid}" for role, domid in domids.items())
    return f"{TOOL} {shlex.quote(name)} {shlex.quote(script_path)} {roles}".rstrip()


def run(dom0: Dom0, name: str, script_path: str, domids: dict[str, int], timeout: float) -> None:
    """Run it to its end (its lines reach the console as they are printed)."""
    dom0.run(command(name, script_path, domids), timeout=timeout)
