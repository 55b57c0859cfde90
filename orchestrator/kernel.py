"""KERNEL= / MODULES=: a Linux kernel of the user's in dom0 and the Linux peer, in place of the suite's.

The kernel is checked before anything boots: its config must have what dom0 and the peer
use, each option named when it is missing.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from .artifacts import Artifacts
from .errors import SetupError

# What dom0 (the toolstack, xenstored, xenconsoled, the run disk) and the Linux peer need:
# y built in, m a module is fine too.
REQUIRED: dict[str, str] = {
    "CONFIG_XEN": "y",
    "CONFIG_XEN_PV": "y",  # dom0 and the peer are PV
    "CONFIG_XEN_DOM0": "y",
    "CONFIG_HVC_XEN": "y",  # the console
    "CONFIG_XEN_XENBUS_FRONTEND": "y",  # /dev/xen/xenbus in the peer
    "CONFIG_XEN_DEV_EVTCHN": "ym",  # /dev/xen/evtchn: what the Linux peer and Dom0 steps go through
    "CONFIG_XEN_PRIVCMD": "ym",
    "CONFIG_XENFS": "ym",
    "CONFIG_XEN_GNTDEV": "ym",
    "CONFIG_XEN_GRANT_DEV_ALLOC": "ym",
    "CONFIG_VIRTIO_PCI": "ym",  # the run disk
    "CONFIG_VIRTIO_BLK": "ym",
    "CONFIG_BLK_DEV_INITRD": "y",
    "CONFIG_RD_XZ": "y",  # the peer's initramfs
    "CONFIG_DEVTMPFS": "y",
}


def missing_options(config_text: str) -> list[str]:
    """The REQUIRED options `config_text` (a kernel .config) lacks, as `NAME (want y|m)`."""
    have = dict(re.findall(r"^(CONFIG_\w+)=(\S+)$", config_text, re.M))
    return [
        f"{name} (want {' or '.join(want)}, has {have.get(name, 'not set')})"
        for name, want in REQUIRED.items()
        if have.get(name) not in tuple(want)
    ]


def find_config(vmlinuz: Path, modules: Path) -> Path | None:
    """The kernel's .config: config-<version> beside it (Debian's /boot), or `.config` or
    `config` beside it or in the modules' folder (a build tree)."""
    names = [f"config-{modules.name}", ".config", "config"]
    for folder in (vmlinuz.parent, modules, modules / "build"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def modules_dir(path: Path) -> Path:
    """lib/modules/<version>, given it or a folder with exactly one version in it."""
    if (path / "modules.builtin").exists() or (path / "modules.order").exists():
        return path
    versions = [p for p in path.iterdir() if p.is_dir() and (p / "modules.builtin").exists()] if path.is_dir() else []
    if len(versions) != 1:
        raise SetupError(f"MODULES={path}: not lib/modules/<version> of a kernel (no modules.builtin in it)")
    return versions[0]


def with_kernel(arts: Artifacts, vmlinuz: Path, modules: Path) -> Artifacts:
    """`arts` with this kernel and its modules for dom0 and the Linux peer, once checked."""
    if not vmlinuz.is_file():
        raise SetupError(f"KERNEL={vmlinuz}: no such file")
    modules = modules_dir(modules)
    config = find_config(vmlinuz, modules)
    if config is None:
        raise SetupError(
            f"KERNEL={vmlinuz}: its config was not found (config-{modules.name} beside it, or .config "
            f"beside it or in {modules}); it is needed to check the kernel before booting it"
        )
    missing = missing_options(config.read_text(errors="replace"))
    if missing:
        raise SetupError(
            f"KERNEL={vmlinuz} ({config}) lacks what dom0 and the Linux peer need:\n  " + "\n  ".join(missing)
        )
    versions = dict(arts.versions)
    versions["dom0-kernel"] = f"{modules.name} (KERNEL={vmlinuz})"
    return replace(arts, vmlinuz=vmlinuz, modules=modules, versions=versions)


def from_environment(arts: Artifacts) -> Artifacts:
    """KERNEL= and MODULES= (make's variables, or the environment) applied to `arts`."""
    kernel, modules = os.environ.get("KERNEL", ""), os.environ.get("MODULES", "")
    if not kernel and not modules:
        return arts
    if not kernel or not modules:
        raise SetupError("KERNEL= and MODULES= go together: the kernel and its lib/modules/<version>")
    return with_kernel(arts, Path(kernel).resolve(), Path(modules).resolve())
