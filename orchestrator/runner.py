"""One Xen boot serving many cases: groups of cases run inside shared domains."""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from . import baseline, dom0script, lang, lastops, log, snapshot
from .artifacts import Artifacts
from .cases.compile import compile_group
from .cases.model import DOM0, LINUX, Config
from .cases.plan import Group
from .console import Line
from .coverage import DUMP_IN_DOM0
from .dom0 import Dom0, Pending
from .domain import (
    Domain,
    destroy_all,
    finish_create,
    read_shutdown_reasons,
    shutdown_reasons,
    start_create,
)
from .errors import GuestDied, HarnessError, MachineDied, XenPanic
from .evtlines import TAG
from .initramfs import BASE_DIR, PEER_INITRAMFS, PEER_KERNEL, build_base, build_linux_peer, build_run_disk, peer_kernel
from .machine import BootImages, Machine, QemuConfig, qemu_version
from .results import CaseEnd, DomainReport, GroupResult, ParseError, StepResult, parse, parse_event, parse_line

ROOT = Path(__file__).resolve().parent.parent
XEN_CONFIG = ROOT / "xen-config"
GUEST_DIR = "/evt"
DOM0_DIR = ROOT / "build" / "dom0"

# Time for the guests of a group to boot, on top of their cases' own budgets.
GROUP_BOOT_S = 20.0
# ... and for a Linux kernel's, the Linux peer's, under TCG.
LINUX_BOOT_S = 90.0
# dom0's disk with the run's files (virtio-blk: the first disk).
RUN_DISK = "/dev/vda"
# A restored dom0 answers within a second; a loaded host may take longer.
RESUME_TIMEOUT_S = 30.0
# Once a guest has booted, its cases' budget, plus this for its last lines to arrive.
RELAY_SLACK_S = 2.0
# A creation made ahead has had the whole last group to run; this much more, then it is killed.
CREATE_AHEAD_TIMEOUT_S = 120.0
# Half the standby guests, in turn (Session._stand_by_guests): half a second each.
STANDBY_MAKE_TIMEOUT_S = 120.0
# Groups whose domains are made ahead, paused, while a group of one domain runs
# (Session._beside): its own wait is for dom0's `xl create` (half a second of dom0 under
# TCG), and its guest leaves dom0 the cpus to make several. In CREATE_STREAMS streams, one
# a dom0 vcpu (xen.cmdline dom0_max_vcpus=2), each creation after the one CREATE_STREAMS
# before it (Dom0.begin_after: no waiting in dom0), at the lowest priority there
# (create.sh: renice), below what the running group needs of dom0.
CREATE_AHEAD_GROUPS = 4
CREATE_STREAMS = 2
# ... and while a group whose domains meet through xenstore runs: fewer (Session._beside).
CREATE_AHEAD_BESIDE_XENSTORE = 1
# A lost machine is replaced for the groups that remain, up to this many times a session
# (a Xen that goes down in every group is not worth a new machine each time).
MAX_REPLACEMENTS = 3


@dataclass(frozen=True)
class Standby:
    """A domain made in the saved machine before any group is known (Session._stand_by):
    xl's name for it until a group takes it, and the config, roles aside, of a group whose
    domain it can become."""

    name: str
    config: Config

    def fits(self, group: Config, role: str) -> bool:
        """Whether it can be `role` of a group of config `group`."""
        return (role == LINUX) == (LINUX in self.config.domains) and (
            replace(group, domains=self.config.domains) == self.config
        )


# The Linux peer: booted, waiting for its script. The guests: made paused, never run, as
# many of each config as the project's suite has guests of it (tests/unit/test_runner.py
# holds the two together), 16 MiB of Xen's memory each. A group takes them in turn
# (create.sh ROLE@NAME: no `xl create`, half a second of dom0 under TCG with xenstored's and
# the relay's work); once none fits, its domains are made as before.
LINUX_STANDBY = Standby("linux-standby", Config((LINUX,)))
GUEST_STANDBY_CONFIGS = {
    Config(("A",)): 8,
    Config(("A",), vcpus=2): 7,
    Config(("A",), max_event_channels=4): 2,
    Config(("A",), irqs=(7,)): 2,
    Config(("A",), vcpus=2, irqs=(5, 7)): 1,
    Config(("A",), max_event_channels=4, irqs=(7,)): 1,
    Config(("A",), max_event_channels=4096): 1,
}
GUEST_STANDBYS = tuple(
    Standby(f"standby-{i}", config)
    for i, config in enumerate(c for c, n in GUEST_STANDBY_CONFIGS.items() for _ in range(n))
)
STANDBYS = (LINUX_STANDBY, *GUEST_STANDBYS)
STANDBY_DIR = "/run/standby"  # each one's domain id, until a group takes it (xen-config/standby.sh)
# A guest standby is given its script through xenstore into a buffer of 64 KiB, every guest's
# (guest/script.h SCRIPT_STORE_MAX, less a chunk: tests/unit/test_runner.py): a longer one goes
# as a ramdisk, to a domain made for it. The suite's longest is 19 KiB.
STANDBY_SCRIPT_MAX = 60 << 10
# The guest's kernel, in dom0's initramfs: the guest standbys run it, so the saved machine is
# keyed by it.
GUEST_KERNEL = f"{BASE_DIR}/evtchn-guest"
# Ended domains (shut down, preserved) left to the machine's end, up to this many: 16 MiB
# each, 640 MiB of the 1.9 GiB Xen has free beside dom0; each `xl destroy` costs dom0 0.2 s
# under TCG, so a suite (23 domains) destroys none.
ENDED_KEPT = 40


