"""A Xen built by Xen's own CI (or `make dist`): a folder laid out as its build jobs leave
`binaries/`: the hypervisor (`xen` or `xen.gz`, with `xen-syms` beside it when present)
and the toolstack's install tree (`dist/install/`, or `xen-tools.cpio.gz`). Nothing is
rebuilt; dom0's kernel and userspace come from the Debian suite of the same major.minor,
as for a source tree, and the guest is built against the toolstack's own headers."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from pathlib import Path

from ..artifacts import Artifacts
from ..errors import SetupError
from . import Source
from .tree import with_own_toolstack

PREFIX = "ci:"
# What dom0 needs of the toolstack, as build_tree_tools() checks it.
NEEDED = ("usr/sbin/xl", "usr/sbin/xenstored", "usr/sbin/xenconsoled", "usr/include/xen/xen.h")


def folder_of(spec: str) -> Path:
    return Path(spec.removeprefix(PREFIX))


def _hypervisor(folder: Path) -> Path:
    found = next((folder / n for n in ("xen", "xen.gz") if (folder / n).is_file()), None)
    if found is None:
        raise SetupError(f"{PREFIX}{folder}: no hypervisor (xen or xen.gz) in it")
    return found


def _toolstack(folder: Path) -> Path:
    """Where the folder keeps its toolstack: dist/install/, else xen-tools.cpio.gz."""
    install = folder / "dist" / "install"
    if install.is_dir():
        return install
    cpio = folder / "xen-tools.cpio.gz"
    if not cpio.is_file():
        raise SetupError(f"{PREFIX}{folder}: no toolstack (dist/install/ or xen-tools.cpio.gz) in it")
    return cpio


def _tools(folder: Path, build: Path) -> Path:
    """The install tree: dist/install as it is, or xen-tools.cpio.gz unpacked under build/."""
    found = _toolstack(folder)
    if found.is_dir():
        return found
    data = found.read_bytes()
    dest = build / "ci-xen" / hashlib.sha256(data).hexdigest()[:16] / "tools-dest"
    if not dest.is_dir():
        if dest.parent.exists():
            shutil.rmtree(dest.parent)
        dest.mkdir(parents=True)
        subprocess.run(
            ["cpio", "-idm", "--quiet", "--no-absolute-filenames"],
            input=gzip.decompress(data), cwd=dest, check=True,
        )  # fmt: skip
    return dest


def _check_tools(spec: str, tools: Path) -> None:
    missing = [n for n in NEEDED if not (tools / n).exists()]
    if missing:
        raise SetupError(f"{spec}: its toolstack ({tools}) has no {', '.join(missing)}")
    # Built against another C library (Xen's CI builds on Alpine: musl), xl cannot run on
    # Debian's dom0 userspace: refused here, not as a dom0 that cannot create a domain.
    interp = subprocess.run(["readelf", "-l", str(tools / "usr/sbin/xl")], capture_output=True, text=True).stdout
    if "ld-musl" in interp:
        raise SetupError(
            f"{spec}: its xl was built against musl (an Alpine build job), but dom0 runs Debian's glibc "
            "userspace: give the artifacts of a Debian build job"
        )


def _prepare(spec: str, build: Path, coverage: bool) -> Artifacts:
    folder = folder_of(spec)
    hypervisor = _hypervisor(folder)
    tools = _tools(folder, build)
    _check_tools(spec, tools)
    # dom0's root is made under build/, never in the user's folder.
    work = build / "ci-xen" / hashlib.sha256(str(tools.resolve()).encode()).hexdigest()[:16]
    work.mkdir(parents=True, exist_ok=True)
    return with_own_toolstack(hypervisor, tools, folder, build, work, " (CI artifacts, as built)")


def _check(spec: str) -> None:
    folder = folder_of(spec)
    if not folder.is_dir():
        raise SetupError(f"{spec}: not a folder of Xen's CI artifacts (binaries/)")
    _hypervisor(folder)
    _toolstack(folder)


SOURCE = Source(
    form="ci:<binaries>",
    help="what Xen's CI (or make dist) built: xen or xen.gz, and dist/install/ or xen-tools.cpio.gz; nothing rebuilt",
    matches=lambda spec: spec.startswith(PREFIX),
    check=_check,
    prepare=_prepare,
    suite=lambda spec: None,
    host_deps=("cpio",),
)
