"""Every way a run can go wrong, each with the evidence a Xen developer needs."""

from __future__ import annotations

from pathlib import Path

from .outcome import Outcome


class HarnessError(Exception):
    """A failure of the stack under test or of the harness, never of a case."""

    what = "harness error"
    outcome = Outcome.ERROR  # nothing is known about Xen's answer; a crash says more

    def __init__(self, detail: str, log_tail: str = "", log_path: Path | None = None) -> None:
        self.detail = detail
        self.log_tail = log_tail
        self.log_path = log_path
        self.evidence: list[str] = []  # what was gathered after it happened (lastops.py)
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.what}: {self.detail}"
        if self.evidence:
            text += "\n" + "\n".join(self.evidence)
        if self.log_tail:
            text += "\n--- last lines of the serial log ---\n" + self.log_tail.rstrip()
        if self.log_path is not None:
            text += f"\n--- full serial log: {self.log_path}"
        return text


class SetupError(HarnessError):
    what = "set-up failed"


class CaseFileError(HarnessError):
    what = "malformed case file"


class XenPanic(HarnessError):
    what = "Xen panicked"
    outcome = Outcome.CRASH


class MachineDied(HarnessError):
    what = "QEMU exited"


class Dom0NotReady(HarnessError):
    what = "dom0 did not become ready"


class Dom0ChannelLost(MachineDied):
    """The command channel to dom0's agent broke: the machine cannot be driven on."""

    what = "dom0's command channel broke"


class Dom0CommandFailed(HarnessError):
    what = "dom0 command failed"


class DomainCreateFailed(HarnessError):
    what = "xl create failed"


class GuestCrashed(HarnessError):
    what = "guest crashed"
    outcome = Outcome.CRASH


class GuestSilent(HarnessError):
    what = "guest silent past its timeout"


class GuestDied(HarnessError):
    what = "guest domain died mid-run"
