"""`python3 -m orchestrator.sources host-deps XEN[,XEN...]`: the Debian packages preparing
those Xens needs beyond the base (the Makefile's), one line; nothing for a malformed value,
which the orchestrator itself then refuses with its reason."""

from __future__ import annotations

import sys

from . import find

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "host-deps":
        sys.exit("usage: python3 -m orchestrator.sources host-deps XEN[,XEN...]")
    packages: list[str] = []
    for spec in filter(None, sys.argv[2].split(",")):
        packages += [p for p in find(spec).host_deps if p not in packages]
    print(" ".join(packages))
