"""How a case, a domain or a whole run ended: one ordered scale for all of them.

The order follows XTF's (success < skip < error < failure), with a crash the
worst of all: a status can only get worse as evidence comes in, and a run is as
bad as its worst case.

- PASS:  every step ran and Xen answered as its source says.
- SKIP:  the harness chose not to run the case (nothing does so today).
- ERROR: the harness or its infrastructure failed (xl create, a silent guest, a
         lost or unreadable result line): nothing is known about Xen's answer.
- FAIL:  Xen answered a step other than expected: a finding about Xen.
- CRASH: a guest faulted, or Xen or dom0 panicked.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable


@functools.total_ordering
class Outcome(enum.Enum):
    PASS = 0
    SKIP = 1
    ERROR = 2
    FAIL = 3
    CRASH = 4

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return self.value < other.value

    @property
    def exit_code(self) -> int:
        """What `python -m orchestrator run|parse` exits with when this is the worst outcome."""
        return EXIT_CODES[self]


# xtf-runner's numbers: 1 stays Python's own (an uncaught exception is a harness bug)
# and 2 argparse's (bad usage); 130 is Ctrl-C and 143 SIGTERM, set by the CLI.
EXIT_CODES = {Outcome.PASS: 0, Outcome.SKIP: 3, Outcome.ERROR: 4, Outcome.FAIL: 5, Outcome.CRASH: 6}


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, default=Outcome.PASS)
