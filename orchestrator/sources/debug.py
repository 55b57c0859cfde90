"""A Debian suite's Xen built here from its source package with debug=y (`make xen-debug`)."""

from __future__ import annotations

from ..artifacts import SUITES
from ..errors import SetupError
from ..xenbuild import build_debug
from . import Source
from .image import prepare_image

PREFIX = "debug:"


def _check(spec: str) -> None:
    suite = spec.removeprefix(PREFIX)
    if suite not in SUITES:
        raise SetupError(f"{spec}: debug:<suite> takes a Debian suite ({', '.join(SUITES)}), not {suite!r}")


SOURCE = Source(
    form="debug:<suite>",
    help="that suite's Xen built from Debian's source with debug=y",
    matches=lambda spec: spec.startswith(PREFIX),
    check=_check,
    prepare=lambda spec, build, coverage: prepare_image(build_debug(spec.removeprefix(PREFIX), build), build),
    suite=lambda spec: spec.removeprefix(PREFIX),
    host_deps=("flex", "bison", "dpkg-dev"),
)