def describe(config: Config) -> str:
    """A group's domains and whatever in its xl config differs from the defaults."""
    parts = [" ".join(config.domains)]
    defaults = Config(config.domains)
    if config.vcpus != defaults.vcpus:
        parts.append(f"vcpus={config.vcpus}")
    if config.max_event_channels != defaults.max_event_channels:
        parts.append(f"max_event_channels={config.max_event_channels}")
    if config.irqs:
        parts.append(f"irqs={','.join(map(str, config.irqs))}")
    return ", ".join(parts)


def xen_config_text(name: str) -> str:
    return (XEN_CONFIG / name).read_text().strip()


def domain_config(
    name: str, kernel: str, script: str, config: Config, template: str = "domU.cfg.in", ramdisk: str = ""
) -> str:
    """An xl config from `template`; a guest's `script` is its ramdisk, or (none) given
    through xenstore once a group takes it (a standby)."""
    text = (XEN_CONFIG / template).read_text()
    extra = f"irqs = [ {', '.join(map(str, config.irqs))} ]\n" if config.irqs else ""
    for key, val in {
        "NAME": name,
        "KERNEL": kernel,
        "SCRIPT": f'ramdisk = "{script}"' if script else 'cmdline = "script=xenstore"',
        # The Linux peer's: xen-config/create.sh makes it, but for the one that stands by.
        "RAMDISK": ramdisk or f"/run/evt-peer/{name}.initrd",
        "VCPUS": str(config.vcpus),
        "MAX_EVENT_CHANNELS": str(config.max_event_channels),
    }.items():
        text = text.replace(f"@{key}@", val)
    return text + extra


class Progress:
    """Says each case's result the moment every domain of it has ended it (a console watcher);
    a failing step the Xen's baseline lists is counted as known, as the report will."""

    def __init__(self, group: Group, known: set[tuple[str, str, str, str]] | None = None) -> None:
        self.group = group
        self.known = known or set()
        self.left = {c.name: set(c.domains) for c in group.cases}
        # Only the project's own case files have baseline lines (baseline.case_file).
        self.files = {c.name: name for c in group.cases if (name := baseline.case_file(c)) is not None}
        self.steps = dict.fromkeys(self.left, 0)
        self.failed = dict.fromkeys(self.left, 0)
        self.known_failed = dict.fromkeys(self.left, 0)

    def __call__(self, line: Line) -> None:
        parsed = parse_line(line.text)
        if parsed is None or not parsed[0].startswith(f"g{self.group.index}-"):
            return
        domain, kind, rest = parsed
        role = domain.split("-", 1)[1]
        try:  # the report's own parse; a line it cannot read, the report names: progress only counts
            event = parse_event(domain, kind, rest)
        except ParseError:
            return
        if isinstance(event, StepResult):
            if event.verdict == "FAIL" and event.case in self.files:
                self.known_failed[event.case] += baseline.step_key(self.files[event.case], event, role) in self.known
            return
        if not isinstance(event, CaseEnd):
            return
        name = event.case
        if role not in self.left.get(name, ()):
            return
        self.left[name].discard(role)
        self.steps[name] += event.passed + event.failed
        self.failed[name] += event.failed
        if not self.left[name]:
            new, known = self.failed[name] - self.known_failed[name], self.known_failed[name]
            verdict = f"FAIL ({new} of {self.steps[name]} steps)" if new else "pass"
            log.info(f"    {name}: {verdict}{f' ({known} known)' if known else ''}")


@dataclass(frozen=True)
class CoverageRead:
    """One read of a machine's coverage counters (run --coverage): all they counted since
    that machine's reset."""

    machine: int  # the session's machines in turn, from 1 (a lost one is replaced)
    group: int | None  # the group just run; None: the machine's last read, after its last group
    path: Path
    # The groups run on this machine since its previous read: `group` alone, unless a read
    # before failed (those groups' lines are in this one); () for a last read after a good one.
    since: tuple[int, ...] = ()


