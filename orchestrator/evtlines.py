"""The EVT lines, read from their one definition: script/evt-lines.h.

Guests, dom0's evtchn-op and the Linux peer print each line through its macro there (its
printf format); results.py builds its parsers from the same fields, and lastops.py writes
FUZZ-LAST as the guest does. A tag may have several forms (BOOT: the guest's, the same with
vcpu-up, the Linux peer's), each a `Line` of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "script" / "evt-lines.h"
KINDS = ("KEY", "WORD", "REST")


@dataclass(frozen=True)
class Field:
    kind: str  # KEY (name=value), WORD (a value at its place, unnamed) or REST (the printer's own, to the end)
    name: str
    conv: str  # printf's conversion(s) of its value; "" for REST

    @property
    def format(self) -> str:
        """Its part of the line's printf format, as the header's C macros make it."""
        return {"KEY": f" {self.name}={self.conv}", "WORD": f" {self.conv}", "REST": ""}[self.kind]


@dataclass(frozen=True)
class Line:
    id: str  # EVT_<id> in the header
    tag: str  # what follows "EVT "
    fields: tuple[Field, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Its KEY fields' names, in order."""
        return tuple(f.name for f in self.fields if f.kind == "KEY")

    @property
    def format(self) -> str:
        """Its printf format, as C prints it after "EVT " (what REST adds not included)."""
        return self.tag + "".join(f.format for f in self.fields)

    def head(self, *values: object) -> str:
        """Its first len(values) fields, as C prints them (a needle for a line in a log)."""
        return (self.tag + "".join(f.format for f in self.fields[: len(values)])) % values

    def text(self, *values: object, rest: str = "") -> str:
        """The line C prints from these values, without "EVT " (% takes C's formats; it ignores `l`)."""
        return self.format % values + rest


_STRINGS = r'(?:\s*"[^"\\]*")+'  # C's adjacent literals, joined; no escapes in the header
_CALL = re.compile(rf"EVT_(TAG|{'|'.join(KINDS)})\(({_STRINGS})(?:,({_STRINGS}))?\)")
_DEFINE = re.compile(r"^#define EVT_(\w+) +(EVT_TAG\(.*)$", re.M)


def _literal(strings: str) -> str:
    return "".join(re.findall(r'"([^"\\]*)"', strings))


def _line(ident: str, body: str) -> Line:
    calls = list(_CALL.finditer(body))
    if _CALL.sub("", body).strip() or not calls or calls[0][1] != "TAG":
        raise ValueError(f"{HEADER}: EVT_{ident} is not EVT_TAG(...) and fields in the expected form")
    fields = tuple(Field(c[1], _literal(c[2]), _literal(c[3] or "")) for c in calls[1:])
    names = [f.name for f in fields]
    if any(f.kind == "TAG" for f in fields) or len(set(names)) != len(names):
        raise ValueError(f"{HEADER}: EVT_{ident}: one EVT_TAG, first, and each field once")
    if any(f.kind == "REST" for f in fields[:-1]):
        raise ValueError(f"{HEADER}: EVT_{ident}: EVT_REST only last")
    return Line(ident, _literal(calls[0][2]), fields)


def read(text: str) -> dict[str, Line]:
    """Every line the header defines, by its C name (EVT_<id>), in the header's order."""
    text = text.replace("\\\n", " ")  # continued lines
    lines = {ident: _line(ident, body) for ident, body in _DEFINE.findall(text)}
    if not lines:
        raise ValueError(f"{HEADER}: no `#define EVT_<ID> EVT_TAG(...)` lines")
    return lines


def forms(lines: dict[str, Line]) -> dict[str, tuple[Line, ...]]:
    """Each tag's forms, in the header's order."""
    out: dict[str, tuple[Line, ...]] = {}
    for line in lines.values():
        out[line.tag] = (*out.get(line.tag, ()), line)
    return out


LINES = read(HEADER.read_text())
FORMS = forms(LINES)
# Each line's tag by its C name: TAG["RESULT"] is "RESULT", TAG["CASE_END"] "CASE-END".
TAG = {ident: line.tag for ident, line in LINES.items()}
