"""A booted Xen and dom0, saved once and restored for every run.

A cold boot takes QEMU about ten seconds to dom0's shell; restoring the saved
machine takes about one. A state is only good for the very machine it was saved
from, so it is kept under a key made of everything that machine depends on: the
hypervisor, dom0's kernel and initramfs, QEMU's version and its whole command line
(with the paths that differ between runs left out). Anything changed, and the key
names a state that does not exist yet: the run boots cold and saves a new one.
What a run brings itself (scripts, xl configs, evtchn-op) is not in the state: it
reaches dom0 on the run disk (initramfs.build_run_disk). The guest's kernel is: the
guests that stand by in the saved machine run it (runner.Session._stand_by).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .machine import BootImages, QemuConfig, qemu_argv, qemu_version

# Bump when what dom0 does before it is saved changes in a way no input shows.
FORMAT = 3  # 3: dom0's agent serves the command channel


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _generic(arg: str, placeholders: dict[str, str]) -> str:
    for path, name in placeholders.items():
        arg = arg.replace(path, name)
    return arg


def key(cfg: QemuConfig, boot: BootImages) -> str:
    """What a saved state depends on, hashed: equal keys, interchangeable machines."""
    # Paths differ between runs; the files' contents are what counts, hashed below.
    placeholders = {str(boot.run_disk): "RUN_DISK", str(boot.xen): "XEN", str(boot.dom0_kernel): "DOM0"}
    placeholders[str(boot.initrd)] = "INITRD"
    parts: dict[str, Any] = {
        "format": FORMAT,
        "argv": [_generic(a, placeholders) for a in qemu_argv(cfg, boot, Path("QMP"), Path("AGENT"))],
        "qemu": qemu_version(cfg.binary),
        "files": {
            name: _digest(p) for name, p in (("xen", boot.xen), ("dom0", boot.dom0_kernel), ("initrd", boot.initrd))
        },
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Snapshot:
    """One saved machine: `state` (QEMU's migration stream) and what the harness noted at saving."""

    dir: Path

    @property
    def state(self) -> Path:
        return self.dir / "state.bin"

    @property
    def meta_path(self) -> Path:
        return self.dir / "meta.json"

    def exists(self) -> bool:
        """A state and its notes, both whole (a run stopped while saving leaves neither)."""
        try:
            return self.state.exists() and isinstance(self.meta(), dict)
        except (OSError, ValueError):
            return False

    def meta(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self.meta_path.read_text())
        return data

    def drop(self) -> None:
        self.state.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)

    def write_meta(self, meta: dict[str, str]) -> None:
        self.meta_path.write_text(json.dumps(meta, indent=2) + "\n")


KEEP = 6  # states kept (about 300 MB each): a matrix of a few Xens, and src: builds besides


def find(store: Path, cfg: QemuConfig, boot: BootImages) -> Snapshot:
    """The snapshot for this machine (it may not exist yet); all but the newest few are dropped."""
    snap = Snapshot(store / key(cfg, boot))
    snap.dir.mkdir(parents=True, exist_ok=True)
    snap.dir.touch()
    others = sorted((d for d in store.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    for old in others[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    return snap
