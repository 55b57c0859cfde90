"""The EVT lines' one definition, script/evt-lines.h: what the orchestrator reads of it is
what C prints through it, every line has its reader, and no C prints a line by hand."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from orchestrator import evtlines
from orchestrator.evtlines import FORMS, LINES, TAG, Field, Line
from orchestrator.results import (
    READERS,
    BadScript,
    Boot,
    CaseBegin,
    CaseEnd,
    Crash,
    Done,
    FuzzBeat,
    FuzzDetail,
    FuzzRings,
    FuzzRun,
    Note,
    Rtt,
    StepResult,
    parse_event,
)

from .hostbuild import REPO, build


def test_c_prints_each_line_with_the_format_python_reads(tmp_path: Path) -> None:
    """The preprocessor's expansion of every EVT_<ID>, against Line.format."""
    src = tmp_path / "formats.c"
    prints = "".join(f'    puts("EVT_{i}"); puts(EVT_{i});\n' for i in LINES)
    src.write_text(f'#include <stdio.h>\n#include "evt-lines.h"\nint main(void)\n{{\n{prints}    return 0;\n}}\n')
    exe = build(tmp_path / "formats", REPO / "script", src)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert dict(zip(out[0::2], out[1::2], strict=False)) == {f"EVT_{i}": line.format for i, line in LINES.items()}


def test_every_tag_has_one_reader() -> None:
    assert set(READERS) == set(FORMS)


@pytest.mark.parametrize(
    ("record", "ident", "extra"),
    [(StepResult, "RESULT", {"domain"}), (Rtt, "RTT", {"domain"}), (FuzzRun, "FUZZ", {"domain"})],
)
def test_the_records_are_the_lines_fields(record: type, ident: str, extra: set[str]) -> None:
    names = [f.name for f in dataclasses.fields(record) if f.name not in extra]
    assert tuple(names) == LINES[ident].keys


def test_the_guests_lines_read_back() -> None:
    """Each line as C prints it (Line.text: the same format), through the one parse."""
    assert parse_event("d", *_split(LINES["RESULT"].text("c", 3, "send", "1,2", "ok", "EINVAL", "FAIL"))) == StepResult(
        "d", "c", 3, "send", ("1", "2"), "ok", "EINVAL", "FAIL"
    )
    assert parse_event("d", *_split(LINES["RTT"].text("c", 4, 2, 0, 5, 6, 7, 8))) == Rtt("d", "c", 4, 2, 0, 5, 6, 7, 8)
    assert parse_event("d", *_split(LINES["FUZZ"].text(*range(1, 12)))) == FuzzRun("d", *range(1, 12))
    assert parse_event("d", *_split(LINES["FUZZ_RING"].text(5, 2, "1a,ff"))) == FuzzRings(5, (0x1A, 0xFF))
    assert parse_event("d", *_split(LINES["CASE_BEGIN"].text("c", rest=" reset ports=2"))) == CaseBegin("c")
    assert parse_event("d", *_split(LINES["CASE_END"].text("c", 2, 1, 900))) == CaseEnd("c", 2, 1, 900)
    assert parse_event("d", *_split(LINES["DONE"].text(2, 1))) == Done(2, 1)
    assert parse_event("d", *_split(LINES["SCRIPT_ERROR"].text(0, rest=" no script"))) == BadScript("line=0 no script")
    assert parse_event("d", *_split(LINES["NOTE"].text(rest=" chaos: send answered -22"))) == Note(
        "chaos: send answered -22"
    )
    crash = LINES["CRASH"].text(14, "#PF", 0, 0x1234, 0, 0x5678, 1)
    assert parse_event("d", *_split(crash)) == Crash("d", 14, "#PF", "1234", crash.split(" ", 1)[1])
    failsafe = parse_event("d", *_split(LINES["CRASH_FAILSAFE"].text(0x1234, 0x5678)))
    assert isinstance(failsafe, Crash) and (failsafe.vector, failsafe.name, failsafe.rip) == (-1, "FAILSAFE", "1234")
    boot = parse_event("d", *_split(LINES["BOOT_VCPU_DOWN"].text(3, 4, 17, "", 752, 1, -16, "unmapped", "off")))
    assert boot == Boot(
        {"domid": "3", "xen": "4.17", "script": "752", "vcpus": "1", "vcpu-up": "ERR-16", "low-1m": "unmapped"}
        | {"periodic-timer": "off"}
    )
    assert parse_event("d", *_split(LINES["FUZZ_PROGRESS_SHRINK"].text(12))) == FuzzBeat()
    step = LINES["FUZZ_STEP"].text(rest=" send 3 -> ok")
    assert step == "FUZZ-STEP A send 3 -> ok" and parse_event("d", *_split(step)) == FuzzDetail(step)


def _split(text: str) -> tuple[str, str]:
    tag, _, rest = text.partition(" ")
    return tag, rest


def test_a_needle_is_the_head_of_its_line() -> None:
    assert LINES["RESULT"].head("c", 3, "send") == "RESULT case=c line=3 op=send"
    assert TAG["CASE_END"] == "CASE-END"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no `#define EVT_<ID> EVT_TAG"),
        ('#define EVT_X EVT_TAG("X") EVT_REST("a") EVT_KEY("b", "%u")', "EVT_REST only last"),
        ('#define EVT_X EVT_TAG("X") EVT_KEY("b", "%u") EVT_KEY("b", "%u")', "each field once"),
        ('#define EVT_X EVT_TAG("X") EVT_KEY("b", "%u") junk', "not EVT_TAG(...) and fields"),
        ('#define EVT_X EVT_TAG("X") EVT_VALUE("b", "%u")', "not EVT_TAG(...) and fields"),
    ],
)
def test_the_reader_refuses_what_it_cannot_read(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        evtlines.read(text)


def test_continued_lines_and_joined_literals_read_as_c_reads_them() -> None:
    text = '#define EVT_X EVT_TAG("X") EVT_KEY("a", "%u,"  \\\n    "b=%u") \\\n    EVT_WORD("w", "W")\n'
    assert evtlines.read(text) == {"X": Line("X", "X", (Field("KEY", "a", "%u,b=%u"), Field("WORD", "w", "W")))}


C_DIRS = ("guest", "script", "dom0", "tests/host")


def test_no_line_is_printed_by_hand() -> None:
    """A tag written in a C literal, or a say() of a literal format, is a line the header does not define."""
    tags = "|".join(re.escape(t) for t in FORMS)
    by_hand = re.compile(rf'"(?:EVT )?(?:{tags})[ "]|script_say\(\s*"(?!%s")')
    found = [
        f"{path.relative_to(REPO)}:{n}: {text.strip()}"
        for d in C_DIRS
        for path in sorted((REPO / d).rglob("*.[ch]"))
        if path.name != "evt-lines.h"
        for n, text in enumerate(path.read_text().splitlines(), start=1)
        if by_hand.search(text) and not text.lstrip().startswith(("*", "/*", "//"))  # words about a line are fine
    ]
    assert found == []
