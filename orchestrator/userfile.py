"""Files the user names (case files, serial logs): read whole, but only what can be one.

`/dev/zero` would fill the memory and a FIFO would hang the read: anything that is not
a regular file is refused before it is opened, and a regular file only up to a limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MiB = 1 << 20

# What a path that is not a regular file is, in a message.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UserFileError(Exception):
    """Why a file cannot be read; the caller names the file."""


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "cannot read: Is a directory"  # the words open() would give
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return f"not a regular file ({kind})"


def read_bytes(path: Path, limit: int) -> bytes:
    """The whole of a regular file of at most `limit` bytes, or UserFileError saying why not."""
    try:
        before = os.stat(path)
        why = _not_regular(before.st_mode)
        if why:
            raise UserFileError(why)
        if before.st_size > limit:
            raise UserFileError(f"too large: {before.st_size} bytes, more than {limit // MiB} MiB")
        # O_NONBLOCK: if a FIFO took the file's place since the stat, open() must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            now = os.fstat(f.fileno())
            if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(now.st_mode):
                raise UserFileError("changed while it was being opened")
            data = f.read(limit + 1)  # a file that grows (or says it is empty, as /proc's do) is still bounded
    except OSError as e:
        raise UserFileError(f"cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise UserFileError(f"too large: more than {limit // MiB} MiB")
    return data
