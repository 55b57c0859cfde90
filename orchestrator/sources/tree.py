"""A Xen source tree: its hypervisor and its toolstack, built here (out of the tree), with
the dom0 kernel and userspace of the Debian suite of the same major.minor (bookworm's if
none has it: staging), and our guest built against the tree's own public headers."""

from __future__ import annotations

from pathlib import Path

from .. import log
from ..artifacts import SUITES, Artifacts, fetch
from ..errors import SetupError
from ..hypervisor import hypervisor_version, with_hypervisor
from ..xenbuild import build_tree, build_tree_tools, with_toolstack
from . import Source

PREFIX = "src:"


def tree_of(spec: str) -> Path:
    return Path(spec.removeprefix(PREFIX))


def with_own_toolstack(
    hypervisor: Path, tools: Path, origin: Path, build: Path, work: Path | None = None, what: str = ""
) -> Artifacts:
    """A hypervisor and the toolstack built with it (an install tree), with the dom0 kernel
    and userspace of the Debian suite of the same major.minor (bookworm's if none has it);
    dom0's root made in `work` (default: beside `tools`)."""
    version = hypervisor_version(hypervisor)
    suite = next((s.name for s in SUITES.values() if s.xen_series == version), "bookworm")
    arts = with_toolstack(with_hypervisor(fetch(suite, build), hypervisor, build), tools, origin, work)
    log.info(f"Xen {version} from {origin}{what}: hypervisor and toolstack, dom0 from {suite}")
    return arts


def _prepare(spec: str, build: Path, coverage: bool) -> Artifacts:
    tree = tree_of(spec)
    return with_own_toolstack(build_tree(tree, build, coverage), build_tree_tools(tree, build, coverage), tree, build)


def _check(spec: str) -> None:
    if not (tree_of(spec) / "xen" / "Makefile").is_file():
        raise SetupError(f"{spec}: not a Xen source tree (no xen/Makefile in {str(tree_of(spec))!r})")


SOURCE = Source(
    form="src:<tree>",
    help="a Xen source tree, its hypervisor and toolstack built here (dom0 from the suite of its major.minor)",
    matches=lambda spec: spec.startswith(PREFIX),
    check=_check,
    prepare=_prepare,
    suite=lambda spec: None,
    host_deps=(
        *("flex", "bison", "dpkg-dev"),
        *("autoconf", "automake", "autotools-dev", "pkg-config", "gettext", "uuid-dev", "libyajl-dev"),
        *("zlib1g-dev", "libncurses-dev", "python3-dev", "libzstd-dev", "liblzma-dev", "libbz2-dev"),
        "acpica-tools",
    ),
    coverage=True,
)
