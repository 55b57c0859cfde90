"""Progress output: every long step says what it is doing and how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def info(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Announce a step, then report its duration (or that it failed)."""
    info(f"{what} ...")
    start = time.monotonic()
    try:
        yield
    except BaseException:
        info(f"{what}: failed after {time.monotonic() - start:.1f}s")
        raise
    info(f"{what}: done in {time.monotonic() - start:.1f}s")
