"""The same cases against several hypervisors, and what changed between them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .report import Row


@dataclass
class Column:
    """One Xen under test: its identity and what each step returned."""

    name: str
    header: dict[str, str] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # row key -> got
    error: str = ""  # the run could not complete (panic, no dom0, ...)
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


def column_from(name: str, header: dict[str, str], table: list[Row], wall: float, report: Path) -> Column:
    return Column(name, header, {row_key(r): r.got for r in table}, "", wall, str(report))


def compare(columns: list[Column]) -> list[tuple[str, list[str], bool]]:
    """(row key, cell per column, differs) with differing rows first."""
    keys: list[str] = []
    for c in columns:
        keys += [k for k in c.cells if k not in keys]
    out = []
    for k in keys:
        cells = ["(no run)" if c.error else c.cells.get(k, "-") for c in columns]
        out.append((k, cells, len(set(cells)) > 1))
    return sorted(out, key=lambda row: not row[2])


def write(out: Path, columns: list[Column]) -> tuple[Path, Path]:
    table = compare(columns)
    data = {
        "columns": [
            {"name": c.name, "header": c.header, "error": c.error, "wall_seconds": c.wall_seconds, "report": c.report}
            for c in columns
        ],
        "rows": [
            {"step": k, "cells": dict(zip([c.name for c in columns], cells, strict=True)), "differs": d}
            for k, cells, d in table
        ],
    }
    json_path = out / "matrix.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md = ["# Event channel results across hypervisors", ""]
    for c in columns:
        md.append(f"- **{c.title()}**" + (f" — **did not run**: {c.error.splitlines()[0]}" if c.error else ""))
        if c.report:
            md.append(f"  report: {c.report}; wall time {c.wall_seconds:.0f} s")
    differing = sum(1 for _, _, d in table if d)
    md += ["", f"{differing} of {len(table)} steps differ; they come first.", ""]
    md.append("| step | " + " | ".join(c.name for c in columns) + " | differs |")
    md.append("|---|" + "---|" * len(columns) + "---|")
    for k, cells, d in table:
        md.append(f"| {k} | " + " | ".join(cells) + f" | {'**yes**' if d else ''} |")
    md_path = out / "matrix.md"
    md_path.write_text("\n".join(md) + "\n")
    return json_path, md_path
