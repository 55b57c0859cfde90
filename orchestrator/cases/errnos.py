"""The errno names a case may expect: those Xen's public xen/errno.h gives a guest."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SetupError
from ..userfile import MiB, UserFileError, read_bytes
from .model import shown

ERRNO_H = "xen/errno.h"


def _guest_errnos(include: Path) -> list[tuple[str, int]]:
    """xen/errno.h's XEN_ERRNO(name, value) lines a guest sees: not those under `#ifdef __XEN__`."""
    out: list[tuple[str, int]] = []
    hidden = 0  # depth inside #ifdef __XEN__ (nested conditionals counted while hidden)
    path = include / ERRNO_H
    try:
        text = read_bytes(path, MiB).decode("utf-8", "replace")
    except UserFileError as e:
        raise SetupError(f"{shown(path)}: {e}: Xen's public headers are not there") from None
    for line in text.splitlines():
        d = line.strip()
        if hidden:
            hidden += d.startswith("#if")
            hidden -= d.startswith("#endif")
            continue
        if re.match(r"#\s*ifdef\s+__XEN__\b", d):
            hidden = 1
            continue
        m = re.match(r"XEN_ERRNO\((E\w+),\s*(\d+)\)", d)
        if m:
            out.append((m.group(1), int(m.group(2))))
    if not out:
        # Every errno name of every case would be refused, each as "not an errno".
        raise SetupError(f"{shown(path)}: no XEN_ERRNO(name, value) lines: not Xen's public {ERRNO_H}")
    return out


def read_errnos(include: Path) -> frozenset[str]:
    """Errno names from Xen's public xen/errno.h, those the guest knows."""
    return frozenset(name for name, _ in _guest_errnos(include))
