"""The fast path (`run --direct`): a case that needs no toolstack, run as XTF runs a test.

QEMU starts Xen, Xen starts our guest as its dom0 with the case's script as its boot
module, and the guest's lines come straight off the serial line: no dom0 kernel, no xl,
no saved machine to restore. One boot per case, so each case has a domain of its own.

Only a case of one domain, `A`, whose xl config is the default can run so: as dom0 the
guest is the privileged domain, and what xl would set (a port limit, IRQs granted) is
not there to set. Its answers are held to the same expectations as in a domU (`agree`
compares a direct run with a normal one); a case that cannot run so is named, with why.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import baseline, log
from .artifacts import Artifacts
from .baseline import Known
from .cases.compile import compile_group
from .cases.model import DEFAULT_MAX_EVENT_CHANNELS, SLOW_HOST_CAP, Case
from .cases.plan import Group, plan
from .console import Console, Line
from .errors import HarnessError
from .evtlines import TAG
from .machine import QemuConfig, qemu_base
from .outcome import Outcome, worst
from .results import CaseResult, DomainReport, GroupResult, parse

ROLE = "A"
# The guest needs little memory; Xen's own set-up of a 1 GiB dom0 is not what is measured.
DOM0_MEM = "dom0_mem=64M,max:64M"
BOOT_S = 60.0  # QEMU start to the guest's first line, on a slow host; a case's budget comes on top
END = re.compile(rf"^EVT (?:{TAG['DONE']}|{TAG['CRASH']}) ")


def refusal(case: Case) -> str | None:
    """Why `case` cannot run with the guest as dom0, or None if it can."""
    if case.domains != (ROLE,):
        return f"it has domains {' '.join(case.domains)}: only a case of domain {ROLE} alone runs as dom0"
    if case.irqs:
        return "it is granted IRQs, which only xl grants"
    if case.max_event_channels != DEFAULT_MAX_EVENT_CHANNELS:
        return "it sets max_event_channels, which only xl sets"
    return None


def script(group: Group) -> str:
    """The group's script for A as dom0. With no xenstore there is nobody to ask A's domain
    id, and a dom0 has id 0: the script names it so."""
    return re.sub(rf"@{ROLE}\b", "0", compile_group(group)[ROLE])


def xen_cmdline(base: str, vcpus: int = 1) -> str:
    """The harness's Xen command line with a small dom0 of `vcpus` vcpus."""
    line = re.sub(r"\bdom0_mem=\S+", DOM0_MEM, base)
    return re.sub(r"\bdom0_max_vcpus=\S+", f"dom0_max_vcpus={vcpus}", line)


@dataclass
class Boot:
    lines: list[Line]  # everything the serial line showed
    seconds: float  # QEMU start to the line waited for, or to the error
    error: HarnessError | None  # a Xen panic (XenPanic), or no such line in time


def boot(
    arts: Artifacts,
    guest: Path,
    cmdline: str,
    script: str,
    out: Path,
    until: re.Pattern[str],
    timeout: float,
    cfg: QemuConfig | None = None,
) -> Boot:
    """Xen with our guest as dom0 and `script` as its module, until a line matches `until`,
    Xen panics (the console's bad patterns) or `timeout` passes. QEMU is gone when it returns."""
    import pexpect

    cfg = cfg or QemuConfig()
    out.mkdir(parents=True, exist_ok=True)
    script_path = out / "dom0.script"
    script_path.write_text(script)
    argv = [
        *qemu_base(cfg, arts.xen, guest, script_path),
        "-kernel", str(arts.xen), "-append", cmdline,
        "-initrd", f"{guest},{script_path}",
    ]  # fmt: skip
    log_path = out / "serial.log"
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        start = time.monotonic()
        child = pexpect.spawn(argv[0], argv[1:], echo=False)
        console = Console(child, log, log_path)  # type: ignore[arg-type]
        try:
            line, _ = console.wait_for(
                until,
                0,
                timeout,
                lambda d: HarnessError(f"our guest as dom0: {d}", console.tail(), log_path),
            )
            return Boot(console.lines, line.time - start, None)
        except HarnessError as e:
            return Boot(console.lines, time.monotonic() - start, e)
        finally:
            child.terminate(force=True)
            child.close(force=True)


def run_case(arts: Artifacts, guest: Path, cmdline: str, group: Group, out: Path) -> GroupResult:
    """One case's group with the guest as dom0; whatever goes wrong is the result's error."""
    result = GroupResult(group)
    name = f"g{group.index}-{ROLE}"
    start = time.monotonic()
    budget = sum(c.budget for c in group.cases)
    got = boot(
        arts, guest, xen_cmdline(cmdline, group.config.vcpus), script(group),
        out / f"g{group.index}", END, BOOT_S + SLOW_HOST_CAP * budget,
    )  # fmt: skip
    result.error = got.error
    # The guest's lines named as a relay names them, so one parser reads both paths.
    named = parse(f"[{name}] {ln.text}" for ln in got.lines if ln.text.startswith("EVT "))
    result.reports[ROLE] = named.get(name, DomainReport(name))
    result.run_seconds = time.monotonic() - start
    return result


def booted_xen(result: GroupResult) -> str:
    """The Xen version the guest's BOOT line names, "" if it printed none."""
    return result.reports[ROLE].boot.get("xen", "") if result.reports[ROLE].boot else ""


@dataclass
class DirectRun:
    results: list[CaseResult]
    refused: list[tuple[Case, str]]  # not run, and why
    header: dict[str, str]
    known: list[Known]
    seconds: float

    @property
    def outcome(self) -> Outcome:
        return worst([r.outcome for r in self.results])


def run(arts: Artifacts, guest: Path, cases: list[Case], out: Path, cmdline: str) -> DirectRun:
    """Every case that can run as dom0, a boot each; the others named with why. Verdicts
    and the Xen's baseline as `run` gives them."""
    start = time.monotonic()
    why = {c.name: refusal(c) for c in cases}
    refused = [(c, w) for c in cases if (w := why[c.name]) is not None]
    done: list[GroupResult] = []
    # A group per case, as `--fresh` makes them.
    for g in plan([c for c in cases if why[c.name] is None], fresh=True):
        with log.step(f"{g.cases[0].name}: our guest as dom0"):
            done.append(run_case(arts, guest, cmdline, g, out))
    results = [r for g in done for r in g.case_results()]
    xen = next((x for g in done if (x := booted_xen(g))), "")
    header = {"xen_version": xen or "?", "mode": "direct: our guest as Xen's dom0, a boot per case"}
    header |= arts.header()
    known = baseline.read(baseline.path_for(xen)) if xen else []
    applied, _ = baseline.apply(results, known)
    return DirectRun(results, refused, header, applied, time.monotonic() - start)
