"""Reading a fuzzing guest's last operations out of memory: its FUZZ-RING line, the page's
layout against guest/fuzz/fuzz.h's, and what is said of a page that is not a ring."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from orchestrator import lastops
from orchestrator.errors import SetupError
from orchestrator.results import FuzzRings, ParseError, parse, parse_fuzz_rings

from .hostbuild import REPO, build, xen_include


def ring_page(seed: int, vcpu: int, ops: list[tuple[int, str, int, int, int, int]], running: int = 1) -> bytes:
    page = bytearray(lastops.PAGE)
    lastops.HEADER.pack_into(page, 0, lastops.MAGIC, seed, vcpu, running)
    for i, name, a, b, want, got in ops:
        slot = i % lastops.LAST_OPS
        lastops.OP.pack_into(page, lastops.HEADER.size + slot * lastops.OP.size, i, name.encode(), a, b, want, got)
    return bytes(page)


def test_the_ring_line_names_a_frame_per_vcpu() -> None:
    reps = parse(["[g3-A] EVT FUZZ-RING seed=5 vcpus=2 mfns=1a2b3,ff"])
    assert reps["g3-A"].fuzz_rings == FuzzRings(5, (0x1A2B3, 0xFF))


@pytest.mark.parametrize(
    ("rest", "why"),
    [
        ("seed=5 vcpus=2 mfns=1a2b3", "mfns must be 2 frame number(s) in hex"),
        ("seed=5 vcpus=0 mfns=", "vcpus must be a positive decimal"),
        ("seed=x vcpus=1 mfns=10", "seed must be a decimal"),
        ("seed=5 vcpus=1 mfns=0x10", "mfns must be 1 frame number(s) in hex"),
        ("seed=5 mfns=10 vcpus=1", "fields out of order"),
        ("", "no fields"),
    ],
)
def test_a_malformed_ring_line_names_what_is_wrong(rest: str, why: str) -> None:
    with pytest.raises(ParseError, match=re.escape("malformed FUZZ-RING line from A: " + why)):
        parse_fuzz_rings("A", rest)


def test_the_last_operations_come_oldest_first_with_the_one_in_flight() -> None:
    ops = [(i, "send", i, 0, 0, 0) for i in range(100, 114)] + [(114, "mask", 3, 0, 0, lastops.NOT_ISSUED)]
    ops += [(115, "close", 7, 0, 0, lastops.NO_ANSWER)]
    lines = lastops.decode(ring_page(9, 1, ops), 9, 1)
    assert lines[0] == "vcpu 1 (fuzzing when Xen went down), its last 16 operation(s):"
    assert lines[1] == "FUZZ-LAST vcpu=1 op=100 send(100, 0) model=0 xen=0"
    assert lines[-2] == "FUZZ-LAST vcpu=1 op=114 mask(3, 0) not issued"
    assert lines[-1] == "FUZZ-LAST vcpu=1 op=115 close(7, 0) in flight"


def test_a_page_of_another_run_is_not_taken_for_this_one() -> None:
    page = ring_page(8, 0, [(0, "send", 1, 0, 0, 0)], running=0)
    assert "holds no ring of seed 9" in lastops.decode(page, 9, 0)[0]
    assert lastops.decode(page, 8, 0)[0] == "vcpu 0 (its run over when Xen went down), its last 1 operation(s):"
    assert "holds no ring" in lastops.decode(bytes(lastops.PAGE), 8, 0)[0]


class Memory:
    def __init__(self, pages: dict[int, bytes]) -> None:
        self.pages = pages

    def command(self, name: str, **arguments: object) -> object:
        assert name == "pmemsave" and arguments["size"] == lastops.PAGE
        addr = arguments["val"]
        assert isinstance(addr, int)
        if addr not in self.pages:
            raise SetupError("QMP pmemsave: Invalid parameter 'val'")
        Path(str(arguments["filename"])).write_bytes(self.pages[addr])
        return {}


def test_each_vcpu_page_is_read_from_its_frame_and_a_failure_is_said(tmp_path: Path) -> None:
    memory = Memory({0x10 * lastops.PAGE: ring_page(4, 0, [(3, "status", 1, 2, 0, 0)])})
    (tmp_path / "ring-4-1.bin").write_bytes(ring_page(4, 1, [(9, "send", 1, 0, 0, 0)]))  # an earlier run's
    lines = lastops.read(memory, FuzzRings(4, (0x10, 0x20, 0x30)), tmp_path)
    assert lines[1] == "FUZZ-LAST vcpu=0 op=3 status(1, 2) model=0 xen=0"
    assert (
        lines[2]
        == "vcpu 1: its page (frame 0x20) could not be read: set-up failed: QMP pmemsave: Invalid parameter 'val'"
    )
    assert len(lines) == 3  # after a failure QMP may be out of step: no more reads


def test_the_layout_is_the_guests(tmp_path: Path) -> None:
    """guest/fuzz/fuzz.h's struct fuzz_ring, as the guest's compiler lays it out."""
    src = tmp_path / "layout.c"
    src.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n'
        f'#include "{REPO / "guest" / "fuzz" / "fuzz.h"}"\n'
        "int main(void) {\n"
        '  printf("%zu %zu %zu %zu %s %d\\n", offsetof(struct fuzz_ring, last), sizeof(struct fuzz_last_op),\n'
        "         offsetof(struct fuzz_last_op, want), sizeof(struct fuzz_ring), FUZZ_RING_MAGIC, FUZZ_LAST_OPS);\n"
        '  printf("%lld %lld\\n", (long long)FUZZ_NO_ANSWER, (long long)FUZZ_NOT_ISSUED);\n'
        "  return 0;\n}\n"
    )
    exe = build(tmp_path / "layout", xen_include(), src)
    first, second = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.splitlines()
    last_at, op_size, want_at, ring_size, magic, n = first.split()
    assert int(last_at) == lastops.HEADER.size
    assert int(op_size) == lastops.OP.size and int(want_at) == 8 + 24 + 4 + 4
    assert int(ring_size) == lastops.PAGE  # a page each: one frame holds it all
    assert (magic.encode(), int(n)) == (lastops.MAGIC, lastops.LAST_OPS)
    assert [int(x) for x in second.split()] == [lastops.NO_ANSWER, lastops.NOT_ISSUED]
