"""Which Xen is under test: a Debian suite's, or a hypervisor the user built.

A user-built hypervisor runs with the toolstack (and dom0 kernel) of the suite
whose Xen has the same major.minor; anything else is refused before boot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
import zlib
from pathlib import Path

from .artifacts import SUITES, Artifacts, elf_build_id
from .errors import SetupError
from .userfile import MiB, UserFileError, read_bytes

ELF_MAGIC = b"\x7fELF"
GZIP_MAGIC = b"\x1f\x8b"
# Xen's ELF is a few MiB (xen-syms, with its debug info, is not what --xen takes).
MAX_IMAGE = 64 * MiB


def hypervisor_version(path: Path) -> str:
    """major.minor of a hypervisor image, from its build tree or its own bytes."""
    here = path.resolve().parent
    compile_h = here / "include" / "xen" / "compile.h"
    if compile_h.exists():  # `path` sits in its build tree (xen/xen, xen/xen.gz)
        text = compile_h.read_text()
        major = re.search(r"#define\s+XEN_VERSION\s+(\d+)", text)
        minor = re.search(r"#define\s+XEN_SUBVERSION\s+(\d+)", text)
        if major and minor:
            return f"{major.group(1)}.{minor.group(1)}"
    syms = here / "xen-syms"
    if syms.exists():  # xen_{major,minor}_version() return constants
        parts = []
        for fn in ("xen_major_version", "xen_minor_version"):
            out = subprocess.run(
                ["objdump", "-d", f"--disassemble={fn}", str(syms)], capture_output=True, text=True
            ).stdout
            m = re.search(r"mov\s+\$0x([0-9a-f]+),%eax", out)
            if not m:
                break
            parts.append(str(int(m.group(1), 16)))
        if len(parts) == 2:
            return ".".join(parts)
    data = elf_image(path)
    # Debian's builds carry their package version, e.g. "4.17.7+13-g2445b30a44-0+deb12u1".
    debian = re.search(rb"\x00(\d+)\.(\d+)\.\d+\+[\w.+~-]*deb\d+\w*\x00", data)
    if debian:
        return f"{int(debian.group(1))}.{int(debian.group(2))}"
    raise SetupError(
        f"cannot tell which Xen version {path} is: give the hypervisor from its build tree "
        "(include/xen/compile.h or xen-syms beside it)"
    )


def elf_image(path: Path) -> bytes:
    """The ELF image of a hypervisor file (xen, or xen.gz), or SetupError naming the file and
    what it is instead: read before anything is fetched or booted."""
    try:
        data = read_bytes(path, MAX_IMAGE)
    except UserFileError as e:
        raise SetupError(f"{path}: {e}") from None
    if data[:2] == GZIP_MAGIC:
        # One gzip member, inflated up to the limit: a truncated xen.gz raised EOFError.
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = inflate.decompress(data, MAX_IMAGE + 1)
        except zlib.error as e:
            raise SetupError(f"{path}: a damaged gzip file ({e}), not a hypervisor image") from None
        if len(data) > MAX_IMAGE:
            raise SetupError(f"{path}: inflates to more than {MAX_IMAGE // MiB} MiB: not a hypervisor image")
        if not inflate.eof:
            raise SetupError(f"{path}: a truncated gzip file (it ends before its end), not a hypervisor image")
    if data[:4] != ELF_MAGIC:
        raise SetupError(
            f"{path}: not a hypervisor image: neither ELF nor gzip (it begins {data[:8]!r}); give Xen's xen or xen.gz"
        )
    return data


def resolve(spec: str) -> tuple[str, Path | None]:
    """(suite, user-built hypervisor or None) for a --xen value."""
    if spec in SUITES:
        return spec, None
    path = Path(spec)
    if not path.exists():
        raise SetupError(f"--xen={spec}: neither a Debian suite ({', '.join(SUITES)}) nor a hypervisor file")
    elf_image(path)  # an image before its version is looked for: a text file is no Xen of unknown version
    version = hypervisor_version(path)
    for suite in SUITES.values():
        if suite.xen_series == version:
            return suite.name, path
    toolstacks = ", ".join(f"{s.name} has {s.xen_series}" for s in SUITES.values())
    raise SetupError(
        f"{path} is Xen {version}, but no toolstack matches it ({toolstacks}): refused before boot. "
        "For a Xen of your own, give its source tree, XEN=src:<tree>: its hypervisor and toolstack "
        "are built together"
    )


def with_hypervisor(arts: Artifacts, path: Path, build: Path) -> Artifacts:
    """`arts` with its hypervisor replaced by a user-built one (matched by resolve())."""
    data = elf_image(path)
    digest = hashlib.sha256(data).hexdigest()[:16]
    elf = build / "custom-xen" / digest / "xen"  # QEMU takes the ELF, not xen.gz
    if not elf.exists():
        elf.parent.mkdir(parents=True, exist_ok=True)
        elf.write_bytes(data)
    built = f"user-built {path.resolve()} (Xen {hypervisor_version(path)})"
    changelog = path.resolve().parent.parent / "debian" / "changelog"
    if changelog.exists():  # built from a Debian source package: say which
        m = re.match(r"(\S+) \(([^)]+)\)", changelog.read_text())
        if m:
            built += f" from Debian source {m.group(1)} {m.group(2)}"
    versions = {**arts.versions, "xen-hypervisor": built, "xen-build-id": elf_build_id(elf)}
    # The copy in build/ has no build tree beside it to tell its version by.
    versions["xen-series"] = hypervisor_version(path)
    return dataclasses.replace(arts, xen=elf, versions=versions)
