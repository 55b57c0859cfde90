"""A guest domain, created and destroyed with the real `xl` in dom0."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from .cases.model import SLOW_HOST_CAP
from .cases.model import deadline as group_deadline
from .console import Console
from .dom0 import COMMAND_TIMEOUT, NUDGE_S, Dom0, Pending
from .errors import Dom0CommandFailed, DomainCreateFailed, GuestCrashed, GuestDied, GuestSilent, HarnessError
from .evtlines import TAG
from .results import DomainReport, parse

CONSOLE_LOG = "/var/log/xen/console/guest-{name}.log"
XL_LOG = "/var/log/xen/xl-{name}.log"
SHUTDOWN = re.compile(r"has shut down, reason code (\d+)")
# What our guest means by the SHUTDOWN_* reasons it uses (docs/guest-script.md).
GUEST_MEANS = {"poweroff": "all passed", "reboot": "a step failed", "crash": "the guest faulted"}
# The harness's folder in each domain's xenstore home; guest/script.c uses the same.
XS_DIR = "data/evtchn-test"
# How often a guest that prints nothing is checked on (`xl list` and its xl log): a domain
# that stops mid-run is named within about this long, not at its timeout.
ALIVE_CHECK_S = 4.0
# ... and how often the answer to a check is looked for, once asked.
PROBE_LOOK_S = 0.25
# The guest shuts down right after its DONE line: its reason is in xl's log at once.
SHUTDOWN_POLL_S = 0.1
# The relay's last line (xen-config/relay.sh), once xenconsoled has closed the guest's
# console: everything the guest wrote is in by then.
RELAY_END = "-- console closed --"


def xs_path(domid: int, *parts: str) -> str:
    """A path in the harness's folder of a domain's xenstore home."""
    return "/".join([f"/local/domain/{domid}", XS_DIR, *parts])


@dataclass(frozen=True)
class ShutdownReasons:
    """SHUTDOWN_* codes, as the public xen/sched.h of the Xen under test defines them."""

    names: dict[int, str]  # 0 -> "poweroff", ...

    def code(self, name: str) -> int:
        return next(c for c, n in self.names.items() if n == name)

    def describe(self, code: int | None) -> str:
        if code is None:
            return "none seen"
        name = self.names.get(code, f"unknown reason {code}")
        return f"{name} ({GUEST_MEANS[name]})" if name in GUEST_MEANS else name


def read_shutdown_reasons(include: Path) -> ShutdownReasons:
    path = include / "xen" / "sched.h"
    found = re.findall(r"#define\s+SHUTDOWN_(\w+)\s+(\d+)\b", path.read_text())
    names = {int(v): n for n, v in found if n != "MAX"}  # SHUTDOWN_MAX repeats the last
    if not all(n in names.values() for n in GUEST_MEANS):
        raise ValueError(f"{path} lacks SHUTDOWN_{{{','.join(GUEST_MEANS)}}}")
    return ShutdownReasons(names)


class Domain:
    def __init__(self, dom0: Dom0, name: str, role: str, cfg_path: str, reasons: ShutdownReasons) -> None:
        self.dom0 = dom0
        self.name = name  # its name in the run (g1-A), unique; xl's too, but for a standby's
        # xl's name for it: a domain that stood by in the saved machine keeps the one it was
        # made with (create.sh ROLE@NAME: `xl rename` cost dom0 a fifth of a second).
        self.xl_name = name
        self.role = role  # the name cases use (A, B)
        self.cfg_path = cfg_path
        self.reasons = reasons
        self.domid = -1
        self.created_at = 0.0  # 0: `xl create` was never tried
        self.create_seconds = 0.0  # how long its relay and `xl create` took
        self._since: int | None = None  # first console line that can be this domain's
        self._relay = False
        self._closing: Pending | None = None  # its destroy, asked by the alive check
        self._probe: Pending | None = None  # an alive check under way (_check_alive)

    @property
    def console(self) -> Console:
        return self.dom0.console

    def creating(self) -> None:
        """`xl create` is about to be tried (by start_create): its console lines start here."""
        self.created_at = time.monotonic()
        self._since = len(self.console.lines)
        self._relay = True

    def _stop_relay(self) -> str:
        return f"kill $(cat {self._relay_pid}) 2>/dev/null; rm -f {self._relay_pid}"

    @property
    def _relay_pid(self) -> str:
        return f"/run/relay-{self.name}.pid"

    def lines(self) -> list[str]:
        """This domain's console lines so far; none before `xl create` was tried."""
        if self._since is None:
            return []
        prefix = f"[{self.name}] "
        return [ln.text for ln in self.console.lines[self._since :] if ln.text.startswith(prefix)]

    def boot_line_time(self) -> float | None:
        """When its EVT BOOT line came: read off the console, so a domain that Dom0's
        script destroyed, which nobody waited for, has it too."""
        if self._since is None:
            return None
        boot = f"[{self.name}] EVT {TAG['BOOT']}"
        return next((ln.time for ln in self.console.lines[self._since :] if ln.text.startswith(boot)), None)

    def report(self) -> DomainReport:
        return parse(self.lines()).get(self.name, DomainReport(self.name))

    def wait_done(
        self, timeout: float, after_boot: float | None = None, peers: tuple[Domain, ...] = ()
    ) -> DomainReport:
        try:
            return self._wait_done(timeout, after_boot, peers)
        finally:
            for d in (self, *peers):
                d._stop_probe()  # an alive check still under way is not wanted any more

    def _wait_done(self, timeout: float, after_boot: float | None, peers: tuple[Domain, ...]) -> DomainReport:
        """Wait for the guest's EVT DONE line; fail fast on a crash or a dead domain,
        this one's or a peer's of its group (which this one may be waiting for).

        `timeout` counts from now, until the guest's BOOT line. From there `after_boot`
        (its cases' budget) holds: the guest has that long, and longer while its group
        keeps printing (see SLOW_HOST_CAP), however long booting took.
        """
        names = "|".join(re.escape(d.name) for d in (self, *peers))
        # Every line of the group counts as progress; these kinds are acted on.
        # evtchn-op's own refusal: the Linux peer's interpreter could not run its script.
        acted_on = "|".join(TAG[i] for i in ("DONE", "CRASH", "BOOT"))
        pattern = re.compile(rf"^\[(?P<who>{names})\] (?:EVT ({acted_on})|(evtchn-op): )?")
        boot_deadline = time.monotonic() + timeout
        booted_at: float | None = None
        progress_at = 0.0
        assert self._since is not None, "wait_done before start_create"
        cursor = self._since
        last_check = time.monotonic()

        def deadline() -> float:
            if booted_at is None or after_boot is None:
                return boot_deadline
            return group_deadline(booted_at, after_boot, progress_at)

        while True:
            # While an alive check is under way, look for its answer often.
            slice_s = PROBE_LOOK_S if any(d._probe for d in (self, *peers)) else ALIVE_CHECK_S
            try:
                line, m = self.console.wait_for(
                    pattern, cursor, min(slice_s, max(deadline() - time.monotonic(), 0.1)), _Tick, nudge=NUDGE_S
                )
            except _Tick:
                if time.monotonic() >= deadline():
                    raise GuestSilent(
                        self._silent(timeout, after_boot, booted_at, progress_at),
                        self.console.tail(),
                        self.console.log_path,
                    ) from None
                due = time.monotonic() - last_check >= ALIVE_CHECK_S
                for d in (self, *(p for p in peers if p.report().done is None)):
                    if due or d._probe is not None:
                        d._check_alive()
                if due:
                    last_check = time.monotonic()
                continue
            cursor = line.index + 1
            progress_at = line.time
            kind = m.group(2) or m.group(3)
            if kind is None:
                continue
            if m.group("who") != self.name:
                # As the peer's own wait would say it (a crash is a crash), without waiting for it.
                failed = {TAG["CRASH"]: GuestCrashed, "evtchn-op": GuestDied}.get(kind)
                if failed is not None:
                    raise failed(
                        f"{m.group('who')}, a peer of {self.name}, failed: {line.text}",
                        self.console.tail(),
                        self.console.log_path,
                    )
                continue
            if kind == "evtchn-op":
                raise GuestDied(
                    f"{self.name} (domid {self.domid}): {line.text}", self.console.tail(), self.console.log_path
                )
            if kind == TAG["BOOT"] and booted_at is None:
                booted_at = line.time
            elif kind == TAG["CRASH"]:
                rep = self.report()
                rip = rep.crash.rip if rep.crash else "?"
                raise GuestCrashed(
                    f"{self.name} (domid {self.domid}) crashed at rip={rip}: {line.text}",
                    self.console.tail(),
                    self.console.log_path,
                )
            elif kind == TAG["DONE"]:
                return self.report()

    def _silent(self, timeout: float, after_boot: float | None, booted_at: float | None, progress_at: float) -> str:
        who = f"{self.name} (domid {self.domid})"
        if booted_at is None or after_boot is None:
            return f"{who} printed no `EVT DONE` within {timeout:.0f}s of its creation"
        now = time.monotonic()
        if now - booted_at >= SLOW_HOST_CAP * after_boot - 0.5:
            return (
                f"{who} printed no `EVT DONE` within {SLOW_HOST_CAP} times its budget of {after_boot:.0f}s "
                f"({now - booted_at:.0f}s since its BOOT line), though its group went on printing"
            )
        return (
            f"{who} printed no `EVT DONE` within its budget of {after_boot:.0f}s, and its group "
            f"nothing for the last {now - max(booted_at, progress_at):.0f}s"
        )

    def _stop_probe(self) -> None:
        if self._probe is not None:
            self._probe.abandon()
            self._probe = None

    def _check_alive(self) -> None:
        """Is the domain still there? Asked of dom0 without waiting for the answer: on a busy
        host dom0 may take long to give it, and a slow answer is not a dead guest. The
        answer is looked at on a later tick; the guest's own budget bounds the wait."""
        if self._probe is None:
            log = XL_LOG.format(name=self.name)
            self._probe = self.dom0.begin(
                f"xl list {self.xl_name} >/dev/null 2>&1; echo listed=$?; {grep_shutdowns([log])}"
            )
            return
        if not self._probe.ready():
            return
        probe, self._probe = self._probe, None
        _, out = probe.result(0.0)
        listed = re.search(r"^listed=(\d+)$", out, re.M)
        reason = parse_shutdowns(out).get(XL_LOG.format(name=self.name))
        down = (listed is not None and listed.group(1) != "0") or reason is not None
        if down and self._relay and f"[{self.name}] {RELAY_END}" not in self.lines():
            # Stopped, its last lines maybe still on their way. Preserved (its xl config),
            # its console stays open: destroyed, xenconsoled closes it, and the relay's
            # last line says every line is in. Judged then, on all of them.
            if reason is not None and self._closing is None:
                self._closing = self.dom0.begin(f"xl destroy {self.xl_name} 2>&1")
            return
        if down:
            raise GuestDied(
                f"{self.name} (domid {self.domid}) stopped before `EVT DONE`: "
                f"{self.reasons.describe(reason) if reason is not None else 'xl list does not know it'}",
                self.console.tail(),
                self.console.log_path,
            )

    def shutdown_reason(self, wait: float = 0.0) -> int | None:
        """SHUTDOWN_* code from xl's log of the domain, once it has shut down."""
        return shutdown_reasons(self.dom0, [self], wait)[self.role]

    def gone(self) -> None:
        """A case destroyed it (Dom0's `destroy`): nothing of it is left to destroy but its relay."""
        self.created_at = 0.0

    def destroy_steps(self) -> list[str]:
        """dom0 commands that leave nothing of it, whatever state it reached (a failed
        `xl create` can leave a domain behind); see destroy_all().

        The domain goes first: its relay then ends by itself, and xenconsoled never
        writes to a pipe whose reader is gone."""
        steps = [f"xl destroy {self.xl_name} 2>&1"] if self.created_at else []
        if self._relay:
            steps.append(self._stop_relay())
            self._relay = False
        return steps


