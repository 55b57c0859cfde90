"""The same cases against several hypervisors, and what changed between them.

A step that has a result in every column is the same or differs; one that has no
result in some column (a lost machine, a silent guest) is an error of that column,
listed apart: nothing is known of that Xen's answer, so it is never a difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .outcome import Outcome, worst
from .report import MISSING, Row

NO_RESULT = "(no result)"
SAME, DIFFERS, ERROR = "same", "differs", "error"


@dataclass
class Column:
    """One Xen under test: its identity and what each step returned."""

    name: str
    header: dict[str, str] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # row key -> got, or NO_RESULT
    error: str = ""  # the run could not complete (panic, no dom0, ...)
    outcome: Outcome = Outcome.ERROR  # the run's, as `run` would exit
    wall_seconds: float = 0.0
    report: str = ""

    def title(self) -> str:
        h = self.header
        parts = [
            f"Xen {h.get('xen_version', '?')}",
            f"changeset {h.get('xen_changeset') or '-'}",
            f"build-id {h.get('build_id', '?')[:12]}",
            f"{h.get('cc_compiler', '?')}",
            f"debug={h.get('debug', '?')}",
        ]
        return f"{self.name}: " + ", ".join(parts)


def row_key(r: Row) -> str:
    return f"{r.case} {r.where} {r.domain} {r.command}"


def column_from(
    name: str, header: dict[str, str], table: list[Row], outcome: Outcome, wall: float, report: Path
) -> Column:
    cells = {row_key(r): NO_RESULT if r.verdict == MISSING else r.got for r in table}
    return Column(name, header, cells, wall_seconds=wall, report=str(report), outcome=outcome)


def compare(columns: list[Column]) -> list[tuple[str, list[str], str]]:
    """(row key, cell per column, SAME/DIFFERS/ERROR): differing rows first, then the
    rows some column has no result for, then the rest."""
    keys: list[str] = []
    for c in columns:
        keys += [k for k in c.cells if k not in keys]
    out = []
    for k in keys:
        cells = [c.cells.get(k, NO_RESULT) for c in columns]
        # A step no column reached (a domain its case destroys on purpose) is the same everywhere.
        status = ERROR if NO_RESULT in cells and len(set(cells)) > 1 else DIFFERS if len(set(cells)) > 1 else SAME
        out.append((k, cells, status))
    rank = {DIFFERS: 0, ERROR: 1, SAME: 2}
    return sorted(out, key=lambda row: rank[row[2]])


def outcome(columns: list[Column]) -> Outcome:
    """The matrix's verdict: the worst column's, as `run` gives it (ERROR for one that did
    not run). Differences between Xens are findings, not failures."""
    return worst(Outcome.ERROR if c.error else c.outcome for c in columns)


def write(out: Path, columns: list[Column]) -> tuple[Path, Path]:
    table = compare(columns)
    data = {
        "columns": [
            {
                "name": c.name,
                "header": c.header,
                "error": c.error,
                "outcome": (Outcome.ERROR if c.error else c.outcome).name,
                "wall_seconds": c.wall_seconds,
                "report": c.report,
            }
            for c in columns
        ],
        "outcome": outcome(columns).name,
        "rows": [
            {"step": k, "cells": dict(zip([c.name for c in columns], cells, strict=True)), "status": st}
            for k, cells, st in table
        ],
    }
    json_path = out / "matrix.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md = ["# Event channel results across hypervisors", ""]
    for c in columns:
        md.append(f"- **{c.title()}**" + (f" — **did not run**: {c.error.splitlines()[0]}" if c.error else ""))
        if c.report:
            md.append(f"  report: {c.report}; wall time {c.wall_seconds:.0f} s")
    differing = sum(1 for _, _, st in table if st == DIFFERS)
    errors = sum(1 for _, _, st in table if st == ERROR)
    md += [
        "",
        f"Verdict: **{outcome(columns).name}**. {differing} of {len(table)} steps differ; they come first. "
        f"{errors} step(s) have no result in some column: ERROR, not a difference.",
        "",
    ]
    md.append("| step | " + " | ".join(c.name for c in columns) + " | status |")
    md.append("|---|" + "---|" * len(columns) + "---|")
    for k, cells, st in table:
        mark = {DIFFERS: "**differs**", ERROR: "**ERROR**", SAME: ""}[st]
        md.append(f"| {k} | " + " | ".join(cells) + f" | {mark} |")
    md_path = out / "matrix.md"
    md_path.write_text("\n".join(md) + "\n")
    return json_path, md_path
