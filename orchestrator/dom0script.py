"""The privileged domain's part of a case, run inside dom0.

A case may give steps to `Dom0`: they are compiled like any guest's script and run by
`evtchn-op` (dom0/), which links the guests' own interpreter (script/script_core.c):
hypercalls through the dom0 kernel's privcmd driver, rendezvous with the guests through
its xenbus device, under /local/domain/0 where every domain may read. Each step prints a
``[g<N>-Dom0] EVT RESULT ...`` line in the guests' own format, so one parser reads them all.
"""

from __future__ import annotations

import re
import shlex
import time

from . import lang
from .cases.model import SLOW_HOST_CAP, deadline
from .dom0 import Dom0
from .errors import Dom0CommandFailed, HarnessError
from .evtlines import TAG

TOOL = "/evt/evtchn-op"


def command(name: str, script_path: str, domids: dict[str, int]) -> str:
    """The dom0 shell command that runs one group's Dom0 script; names must be tokens."""
    for role in domids:
        if not lang.is_domain(role):
            raise HarnessError(f"domain name {role!r} is not a token")
    roles = " ".join(f"{role}={domid}" for role, domid in domids.items())
    return f"{TOOL} {shlex.quote(name)} {shlex.quote(script_path)} {roles}".rstrip()


# Stops a script that did not end (dom0 runs one group's at a time).
STOP = "killall evtchn-op 2>/dev/null"


def start(dom0: Dom0, name: str, script_path: str, domids: dict[str, int]) -> int:
    """Start it in the background, its lines going to the console as they are printed; the
    console index its lines come after. In the background, so the guests need not wait for
    whatever else dom0 is asked meanwhile (creating the next group's domains)."""
    since = len(dom0.console.lines)
    dom0.spawn(command(name, script_path, domids))
    return since


class _Quiet(HarnessError):
    """No line of the group within the time left: the deadline is looked at again."""


def wait(dom0: Dom0, name: str, since: int, start: float, budget: float) -> None:
    """Until its EVT DONE line, by the rule a guest is waited for (cases.model.deadline):
    `budget` seconds from `start`, and longer while its group (g<N>-...) keeps printing, so
    a slow host is not taken for a hung script. A refusal of evtchn-op's own (exit 2: no
    script, no device) ends the wait at once. One that does not end is stopped: nothing
    is left running."""
    group = name.rpartition("-")[0]
    line_of_group = re.compile(rf"^\[{re.escape(group)}-[^]]+\] |^evtchn-op: ")
    done = re.compile(rf"^\[{re.escape(name)}\] EVT {TAG['DONE']} ")
    progress_at = 0.0
    cursor = since
    while (left := deadline(start, budget, progress_at) - time.monotonic()) > 0:
        try:
            line, _ = dom0.console.wait_for(line_of_group, cursor, left, _Quiet)
        except _Quiet:
            continue  # the deadline may have moved: the loop looks again
        cursor = line.index + 1
        progress_at = line.time
        if line.text.startswith("evtchn-op: "):
            raise Dom0CommandFailed(f"{name}: {line.text}", dom0.console.tail(), dom0.console.log_path)
        if done.search(line.text):
            return
    dom0.run_rc(STOP)
    raise Dom0CommandFailed(
        f"{name}: no EVT DONE from {TOOL} within its budget of {budget:.0f}s, nor any line "
        f"of its group for as long (at most {SLOW_HOST_CAP} budgets)",
        dom0.console.tail(),
        dom0.console.log_path,
    )
