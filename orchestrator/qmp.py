"""QEMU's machine protocol (QMP) on a unix socket: what a saved machine state needs.

QMP is one JSON object per line each way: a greeting, `qmp_capabilities`, then
commands, each answered by `{"return": ...}` or `{"error": ...}`, with
asynchronous `{"event": ...}` lines in between (skipped here).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from .errors import SetupError

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0


class Qmp:
    def __init__(self, path: Path, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.path = path
        deadline = time.monotonic() + timeout
        while True:  # QEMU makes the socket as it starts
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise SetupError(f"QEMU's QMP socket {path} did not answer within {timeout:.0f}s") from None
                time.sleep(0.02)
        self.sock.settimeout(COMMAND_TIMEOUT_S)
        self._buf = b""
        self._read()  # the greeting
        self.command("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            data = self.sock.recv(65536)
            if not data:
                raise SetupError(f"QEMU closed its QMP socket {self.path}")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        msg: dict[str, Any] = json.loads(line)
        return msg

    def command(self, name: str, **arguments: Any) -> Any:
        """Run one command; its `return` value, or SetupError with QEMU's own message."""
        request: dict[str, Any] = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise SetupError(f"QMP {name}: {msg['error'].get('desc', msg['error'])}")

    def wait_status(self, wanted: set[str], timeout: float) -> str:
        """Poll query-status until the run state is one of `wanted`."""
        deadline = time.monotonic() + timeout
        while True:
            status = str(self.command("query-status")["status"])
            if status in wanted:
                return status
            if time.monotonic() > deadline:
                raise SetupError(f"QEMU stayed {status!r}, waiting for {' or '.join(sorted(wanted))}")
            time.sleep(0.02)

    def close(self) -> None:
        self.sock.close()
