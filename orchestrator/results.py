"""Parse the guests' console lines into results: one object per operation.

Works on the live console and on a saved serial log alike: every guest line
reaches the serial line through dom0's relay as ``[<domain>] EVT ...``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

GUEST_LINE = re.compile(r"^\[(?P<domain>[\w.-]+)\] EVT (?P<kind>[A-Z-]+)\s?(?P<rest>.*)$")
KEYVAL = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True)
class StepResult:
    """One operation one guest ran, as it reported it."""

    domain: str
    case: str
    line: int  # line of the step in the case file
    op: str
    args: tuple[str, ...]
    expect: str
    got: str
    verdict: str  # PASS or FAIL

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def describe(self) -> str:
        return f"{self.domain}: {self.op}({', '.join(self.args)}) expected {self.expect}, got {self.got}"


@dataclass(frozen=True)
class Crash:
    domain: str
    vector: int
    name: str
    rip: str
    text: str


@dataclass
class DomainReport:
    """Everything one domain printed, parsed."""

    domain: str
    boot: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    cases_begun: list[str] = field(default_factory=list)
    cases_ended: dict[str, tuple[int, int]] = field(default_factory=dict)
    case_us: dict[str, int] = field(default_factory=dict)  # guest-measured time per case
    script_errors: list[str] = field(default_factory=list)
    garbled: list[str] = field(default_factory=list)  # guest lines that could not be read
    crash: Crash | None = None
    done: tuple[int, int] | None = None  # (pass, fail) from EVT DONE


class ParseError(ValueError):
    pass


def parse_line(text: str) -> tuple[str, str, str] | None:
    """(domain, kind, rest) for a guest line, None for any other line."""
    m = GUEST_LINE.match(text.strip())
    return (m["domain"], m["kind"], m["rest"]) if m else None


def _keyvals(rest: str) -> dict[str, str]:
    return dict(KEYVAL.findall(rest))


def _counts(rest: str) -> tuple[int, int]:
    kv = _keyvals(rest)
    try:
        return int(kv["pass"]), int(kv["fail"])
    except (KeyError, ValueError):
        raise ParseError(f"bad pass/fail counts: {rest!r}") from None


def parse_result(domain: str, rest: str) -> StepResult:
    kv = _keyvals(rest)
    missing = [k for k in ("case", "line", "op", "args", "expect", "got", "verdict") if k not in kv]
    if missing or kv["verdict"] not in ("PASS", "FAIL") or not kv["line"].isdigit():
        raise ParseError(f"malformed RESULT line from {domain}: {rest!r}")
    return StepResult(
        domain=domain,
        case=kv["case"],
        line=int(kv["line"]),
        op=kv["op"],
        args=tuple(a for a in kv["args"].split(",") if a),
        expect=kv["expect"],
        got=kv["got"],
        verdict=kv["verdict"],
    )


def _parse_into(rep: DomainReport, kind: str, rest: str) -> None:
    if kind == "RESULT":
        rep.steps.append(parse_result(rep.domain, rest))
    elif kind == "BOOT":
        rep.boot = _keyvals(rest)
    elif kind == "CASE-BEGIN":
        rep.cases_begun.append(rest.split()[0] if rest else "")
    elif kind == "CASE-END":
        name = rest.split()[0] if rest else ""
        rep.cases_ended[name] = _counts(rest)
        us = _keyvals(rest).get("us", "")
        if us.isdigit():
            rep.case_us[name] = int(us)
    elif kind == "DONE":
        rep.done = _counts(rest)
    elif kind == "SCRIPT-ERROR":
        rep.script_errors.append(rest)
    elif kind == "CRASH":
        kv = _keyvals(rest)
        words = rest.split()
        rep.crash = Crash(
            domain=rep.domain,
            vector=int(kv["vec"]) if kv.get("vec", "").isdigit() else -1,
            name=words[1] if len(words) > 1 and "=" not in words[1] else "?",
            rip=kv.get("rip", "?"),
            text=rest,
        )


def parse(lines: Iterable[str]) -> dict[str, DomainReport]:
    """Reports per domain name from console lines (others are ignored)."""
    reports: dict[str, DomainReport] = {}
    for text in lines:
        parsed = parse_line(text)
        if parsed is None:
            continue
        domain, kind, rest = parsed
        rep = reports.setdefault(domain, DomainReport(domain))
        try:
            _parse_into(rep, kind, rest)
        except ParseError as e:
            # A line cut by other output on the serial line: a problem of its case, not of the run.
            rep.garbled.append(str(e))
    return reports