def start_create(
    dom0: Dom0,
    group: str,
    domains: list[Domain],
    others: dict[str, int] | None = None,
    after: Pending | None = None,
    standby: dict[str, str] | None = None,
) -> Pending:
    """Start creating a group's domains, paused, and telling each every domain's id (theirs
    and `others`', by role) under its XS_DIR/dom: xen-config/create.sh, one request. It runs
    in dom0 while the harness goes on, at the lowest priority there (the running group's
    dom0 work comes first), `after` another creation if one is given; finish_create waits
    for it. A role of `standby` is not created: the domain standing by in the saved machine
    under the xl name it maps to becomes it."""
    for d in domains:
        d.creating()
        if standby and d.role in standby:
            d.xl_name = standby[d.role]
    given = [f"{r}={i}" for r, i in (others or {}).items()]
    roles = [f"{d.role}@{standby[d.role]}" if standby and d.role in standby else d.role for d in domains]
    command = " ".join(["sh /evt/create", group, XS_DIR, *roles, *given])
    return dom0.begin(command) if after is None else dom0.begin_after(after, command)


def finish_create(pending: Pending, domains: list[Domain], timeout: float = COMMAND_TIMEOUT) -> None:
    """Wait for a creation start_create began; each domain's id, or the error."""
    rc, out = pending.result(timeout)
    elapsed = time.monotonic() - pending.started
    found = {name: (domid, cs) for name, domid, cs in re.findall(r"^@@DOMID (\S+) (\d+)(?: (\d+))?$", out, re.M)}
    for d in domains:
        if d.name not in found:
            raise DomainCreateFailed(
                f"{d.name}: relay, `xl create` or `xl domid` exited {rc}:\n{out}", d.console.tail(), d.console.log_path
            )
        domid, cs = found[d.name]
        d.domid = int(domid)
        # Its own, as dom0 timed it: not the time it waited, parked, for the harness to collect it.
        d.create_seconds = int(cs) / 100 if cs else elapsed / len(domains)
    if rc != 0:
        tail, log_path = pending.dom0.console.tail(), pending.dom0.console.log_path
        raise Dom0CommandFailed(f"telling the domains their ids exited {rc}:\n{out}", tail, log_path)


