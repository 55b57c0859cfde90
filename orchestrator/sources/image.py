"""A hypervisor the user built (xen or xen.gz), with the toolstack and dom0 of the Debian
suite whose Xen has the same major.minor; refused before boot when none has."""

from __future__ import annotations

from pathlib import Path

from .. import log
from ..artifacts import Artifacts, fetch
from ..errors import SetupError
from ..hypervisor import elf_image, resolve, with_hypervisor
from . import Source, forms


def prepare_image(path: Path, build: Path) -> Artifacts:
    suite, _ = resolve(str(path))
    arts = with_hypervisor(fetch(suite, build), path, build)
    log.info(f"hypervisor under test: {arts.versions['xen-hypervisor']}, with the {suite} toolstack")
    return arts


def _check(spec: str) -> None:
    if not spec or not Path(spec).exists():  # Path("") is the current directory
        raise SetupError(f"{spec or repr(spec)}: neither {forms('nor')}")
    elf_image(Path(spec))


SOURCE = Source(
    form="a hypervisor file",
    help="a hypervisor you built (xen or xen.gz), with the toolstack of the suite of its major.minor",
    matches=lambda spec: True,
    check=_check,
    prepare=lambda spec, build, coverage: prepare_image(Path(spec), build),
    suite=lambda spec: resolve(spec)[0],
)
