"""Each fuzzing vcpu's last operations, read out of the machine after Xen went down.

The guest keeps them in a page per vcpu (`struct fuzz_ring`, guest/fuzz/fuzz.h) and names those
pages' machine frames before a run starts (``EVT FUZZ-RING``). Once Xen is down the guest
can print nothing more, but QEMU still holds the machine's memory, and under Xen a PV
guest's machine frame is QEMU's physical page: QMP's `pmemsave` reads it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Protocol

from .errors import HarnessError
from .evtlines import LINES
from .results import FuzzRings

PAGE = 4096
MAGIC = b"EVTFUZZ1"  # RING_MAGIC
HEADER = struct.Struct("<8sQII")  # magic, seed, vcpu, running
OP = struct.Struct("<Q24sIIqq")  # struct fuzz_last_op: i, name, a, b, want, got
LAST_OPS = 16
NO_ANSWER = -(2**63)  # FUZZ_NO_ANSWER: the hypercall had not returned
NOT_ISSUED = NO_ANSWER + 1  # FUZZ_NOT_ISSUED: no hypercall, nothing to do or not yet


class Memory(Protocol):
    def command(self, name: str, **arguments: object) -> object: ...


def decode(page: bytes, seed: int, vcpu: int) -> list[str]:
    """One vcpu's ring: its operations, oldest first, in FUZZ-LAST's words, or why not."""
    if len(page) < HEADER.size + LAST_OPS * OP.size:
        return [f"vcpu {vcpu}: only {len(page)} byte(s) of its page could be read"]
    magic, got_seed, got_vcpu, running = HEADER.unpack_from(page)
    if (magic, got_seed, got_vcpu) != (MAGIC, seed, vcpu):
        return [
            f"vcpu {vcpu}: its page holds no ring of seed {seed} (magic {magic!r}, seed {got_seed}, vcpu {got_vcpu})"
        ]
    ops = []
    for k in range(LAST_OPS):
        i, name, a, b, want, got = OP.unpack_from(page, HEADER.size + k * OP.size)
        name = name.split(b"\0", 1)[0]
        if name:
            ops.append((i, name.decode("ascii", "replace"), a, b, want, got))
    ops.sort()
    state = "fuzzing" if running else "its run over"
    out = [f"vcpu {vcpu} ({state} when Xen went down), its last {len(ops)} operation(s):"]
    for i, name, a, b, want, got in ops:
        # In the guest's words (print_finding()): the model's answer is written with Xen's.
        answer = {NO_ANSWER: "in flight", NOT_ISSUED: "not issued"}.get(got, f"model={want} xen={got}")
        out.append(LINES["FUZZ_LAST"].text(vcpu, i, name, a, b, rest=f" {answer}"))
    return out


def read(memory: Memory, rings: FuzzRings, scratch: Path) -> list[str]:
    """Every vcpu's ring, read from the machine. A page that cannot be read is said so, and
    ends the reading: QMP may be out of step after a failure, or QEMU gone."""
    out: list[str] = []
    scratch.mkdir(parents=True, exist_ok=True)
    for vcpu, mfn in enumerate(rings.mfns):
        path = scratch / f"ring-{rings.seed}-{vcpu}.bin"
        path.unlink(missing_ok=True)  # never an earlier run's page
        try:
            memory.command("pmemsave", val=mfn * PAGE, size=PAGE, filename=str(path))
            page = path.read_bytes()
        except (HarnessError, OSError) as e:
            out.append(f"vcpu {vcpu}: its page (frame {mfn:#x}) could not be read: {str(e).splitlines()[0]}")
            break
        out += decode(page, rings.seed, vcpu)
    return out