def destroy_all(dom0: Dom0, domains: list[Domain]) -> None:
    """Destroy domains, in one request."""
    steps = [step for d in domains for step in d.destroy_steps()]
    if steps:
        dom0.run_rc("; ".join(steps))


def grep_shutdowns(logs: list[str]) -> str:
    """The dom0 command that finds xl's shutdown line in each of these logs."""
    return f"grep -H 'has shut down' {' '.join(logs)} 2>/dev/null"


def parse_shutdowns(out: str) -> dict[str, int]:
    """grep_shutdowns()' answer: each log's SHUTDOWN_* code, by path."""
    found: dict[str, int] = {}
    for line in out.splitlines():
        path, _, text = line.partition(":")
        m = SHUTDOWN.search(text)
        if m:
            found[path] = int(m.group(1))
    return found


def shutdown_reasons(dom0: Dom0, domains: list[Domain], wait: float) -> dict[str, int | None]:
    """Each domain's SHUTDOWN_* code from xl's logs (one command for all), by role."""
    logs = {XL_LOG.format(name=d.name): d for d in domains}
    found: dict[str, int | None] = dict.fromkeys((d.role for d in domains), None)
    deadline = time.monotonic() + wait
    while domains:
        _, out = dom0.run_rc(grep_shutdowns(list(logs)))
        for path, code in parse_shutdowns(out).items():
            if path in logs:
                found[logs[path].role] = code
        if all(v is not None for v in found.values()) or time.monotonic() >= deadline:
            break
        dom0.sleep(SHUTDOWN_POLL_S)
    return found


class _Tick(HarnessError):
    """A slice of waiting ended; not an error."""
