"""Where the Xen under test comes from: a registry, one module per kind of source.

Each module's SOURCE says how its --xen values look, a line of help, the Debian packages
its preparation needs on the host, whether it can count coverage, how a value is checked
before anything is fetched, built or booted, and how it is prepared (hypervisor, toolstack,
headers, dom0). The CLI's and pytest's help, the errors for a value that names no Xen and
the Makefile's host packages (`python3 -m orchestrator.sources host-deps XEN`) all come
from here. A new source is a module beside these and a line in SOURCES
(docs/contributing.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import Artifacts
from ..errors import SetupError


@dataclass(frozen=True)
class Source:
    form: str  # how a value looks, as help and errors show it: "src:<tree>"
    help: str  # what it is, a line
    matches: Callable[[str], bool]
    check: Callable[[str], None]  # SetupError for a value that can be no Xen of this kind
    prepare: Callable[[str, Path, bool], Artifacts]  # (value, build folder, coverage)
    suite: Callable[[str], str | None]  # the Debian suite whose headers its guest uses; None: its own
    host_deps: tuple[str, ...] = ()  # Debian packages its preparation needs beyond the base
    coverage: bool = False  # can be built with CONFIG_COVERAGE=y (run --coverage)


def _registry() -> tuple[Source, ...]:
    # Imported here: each module imports this one for Source.
    from . import ci, debug, image, suite, tree

    return (suite.SOURCE, debug.SOURCE, tree.SOURCE, ci.SOURCE, image.SOURCE)  # image last: any other value


def find(spec: str) -> Source:
    """The source a --xen value names (its form only; check() says whether it is usable)."""
    return next(s for s in _registry() if s.matches(spec))


def check(spec: str) -> None:
    """A --xen value's form, before anything is fetched, built or booted: SetupError if it
    can be no Xen (preparing it says later whether it is a usable one)."""
    find(spec).check(spec)


def forms(last: str = "or") -> str:
    """Every form a --xen value may take, for errors: "a, b, c or d"."""
    names = [s.form for s in _registry()]
    return ", ".join(names[:-1]) + f" {last} " + names[-1]


def help_text() -> str:
    return "Xen under test: " + "; ".join(f"{s.form}: {s.help}" for s in _registry())


def coverage_refusal(spec: str) -> str:
    """Why a coverage run of `spec` cannot be: the counters need a hypervisor built here."""
    can = " or ".join(s.form for s in _registry() if s.coverage)
    return (
        f"--coverage needs XEN={can} (built here with CONFIG_COVERAGE=y), not {spec!r}: Debian's "
        "hypervisors and files built elsewhere have no coverage counters, and the report needs the "
        "build's .gcno files"
    )


def require(spec: str, coverage: bool) -> Source:
    """find(), refusing --coverage for a source that cannot count."""
    source = find(spec)
    if coverage and not source.coverage:
        raise SetupError(coverage_refusal(spec))
    return source
