"""The QEMU machine that runs Xen, started, watched and always torn down."""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from . import log
from .agent import PORT_NAME, Agent
from .console import Console
from .errors import SetupError
from .qmp import Qmp

RESTORE_TIMEOUT_S = 60.0
SAVE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class QemuConfig:
    """How QEMU is started. TCG only: KVM does not work on these machines."""

    binary: str = "qemu-system-x86_64"
    # Multi-threaded TCG (QEMU's default here, said out loud): the vcpus really run at once.
    accel: str = "tcg,thread=multi"
    cpu: str = "qemu64"  # -cpu max boots Xen but kills a PV dom0 (#PF at once)
    smp: int = 2
    memory_mb: int = 3072
    extra: tuple[str, ...] = ("-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none")


@dataclass(frozen=True)
class BootImages:
    xen: Path
    xen_cmdline: str
    dom0_kernel: Path
    dom0_cmdline: str
    initrd: Path
    # A raw disk dom0 reads the run's files from (initramfs.build_run_disk): a machine
    # state saved once can then serve runs with other files (snapshot.py).
    run_disk: Path


def qemu_base(cfg: QemuConfig, *paths: Path) -> list[str]:
    """The command line's start, every machine's: binary, accelerator, cpu, memory and the
    fixed devices; SetupError for a path (among `paths`) QEMU's option lists cannot take."""
    for p in paths:
        if "," in str(p) or " " in str(p):
            raise SetupError(f"{p}: QEMU's option lists cannot take commas or spaces in paths")
    return [
        cfg.binary, "-accel", cfg.accel, "-cpu", cfg.cpu, "-smp", str(cfg.smp), "-m", str(cfg.memory_mb),
        *cfg.extra,
    ]  # fmt: skip


def qemu_argv(cfg: QemuConfig, boot: BootImages, qmp: Path, agent: Path) -> list[str]:
    modules = f"{boot.dom0_kernel} {boot.dom0_cmdline},{boot.initrd}"
    return [
        *qemu_base(cfg, boot.xen, boot.dom0_kernel, boot.initrd, boot.run_disk, qmp, agent),
        "-qmp", f"unix:{qmp},server=on,wait=off",
        "-drive", f"file={boot.run_disk},format=raw,if=none,id=run",
        "-device", "virtio-blk-pci,drive=run",
        # dom0's command channel (agent.py): a virtio-serial port, a unix socket here.
        "-device", "virtio-serial-pci,id=vser",
        "-chardev", f"socket,id=agent,path={agent},server=on,wait=off",
        "-device", f"virtserialport,bus=vser.0,chardev=agent,name={PORT_NAME}",
        "-kernel", str(boot.xen), "-append", boot.xen_cmdline, "-initrd", modules,
    ]  # fmt: skip


def qemu_version(binary: str = "qemu-system-x86_64") -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SetupError(f"{binary} not found: run `make setup` (installs qemu-system-x86)") from None
    return out.splitlines()[0].removeprefix("QEMU emulator version ").strip() if out else "unknown"


_live: set[int] = set()


def _kill_leftovers() -> None:
    for pid in list(_live):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


atexit.register(_kill_leftovers)


@dataclass
class Machine:
    """A running QEMU with its serial console. Use as a context manager."""

    cfg: QemuConfig
    boot: BootImages
    log_path: Path
    restore: Path | None = None  # a state Machine.save wrote, from the same command line
    console: Console = field(init=False)
    started: float = field(init=False, default=0.0)
    pid: int = field(init=False, default=-1)

    def __enter__(self) -> Machine:
        import pexpect

        qmp_path = self.log_path.parent / "qmp.sock"
        qmp_path.unlink(missing_ok=True)
        self.agent_path.unlink(missing_ok=True)
        argv = qemu_argv(self.cfg, self.boot, qmp_path, self.agent_path)
        if self.restore is not None:
            argv += ["-incoming", f"exec:cat {shlex.quote(str(self.restore))}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        log.info(f"starting QEMU (serial log: {self.log_path})")
        self.started = time.monotonic()
        # No encoding: the console works on bytes (typeshed types spawn as str regardless).
        child = pexpect.spawn(argv[0], argv[1:], echo=False)
        self._child: pexpect.spawn[str] | None = child
        assert child.pid is not None
        self.pid = child.pid
        _live.add(child.pid)
        self.console = Console(child, self._log, self.log_path)  # type: ignore[arg-type]
        try:
            self.qmp = Qmp(qmp_path)
            if self.restore is not None:
                # The state was saved stopped: it arrives paused, and runs on `cont`.
                self.qmp.wait_status({"paused"}, RESTORE_TIMEOUT_S)
                self.qmp.command("cont")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def agent_path(self) -> Path:
        return self.log_path.parent / "agent.sock"

    def agent(self) -> Agent:
        """The host's end of dom0's command channel: while it waits, the console reads on
        (and reads the channel too, once Dom0.connect attaches it); its unasked output
        (the guests' lines) goes into the console's lines."""
        return Agent(self.agent_path, lambda fd, timeout: self.console.pump(timeout), self.console.feed_side)

    def save(self, path: Path) -> None:
        """The machine's whole state into `path` (a QEMU migration stream), then it runs on."""
        tmp = path.with_suffix(f".{os.getpid()}.part")  # two runs may save at once
        self.qmp.command("stop")
        try:
            self.qmp.command("migrate", uri=f"exec:cat > {shlex.quote(str(tmp))}")
            deadline = time.monotonic() + SAVE_TIMEOUT_S
            while (status := self.qmp.command("query-migrate").get("status")) not in ("completed", "failed"):
                if time.monotonic() > deadline:
                    raise SetupError(f"saving the machine's state took over {SAVE_TIMEOUT_S:.0f}s ({status})")
                time.sleep(0.05)
            if status != "completed":
                raise SetupError(f"saving the machine's state failed: {self.qmp.command('query-migrate')}")
            tmp.rename(path)
        finally:
            tmp.unlink(missing_ok=True)
            self.qmp.command("cont")

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        # Taken first: a run given up (Session.abandon) may stop it from two threads at once.
        child, self._child = getattr(self, "_child", None), None
        if child is None:
            return
        qmp = getattr(self, "qmp", None)
        if qmp is not None:
            qmp.close()
        if child.isalive():
            child.terminate(force=True)
        child.close(force=True)
        if child.pid is not None:
            _live.discard(child.pid)
        self._log.close()