class Session:
    """A booted Xen with its dom0, ready to run groups of cases."""

    def __init__(
        self,
        arts: Artifacts,
        guest: Path,
        groups: list[Group],
        out: Path,
        qemu: QemuConfig | None = None,
        snapshots: Path | None = None,
        coverage: bool = False,
        coverage_each: bool = False,
    ):
        self.arts = arts
        self.guest = guest
        self.groups = groups
        self.out = out
        self.qemu = qemu or QemuConfig()
        self.snapshots = snapshots  # where booted machines are saved; None: always boot cold
        self.info: dict[str, str] = {}
        self.machine: Machine | None = None  # the one running now
        self.machines: list[Machine] = []  # every one this session used, in turn
        self._dom0s: list[Dom0] = []  # their dom0 sessions
        self.dom0: Dom0 | None = None
        self.lost: HarnessError | None = None  # set once the machine is gone
        self.abandoned = False  # the run is being given up (SIGTERM, Ctrl-C): no further group
        self.replaced: list[HarnessError] = []  # why each earlier machine was given up
        self._boot: BootImages | None = None
        self._snap: snapshot.Snapshot | None = None
        self.reasons = read_shutdown_reasons(arts.include)
        self.scripts = {g.index: compile_group(g) for g in groups}  # role -> script, per group
        # Being created ahead (paused) while the group before runs, by group index.
        self._parked: dict[int, tuple[list[Domain], Pending]] = {}
        self._ended: list[Domain] = []  # their group is over: to destroy
        self._standbys: list[str] = []  # the names of those standing by in this machine, untaken (_stand_by)
        self._unsettled: tuple[GroupResult, list[Domain]] | None = None  # reasons not checked yet
        # Every Xen's known results (orchestrator/baseline.py), checked now: a bad file is
        # refused before the boot; the Xen's own is picked once its version is known.
        self.baselines = baseline.read_all()
        self.baseline_path: Path | None = None
        self.baseline: list[baseline.Known] = []
        self.ready_seconds = 0.0
        # A coverage build (run --coverage): counters reset once each machine's dom0 is up,
        # read after each group; each machine's latest dump, by machine number. With
        # `coverage_each` every read is kept (a campaign's per-seed gains), not only the latest.
        self.coverage = coverage
        self.coverage_each = coverage_each
        self.coverage_dumps: dict[int, Path] = {}
        self.coverage_reads: list[CoverageRead] = []
        self._unread: list[int] = []  # groups run on this machine since its last read
        self.coverage_seconds = 0.0  # spent reading them (bench --coverage-overhead)

    def _files(self) -> dict[str, Path | str]:
        files: dict[str, Path | str] = {
            f"{GUEST_DIR}/evtchn-op": self.guest.parent / "evtchn-op",  # built beside the guest
            f"{GUEST_DIR}/create": XEN_CONFIG / "create.sh",
        }
        for g in self.groups:
            for role, script in self.scripts[g.index].items():
                if not lang.is_domain(role):  # it names files and xl domains in dom0's shell
                    raise HarnessError(f"domain name {role!r} is not a token")
                base = f"{GUEST_DIR}/g{g.index}/{role}"
                files[f"{base}.script"] = script
                if role == DOM0:
                    continue  # run by dom0/evtchn-op in dom0 itself
                if role == LINUX:
                    files[f"{base}.cfg"] = domain_config(
                        f"g{g.index}-{role}", PEER_KERNEL, "", g.config, "linux-peer.cfg.in"
                    )
                    continue
                files[f"{base}.cfg"] = domain_config(f"g{g.index}-{role}", GUEST_KERNEL, f"{base}.script", g.config)
        return files

    def _base_files(self) -> dict[str, Path | str]:
        """What dom0's initramfs holds for the harness, in the saved machine: the guest's
        kernel and the Linux peer's (with its initramfs), for the domains that stand by and for
        any other, the console relay, the standbys' script and their xl configs."""
        files: dict[str, Path | str] = {
            GUEST_KERNEL: self.guest,
            PEER_KERNEL: peer_kernel(self.arts.vmlinuz, DOM0_DIR),
            PEER_INITRAMFS: build_linux_peer(self.guest.parent, self.arts.modules, DOM0_DIR),
            f"{BASE_DIR}/relay": (XEN_CONFIG / "relay.sh").read_text(),
            f"{BASE_DIR}/standby": (XEN_CONFIG / "standby.sh").read_text(),
            f"{BASE_DIR}/{LINUX_STANDBY.name}.cfg": domain_config(
                LINUX_STANDBY.name, PEER_KERNEL, "", LINUX_STANDBY.config, "linux-peer.cfg.in", ramdisk=PEER_INITRAMFS
            ),
        }
        for sb in GUEST_STANDBYS:
            files[f"{BASE_DIR}/{sb.name}.cfg"] = domain_config(sb.name, GUEST_KERNEL, "", sb.config)
        return files

    def __enter__(self) -> Session:
        self.out.mkdir(parents=True, exist_ok=True)
        # One initramfs per suite for every kind of run: a saved machine is keyed by its bytes.
        DOM0_DIR.mkdir(parents=True, exist_ok=True)
        initrd = build_base(
            self.arts,
            XEN_CONFIG / "dom0-init.sh",
            self.guest.parent / "evt-agent",
            DOM0_DIR / f"base-{self.arts.suite}.cpio",
            self._base_files(),
        )
        disk = build_run_disk(self._files(), self.out / "run-files", self.out / "run-disk.img")
        for g in self.groups:  # kept beside the log for whoever reads a failure
            for role, script in self.scripts[g.index].items():
                (self.out / f"g{g.index}-{role}.script").write_text(script)
        boot = BootImages(
            xen=self.arts.xen,
            xen_cmdline=xen_config_text("xen.cmdline"),
            dom0_kernel=self.arts.vmlinuz,
            dom0_cmdline=xen_config_text("dom0.cmdline"),
            initrd=initrd,
            run_disk=disk,
        )
        self._boot = boot
        self._snap = snapshot.find(self.snapshots, self.qemu, boot) if self.snapshots is not None else None
        self._start()
        assert self.dom0 is not None
        log.info("Xen under test: " + ", ".join(f"{k}={v}" for k, v in self.info.items()))
        self.baseline_path = baseline.path_for(self.info.get("xen_version", ""))
        self.baseline = self.baselines.get(self.baseline_path, []) if self.baseline_path is not None else []
        return self

    def _start(self) -> None:
        """A machine with the run's files in dom0: the saved one restored, else booted."""
        boot, snap = self._boot, self._snap
        assert boot is not None
        if snap is not None and snap.exists() and not self._restore(boot, snap):
            snap.drop()  # no use trying it again: the next run saves a good one
        if self.machine is None:
            self._boot_cold(boot, snap)
        assert self.machine is not None and self.dom0 is not None
        self.machines.append(self.machine)
        self._dom0s.append(self.dom0)
        try:
            # The run's own files: dom0 may have read the disk before it was saved, so drop its cache.
            # ... and which domains stand by in this machine (_stand_by).
            listed = self.dom0.run(
                f"blockdev --flushbufs {RUN_DISK} && cd / && cpio -idm < {RUN_DISK} 2>/dev/null"
                f" && {{ ls {STANDBY_DIR} 2>/dev/null || true; }}"
            ).split()
            self._standbys = [sb.name for sb in STANDBYS if sb.name in listed]
            missing = [sb.name for sb in STANDBYS if sb.name not in listed]
            if missing and self.info.get("boot") == "restored" and not self.coverage:
                # Some did not come up when it was saved (_stand_by): their groups' domains are made.
                log.info(f"the saved machine has no {', '.join(missing)}: their groups' domains are made")
            if self.coverage:  # what booting (or restoring) did is not the cases' work
                self.dom0.run("xencov reset")
                self._unread = []  # a lost machine's unread groups are gone with it
        except BaseException:
            self.machine.stop()
            raise

    def _log_path(self) -> Path:
        """serial.log for the first machine; a replacement's log does not overwrite it."""
        n = len(self.machines)
        return self.out / ("serial.log" if n == 0 else f"serial-{n + 1}.log")

    def _replace(self) -> None:
        """The machine was lost, or its state is in doubt: the groups that remain run on a
        new one (restored from the saved state), never on that one."""
        assert self.lost is not None
        self.replaced.append(self.lost)
        log.info(
            f"the machine is not driven on ({self.lost.what}: {self.lost.detail.splitlines()[0][:160]}); "
            "the groups that remain run on a new one"
        )
        if self.machine is not None:
            self.machine.stop()
        self.machine, self.dom0 = None, None
        self._parked.clear()  # made ahead on the lost machine: gone with it
        self._ended, self._unsettled = [], None
        self.lost = None
        try:
            self._start()
        except HarnessError as e:
            self.lost = e

    def _restore(self, boot: BootImages, snap: snapshot.Snapshot) -> bool:
        """Start from the saved machine; False (and no machine) if it does not come back."""
        machine = Machine(self.qemu, boot, self._log_path(), restore=snap.state)
        try:
            with log.step(f"restoring the saved Xen and dom0 ({snap.dir.name})"):
                machine.__enter__()
                dom0 = Dom0(machine.console, machine.agent())
                dom0.connect(RESUME_TIMEOUT_S)
        except (HarnessError, OSError) as e:
            machine.stop()
            log.info(f"the saved machine did not come back ({str(e).splitlines()[0]}): booting instead")
            return False
        except BaseException:
            machine.stop()
            raise
        self.machine, self.dom0 = machine, dom0
        self.ready_seconds = time.monotonic() - machine.started
        # What `xl info` and the boot banner said is part of what was saved.
        self.info = {**snap.meta(), "boot": "restored"}
        return True

    def _boot_cold(self, boot: BootImages, snap: snapshot.Snapshot | None) -> None:
        """Boot Xen and dom0; save the booted machine for later runs when `snap` is given."""
        self.machine = Machine(self.qemu, boot, self._log_path()).__enter__()
        try:
            self.dom0 = Dom0(self.machine.console, self.machine.agent())
            with log.step("booting Xen and dom0"):
                self.dom0.wait_ready()
            self.ready_seconds = self.dom0.ready_at - self.machine.started
            self.info = {**self._xen_info(), "boot": "cold"}
            whole = True
            if snap is not None or any(LINUX in g.config.domains for g in self.groups):
                # None in a machine that counts coverage: it takes none (_take_standbys).
                whole = self._stand_by(guests=snap is not None and not self.coverage)
            if snap is not None and whole:
                with log.step(f"saving the booted Xen and dom0 for later runs ({snap.dir.name})"):
                    self.machine.save(snap.state)
                    snap.write_meta({k: v for k, v in self.info.items() if k != "boot"})
        except BaseException:
            self.machine.stop()
            raise

    def _stand_by(self, guests: bool) -> bool:
        """Make the domains that stand by in the saved machine (STANDBYS; xen-config/
        standby.sh, create.sh): a group that takes one pays for no `xl create`, nor, for the
        Linux peer, for a kernel boot (4-5 s of one cpu under TCG, which nothing could share:
        groups run beside a peer's boot lost their round trips). The guests only in a machine
        that is saved (`guests`): in one that is not, they would cost what they save. One
        that does not come up is destroyed; its group's domain is made for it. False if
        dom0 may still be making some (_stand_by_guests): not a machine to save."""
        self._stand_by_linux()
        return self._stand_by_guests() if guests else True

    def _standby_domain(self, sb: Standby) -> Domain:
        assert self.dom0 is not None
        return Domain(self.dom0, sb.name, sb.config.domains[0], f"{BASE_DIR}/{sb.name}.cfg", self.reasons)

    def _give_up(self, standbys: list[Domain]) -> None:
        """Destroy standbys that did not come up, with their relays and id files."""
        assert self.dom0 is not None
        steps = [step for d in standbys for step in d.destroy_steps()]
        self.dom0.run_rc("; ".join([*steps, *(f"rm -f {STANDBY_DIR}/{d.name}" for d in standbys)]))

    def _stand_by_linux(self) -> None:
        """The Linux peer boots until it waits for a script, and is paused there."""
        assert self.dom0 is not None
        console = self.dom0.console
        name = LINUX_STANDBY.name
        peer = self._standby_domain(LINUX_STANDBY)
        peer.creating()
        since = len(console.lines)
        try:
            with log.step("booting the Linux peer that stands by in the saved machine"):
                self.dom0.run(f"sh {BASE_DIR}/standby {name}")
                _, said = console.wait_for(
                    re.compile(rf"^\({name}\) EVT {TAG['NOTE']} linux-peer: (.*)"),
                    since,
                    LINUX_BOOT_S,
                    lambda what: HarnessError(what, console.tail(), console.log_path),
                )
                if said.group(1) != "standing by":
                    raise HarnessError(f"it said: {said.group(1)}", console.tail(), console.log_path)
                self.dom0.run(f"xl pause {name}")
        except (XenPanic, MachineDied):
            raise
        except HarnessError as e:
            log.info(f"no Linux peer stands by ({e.detail.splitlines()[0]}): each Linux group boots its own")
            self._give_up([peer])

    def _stand_by_guests(self) -> bool:
        """The guests are made paused and stay so: a group's is as fresh as one made for it.
        False if dom0 did not answer in time: it may still be making them, and the groups
        take whichever it has made by then."""
        assert self.dom0 is not None
        domains = {sb.name: self._standby_domain(sb) for sb in GUEST_STANDBYS}
        names = list(domains)
        with log.step(f"making {len(domains)} guests that stand by, paused, in the saved machine"):
            for d in domains.values():
                d.creating()
            # Two commands at once, each making half of them: an `xl create` a dom0 vcpu.
            pending = [self.dom0.begin(f"sh {BASE_DIR}/standby -p {' '.join(names[i::2])}") for i in (0, 1)]
            try:
                said = [p.result(STANDBY_MAKE_TIMEOUT_S) for p in pending]
            except (XenPanic, MachineDied):
                raise
            except HarnessError as e:
                log.info(f"making the guests that stand by did not end ({e.detail.splitlines()[0]}): not saved")
                return False
        made = {name for _, out in said for name in re.findall(r"^@@STANDBY (\S+) \d+$", out, re.M)}
        failed = [d for name, d in domains.items() if name not in made]
        if failed:
            why = next((out.strip().splitlines()[-1] for rc, out in said if rc and out.strip()), "no answer")
            log.info(f"{len(failed)} guest(s) do not stand by ({why}): their groups' domains are made for them")
            self._give_up(failed)
        return True

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self.machine is not None:
            self.machine.stop()

    def abandon(self) -> None:
        """Give the run up from another thread: no further group, and the machine stopped, so
        whatever this session waits for now fails at once instead of running to its end."""
        self.abandoned = True
        if self.machine is not None:
            self.machine.stop()

    def dom0_latencies(self) -> list[float]:
        """How long each dom0 command took, request to reply, on every machine."""
        return [t for d in self._dom0s for t in d.latencies]

    def lines(self) -> list[Line]:
        """Every machine's serial lines, machine after machine."""
        return [ln for m in self.machines for ln in m.console.lines]

    def header(self) -> dict[str, str]:
        """What a report says about the stack under test."""
        return {**self.info, **self.arts.header()}

    def _xen_info(self) -> dict[str, str]:
        assert self.dom0 is not None
        out = self.dom0.run("xl info")
        fields = dict(re.findall(r"^(\w+)[ \t]*:[ \t]*(.*)$", out, re.M))
        info = {
            "xen_version": "{}.{}{}".format(
                fields.get("xen_major", "?"), fields.get("xen_minor", "?"), fields.get("xen_extra", "")
            ),
            "xen_changeset": fields.get("xen_changeset", "?"),
            "build_id": fields.get("build_id", "?"),
            "cc_compiler": fields.get("cc_compiler", "?"),
            "dom0_kernel": fields.get("release", "?"),
            "qemu": qemu_version(self.qemu.binary),
            "suite": self.arts.suite,
            "debug": "?",
        }
        # Only the boot banner tells a debug build: "(XEN) Xen version 4.17.7 (...) debug=n ..."
        for ln in self.dom0.console.lines:
            m = re.search(r"\(XEN\) Xen version .* debug=([yn])", ln.text)
            if m:
                info["debug"] = m.group(1)
                break
        return info

    def run_groups(self, groups: list[Group]) -> list[GroupResult]:
        """Run groups one after another, domain life cycle off the critical path: while a
        group's guests run, dom0 creates later groups' domains, paused (how many, _beside
        says); ended domains stay until there are many, or until the machine stops. A
        group's shutdown reasons are checked while the next one runs (_settle).

        Groups that race alone (_races_alone) run last, in their order: nothing is made
        beside one, so the group after it waits for its domains to be made; at the end,
        only other racing groups do. The results come in the order given."""
        rank = {g.index: i for i, g in enumerate(groups)}
        groups = [g for g in groups if not self._races_alone(g)] + [g for g in groups if self._races_alone(g)]
        results = []
        for i, group in enumerate(groups):
            if self.abandoned:
                break
            if self.lost is not None and self._boot is not None and len(self.replaced) < MAX_REPLACEMENTS:
                self._replace()
            results.append(self._run_group(group, groups[i + 1 : i + 1 + CREATE_AHEAD_GROUPS]))
            if self.coverage:
                self._unread.append(group.index)
            self._read_coverage(group.index)
        self._settle()
        if self.coverage:
            # Xen's teardown of a domain (evtchn_destroy(), evtchn_destroy_final(),
            # clear_global_virq_handlers()) is the cases' work too: counted before the last read.
            self._destroy_ended()
        self._read_coverage(None)
        return sorted(results, key=lambda r: rank[r.group.index])

    def _destroy_ended(self) -> None:
        if self.lost is not None or self.dom0 is None:
            return
        try:
            destroy_all(self.dom0, self._ended)
            self._ended = []
        except (XenPanic, MachineDied) as e:
            self.lost = e
        except HarnessError as e:
            log.info(f"destroying the ended domains failed: {e.detail.splitlines()[0]}")

    def _read_coverage(self, group: int | None) -> None:
        """The running machine's coverage counters (`xencov read`), fetched byte for byte into
        the run's folder: xencov-m<machine>.dat, each read replacing that machine's last
        (with coverage_each: xencov-m<machine>-g<group>.dat, -end.dat after the last group).
        A read that fails costs the report that machine's later groups, never a verdict."""
        if not self.coverage or self.lost is not None or self.dom0 is None:
            return
        n = len(self.machines)
        start = time.monotonic()
        try:
            self.dom0.run(f"xencov read {DUMP_IN_DOM0}")
            data = self.dom0.get(DUMP_IN_DOM0)
        except (XenPanic, MachineDied) as e:
            self.lost = e
            return
        except HarnessError as e:
            log.info(f"reading the coverage counters failed: {e.detail.splitlines()[0]}")
            return
        finally:
            self.coverage_seconds += time.monotonic() - start
        which = "" if not self.coverage_each else f"-g{group}" if group is not None else "-end"
        path = self.out / f"xencov-m{n}{which}.dat"
        path.write_bytes(data)
        self.coverage_dumps[n] = path
        self.coverage_reads.append(CoverageRead(n, group, path, tuple(self._unread)))
        self._unread = []

    def run_group(self, group: Group) -> GroupResult:
        return self.run_groups([group])[0]

    def _domains(self, group: Group) -> list[Domain]:
        assert self.dom0 is not None
        return [
            Domain(self.dom0, f"g{group.index}-{r}", r, f"{GUEST_DIR}/g{group.index}/{r}.cfg", self.reasons)
            for r in group.config.domains
            if r != DOM0
        ]

    def _create(self, group: Group, domains: list[Domain]) -> None:
        """Create the group's domains, paused, and tell each the others' ids."""
        if domains:
            finish_create(self._start_create(group, domains), domains)

    def _start_create(self, group: Group, domains: list[Domain], after: Pending | None = None) -> Pending:
        assert self.dom0 is not None
        others = {DOM0: 0} if DOM0 in group.config.domains else {}
        return start_create(self.dom0, f"g{group.index}", domains, others, after, self._take_standbys(group))

    def _take_standbys(self, group: Group) -> dict[str, str]:
        """The domains standing by in this machine (_stand_by) that `group`'s become, by
        role: each the first left that fits, taken once; a guest's script must fit it.

        None with coverage counters: Xen's work for a new domain is the cases' too
        (evtchn_init(), the toolstack's unbound ports for its console and xenstore), and a
        standby's was done before the counters were reset."""
        taken: dict[str, str] = {}
        if self.coverage:
            return taken
        for role in group.config.domains:
            if role == DOM0 or (role != LINUX and len(self.scripts[group.index][role].encode()) > STANDBY_SCRIPT_MAX):
                continue
            sb = next((sb for sb in STANDBYS if sb.name in self._standbys and sb.fits(group.config, role)), None)
            if sb is not None:
                self._standbys.remove(sb.name)
                taken[role] = sb.name
        return taken

    def _finish_parked(self, group: Group, domains: list[Domain], pending: Pending) -> None:
        """The creation started while the last group ran: its result, with as long again to
        come as a command has. One that failed is undone, and the group creates its domains
        itself, reporting whatever goes wrong then as its own error."""
        assert self.dom0 is not None
        try:
            finish_create(pending, domains, CREATE_AHEAD_TIMEOUT_S)
        except (XenPanic, MachineDied):
            raise
        except HarnessError as e:
            log.info(f"creating group {group.index}'s domains ahead failed, it tries again: {e.detail.splitlines()[0]}")
            destroy_all(self.dom0, domains)
            domains[:] = self._domains(group)
            self._create(group, domains)

    def _tidy(self, upcoming: list[Group]) -> None:
        """Start creating the `upcoming` groups' domains, paused, those not under way yet,
        each after the last still under way (collected as its group begins,
        _finish_parked); destroy the oldest ended ones past ENDED_KEPT.

        An ended domain costs Xen only its memory until the machine stops, and each
        `xl destroy` is dom0 time on the critical path. The creation is not waited for
        here: the running group's own dom0 commands are answered meanwhile, and on a slow
        host its duration costs the running group nothing but dom0's CPU."""
        if self.lost is not None or self.dom0 is None:
            return
        try:
            excess = len(self._ended) - ENDED_KEPT
            if excess > 0:  # the oldest, a group's worth at a time
                ended, self._ended = self._ended[:excess], self._ended[excess:]
                destroy_all(self.dom0, ended)
            for following in upcoming:
                domains = self._domains(following)
                if following.index in self._parked or not domains:
                    continue
                # Started, not waited for: it runs in dom0 while this group's guests do.
                under_way = [p for _, p in self._parked.values()]
                last = under_way[-CREATE_STREAMS] if len(under_way) >= CREATE_STREAMS else None
                after = last if last is not None and not last.ready() else None
                self._parked[following.index] = (domains, self._start_create(following, domains, after))
        except (XenPanic, MachineDied):
            raise
        except HarnessError as e:
            self.lost = e

    def _beside(self, group: Group, upcoming: list[Group]) -> list[Group]:
        """The groups of `upcoming` whose domains are made while `group` runs.

        None beside a group that races its vcpus on every cpu (_races_alone). The next
        CREATE_AHEAD_BESIDE_XENSTORE beside a group whose domains meet through xenstore
        (more than one, Dom0's script counted): xenstored is dom0's one server, and `xl
        create`'s transactions queue the guests' rendezvous behind theirs (the conformance
        group took 4.4-4.8 s instead of 3.6-3.7 with four groups made beside it; with two,
        `make bench` had the whole suite slower, 17.5 anchors against 16.2, and the fuzzer
        at 286,000 operations a second). All of them beside a group of one domain, which
        does not use xenstore while it runs. None past a group that races alone: made
        ahead, they would still be under way as it runs."""
        if self._races_alone(group):
            return []
        ahead = upcoming[:CREATE_AHEAD_BESIDE_XENSTORE] if len(group.config.domains) > 1 else upcoming
        for i, g in enumerate(ahead):
            if self._races_alone(g):
                return ahead[: i + 1]
        return ahead

    def _races_alone(self, group: Group) -> bool:
        """Whether `group`'s guests fuzz on every cpu the machine has, with no dom0 actor.

        Then nothing is created beside it: the next group's domains are made once it is over.
        Its vcpus race each other only while each has a cpu, and a creation beside them
        (half a second of dom0) took one away: seeds 3 and 4 ran at 200,000 operations a
        second with it, 300,000 without, while the group itself was no faster for the
        overlap. With a Dom0 actor, dom0 holds a cpu anyway."""
        if DOM0 in group.config.domains or not any(c.fuzzes for c in group.cases):
            return False
        guests = sum(1 for r in group.config.domains if r != LINUX)
        return guests * group.config.vcpus >= self.qemu.smp

    def _run_group(self, group: Group, upcoming: list[Group]) -> GroupResult:
        """Run one group's cases; whatever goes wrong ends up in the result, never raised.

        A lost machine (Xen panic, QEMU gone) is kept in `self.lost` and becomes the
        error of every later group.
        """
        result = GroupResult(group)
        if self.lost is not None:
            result.error = self.lost
            return result
        assert self.dom0 is not None
        roles = group.config.domains
        parked = self._parked.pop(group.index, None)
        domains = parked[0] if parked is not None else self._domains(group)
        privileged = f"g{group.index}-{DOM0}" if DOM0 in roles else None
        destroyed = {r for c in group.cases for r in c.destroyed}
        names = ", ".join(c.name for c in group.cases)
        start = time.monotonic()
        dom0_since: int | None = None  # where Dom0's script's lines start, once it runs
        progress = Progress(group, {k.key for k in self.baseline})
        self.dom0.console.watchers.append(progress)
        try:
            with log.step(f"group {group.index} ({describe(group.config)}; {len(group.cases)} case(s): {names})"):
                if parked is not None:
                    self._finish_parked(group, domains, parked[1])
                else:
                    self._create(group, domains)
                if privileged is not None:
                    # Before the guests run: its steps wait for theirs at the rendezvous anyway,
                    # and evtchn-op's start (0.3 s of dom0 under TCG, more while the guests'
                    # first lines go through dom0) no longer holds up their first case.
                    script = f"{GUEST_DIR}/g{group.index}/{DOM0}.script"
                    domids = {d.role: d.domid for d in domains} | {DOM0: 0}
                    dom0_since = dom0script.start(self.dom0, privileged, script, domids)
                if self._races_alone(group):
                    # Its guests have the cpus to themselves: the last group's reasons (grep in
                    # dom0) are read before they start, not beside them.
                    self._settle()
                    if self.lost is not None:
                        raise self.lost
                # A guest may print its first line before dom0's answer to the unpause arrives.
                unpausing = time.monotonic()
                if domains:  # XEN_DOMCTL_unpausedomain, as `xl unpause` (dom0/main.c says why not xl)
                    self.dom0.run(" ".join([f"{GUEST_DIR}/evtchn-op --unpause", *(str(d.domid) for d in domains)]))
                unpaused = time.monotonic()
                result.setup_seconds = unpaused - start
                self._settle()
                if self.lost is not None:
                    raise self.lost  # the machine went down meanwhile: nothing of this group will come
                self._tidy(self._beside(group, upcoming))
                budget = sum(c.budget for c in group.cases) + RELAY_SLACK_S
                if LINUX in roles:
                    budget += LINUX_BOOT_S
                if privileged is not None and dom0_since is not None:
                    dom0script.wait(self.dom0, privileged, dom0_since, unpaused, GROUP_BOOT_S + budget)
                for d in domains:
                    if d.role in destroyed:
                        continue  # Dom0's script, done by now, destroyed it: what it said is all there is
                    left = max(GROUP_BOOT_S + budget - (time.monotonic() - unpaused), 1.0)
                    peers = tuple(p for p in domains if p is not d and p.role not in destroyed)
                    result.reports[d.role] = d.wait_done(left, after_boot=budget, peers=peers)
                for d in domains:
                    if (booted := d.boot_line_time()) is not None:
                        # As if created just now: time spent parked is not creation's.
                        result.create_to_first_line[d.role] = d.create_seconds + booted - unpausing
        except (XenPanic, MachineDied) as e:
            self.lost = e
            result.error = e
            if isinstance(e, XenPanic):
                self._read_last_ops(e, domains)
        except HarnessError as e:
            result.error = e
        except Exception as e:
            # A bug of the harness: an error of this group, with the evidence, not the end of the run.
            result.error = HarnessError(
                f"harness bug in group {group.index}: {e!r}\n{traceback.format_exc().rstrip()}",
                self.dom0.console.tail(),
                self.dom0.console.log_path,
            )
        finally:
            self.dom0.console.watchers.remove(progress)
            # Whatever the guests printed before things went wrong still counts (pure parsing: cannot fail).
            for d in domains:
                result.reports.setdefault(d.role, d.report())
            if privileged is not None:
                lines = [ln.text for ln in self.dom0.console.lines]
                result.reports[DOM0] = parse(lines).get(privileged, DomainReport(privileged))
            result.run_seconds = time.monotonic() - start
            if result.error is None:
                # Dom0's script ran to its end: what it destroyed is gone, with no shutdown reason.
                for d in domains:
                    if d.role in destroyed:
                        d.gone()
                self._unsettled = (result, [d for d in domains if d.role not in destroyed])
            elif self.lost is None:
                try:
                    destroy_all(self.dom0, domains)  # one may still run, or be half made
                    if dom0_since is not None:  # nor may Dom0's script, waiting for them
                        self.dom0.run_rc(dom0script.STOP)
                except HarnessError as e:
                    self.lost = e
        return result

    def _read_last_ops(self, panic: XenPanic, domains: list[Domain]) -> None:
        """A fuzzing guest's last operations, which it cannot print with Xen down, read out
        of the machine's memory while QEMU still holds it."""
        if self.machine is None:
            return
        for d in domains:
            rings = d.report().fuzz_rings
            if rings is not None:
                panic.evidence.append(f"--- {d.name}'s last operations (seed {rings.seed}), read from memory ---")
                panic.evidence += lastops.read(self.machine.qmp, rings, self.out / "rings")

    def _settle(self) -> None:
        """The last group's shutdown reasons, each as its guest's DONE line says: checked
        once the next group runs, off the critical path. A wrong one is that group's error."""
        if self._unsettled is None or self.lost is not None or self.dom0 is None:
            return
        result, domains = self._unsettled
        self._unsettled = None
        try:
            result.reasons = shutdown_reasons(self.dom0, domains, wait=15.0)
            self._check_reasons(result, domains)
            self._ended += domains  # shut down, as their reasons said
        except (XenPanic, MachineDied) as e:
            # That group is over, its verdicts in: the loss is the running group's (_run_group).
            self.lost = e
        except HarnessError as e:
            result.error = e
            log.info(f"group {result.group.index}: {e.detail.splitlines()[0]}")
            try:
                destroy_all(self.dom0, domains)
            except HarnessError as lost:
                self.lost = lost

    def _check_reasons(self, result: GroupResult, domains: list[Domain]) -> None:
        """The shutdown reason must agree with what the guest printed."""
        for d in domains:
            rep, reason = result.reports[d.role], result.reasons[d.role]
            if rep.done is None:
                continue
            want = self.reasons.code("poweroff" if rep.done[1] == 0 and not rep.script_errors else "reboot")
            if reason != want:
                raise GuestDied(
                    f"{d.name}: printed DONE {rep.done} but shut down with {self.reasons.describe(reason)}, "
                    f"expected {self.reasons.describe(want)}"
                )
