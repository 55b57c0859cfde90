"""KERNEL= / MODULES=: a Linux kernel of the user's in dom0 and the Linux peer, in place of the suite's.

The kernel is checked before anything boots: it must be an x86 bzImage whose version is
its modules' (MODULES=), and its config must have what dom0 and the peer use, each option
named when it is missing.
"""

from __future__ import annotations

import os
import re
import struct
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


# The x86 boot protocol's setup header (Documentation/arch/x86/boot.rst): its magic, the
# protocol version, and kernel_version, where the version string is, less 0x200.
HDR_MAGIC = (0x202, b"HdrS")
PROTOCOL_AT = 0x206
KERNEL_VERSION_AT = 0x20E
# Xen's dom0 builder (xen/arch/x86/bzimage.c) and libxc's, for the peer, load 2.08 or later.
MIN_PROTOCOL = 0x208
# The setup code the header's offsets point into: at most 0x200 + 0xffff bytes.
SETUP_MAX = 0x200 + 0x10000


def image_version(vmlinuz: Path) -> str | None:
    """The Linux version a bzImage says it is (the first word of its kernel_version string),
    None if its header has no such string; SetupError naming KERNEL= and the file if it is
    no bzImage Xen would load."""
    try:
        with open(vmlinuz, "rb") as f:
            head = f.read(SETUP_MAX)
    except OSError as e:
        raise SetupError(f"KERNEL={vmlinuz}: cannot read: {e.strerror or e}") from None
    at, magic = HDR_MAGIC
    if head[at : at + len(magic)] != magic:
        raise SetupError(
            f"KERNEL={vmlinuz}: not an x86 bzImage (no {magic.decode()!r} setup header at {at:#x}): "
            "give the compressed kernel (arch/x86/boot/bzImage, /boot/vmlinuz-<version>)"
        )
    (protocol,) = struct.unpack_from("<H", head, PROTOCOL_AT)
    if protocol < MIN_PROTOCOL:
        raise SetupError(
            f"KERNEL={vmlinuz}: boot protocol {protocol >> 8}.{protocol & 0xFF:02d}; "
            f"Xen loads a bzImage of {MIN_PROTOCOL >> 8}.{MIN_PROTOCOL & 0xFF:02d} or later"
        )
    (pointer,) = struct.unpack_from("<H", head, KERNEL_VERSION_AT)
    if pointer == 0:
        return None  # the header does not say: the modules cannot be matched to it here
    text, nul, _ = head[0x200 + pointer :].partition(b"\0")
    words = text.split()
    if not nul or not words or not text.isascii() or not words[0].decode().isprintable():
        raise SetupError(
            f"KERNEL={vmlinuz}: its setup header's kernel_version ({KERNEL_VERSION_AT:#x}) points at no "
            "version string: a damaged bzImage"
        )
    return words[0].decode()


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
    version = image_version(vmlinuz)
    modules = modules_dir(modules)
    if version is not None and version != modules.name:
        # Dom0 would load modules built for another kernel, and the peer's xen-evtchn would not load.
        raise SetupError(
            f"KERNEL={vmlinuz} is Linux {version}, but MODULES={modules} are {modules.name}'s: "
            "give the kernel's own lib/modules/<version>"
        )
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
