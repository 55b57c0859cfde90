"""Failure messages a Xen developer can act on without opening the log."""

from __future__ import annotations

from .console import Line
from .runner import CaseResult

CONTEXT_LINES = 4


def _case_line(res: CaseResult, line: int) -> str:
    try:
        return res.case.path.read_text().splitlines()[line - 1].strip()
    except (OSError, IndexError):
        return "?"


def _serial_context(lines: list[Line], needle: str) -> str:
    for ln in lines:
        if needle in ln.text:
            lo = max(0, ln.index - CONTEXT_LINES)
            return "\n".join(f"        {x.text}" for x in lines[lo : ln.index + CONTEXT_LINES + 1])
    return "        (not found in the serial log)"


def failure_message(res: CaseResult, lines: list[Line]) -> str:
    """Names the case, each failing step's domain, op and arguments, expected and got."""
    out = [f"case {res.case.name} ({res.case.path.name}:{res.case.line}) failed"]
    for s in res.steps:
        if s.passed:
            continue
        out.append(
            f"  {res.case.path.name}:{s.line}: domain {s.domain}: {s.op}({', '.join(s.args)}): "
            f"expected {s.expect}, got {s.got}"
        )
        out.append(f"      step: {_case_line(res, s.line)}")
        out.append("      serial log around it:")
        out.append(_serial_context(lines, f"[{s.domain}] EVT RESULT case={res.case.name} line={s.line} op={s.op} "))
    for p in res.problems:
        out.append(f"  {p}")
    return "\n".join(out)
