"""One verdict from many machines: the shards' conformance.json joined into one report.

Each shard's report says which shard it is, which cases it ran and which the whole suite
has (run --shard). The merge checks that the shards belong to one suite and that every
shard and every case is there: a shard that is missing or that ran no report, or a case no
shard reports, is an ERROR of the merged verdict, never a silent gap. The merged report
holds the union of cases and steps; its verdict is the worst case's, as a single run's is.

A fuzz campaign's shards (their fuzz.json) are merged by orchestrator/fuzzsummary.py;
kind() tells the two apart, and one merge takes one kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import junit
from .outcome import Outcome, worst

REPORT = "conformance.json"
FUZZ_SUMMARY = "fuzz.json"  # a fuzz campaign's (orchestrator/fuzzsummary.py)


class MergeError(Exception):
    """The inputs cannot be one suite's shards (different suites, a shard twice)."""


def kind(path: Path) -> str:
    """ "conformance" or "fuzz": what a shard's output folder (or the file itself) holds."""
    if not path.is_dir():
        return "fuzz" if path.name == FUZZ_SUMMARY else "conformance"
    found = [k for k, name in (("conformance", REPORT), ("fuzz", FUZZ_SUMMARY)) if (path / name).is_file()]
    if len(found) != 1:
        what = (
            "both a conformance report and a fuzz summary"
            if found
            else "neither a conformance report nor a fuzz summary"
        )
        raise MergeError(f"{path}: holds {what}")
    return found[0]


def load(given: Path, name: str, what: str, lacks: Callable[[dict[str, Any]], str | None]) -> dict[str, Any]:
    """One shard's JSON: `given`, or the file `name` in that folder; `lacks` says what a
    document that is not `what` is missing. Where it came from is kept under `_path`."""
    path = given / name if given.is_dir() else given
    try:
        data: object = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise MergeError(f"{path}: not {what} ({e})") from None
    if not isinstance(data, dict):
        raise MergeError(f"{path}: not {what} (not an object)")
    missing = lacks(data)
    if missing:
        raise MergeError(f"{path}: not {what} ({missing})")
    data["_path"] = str(path)
    return data


def read(dirs: list[Path]) -> list[dict[str, Any]]:
    def lacks(data: dict[str, Any]) -> str | None:
        return None if "cases" in data and "rows" in data else "no cases or rows"

    return [load(d, REPORT, "a conformance report", lacks) for d in dirs]


def merge(reports: list[dict[str, Any]], expected_total: int | None = None) -> dict[str, Any]:
    """The merged report: the union of the shards', and `problems` for every gap."""
    problems: list[str] = []
    shards = [r.get("shard") for r in reports]
    totals = {s["total"] for s in shards if s}
    suites = {tuple(s["suite_cases"]) for s in shards if s}
    if any(s is None for s in shards):
        names = [r["_path"] for r, s in zip(reports, shards, strict=True) if s is None]
        if len(reports) > 1:
            raise MergeError(f"not a shard's report (run without --shard): {', '.join(names)}")
    if len(totals) > 1 or len(suites) > 1:
        raise MergeError(f"the reports are shards of different suites (totals {sorted(totals)})")
    total = expected_total or (totals.pop() if totals else 1)
    seen: dict[int, str] = {}
    for r, s in zip(reports, shards, strict=True):
        if s is None:
            continue
        if s["index"] in seen:
            raise MergeError(f"shard {s['index']}/{total} twice: {seen[s['index']]} and {r['_path']}")
        seen[s["index"]] = r["_path"]
    if shards and shards[0] is not None:
        problems += [f"shard {i}/{total}: no report" for i in range(1, total + 1) if i not in seen]
    cases = [c for r in reports for c in r["cases"]]
    rows = [row for r in reports for row in r["rows"]]
    if suites:
        have = {c["case"] for c in cases}
        problems += [f"case {name}: no shard reports it" for name in next(iter(suites)) if name not in have]
    outcomes = [Outcome[c["outcome"]] for c in cases] + [Outcome.ERROR] * len(problems)
    verdict = worst(outcomes) if outcomes else Outcome.ERROR
    return {
        "header": reports[0]["header"] if reports else {},
        "merged_from": [r["_path"] for r in reports],
        "summary": {
            "cases": len(cases),
            "outcome": verdict.name,
            "case_outcomes": {o.name: sum(1 for c in cases if c["outcome"] == o.name) for o in Outcome},
        },
        "problems": problems,
        "cases": cases,
        "rows": rows,
    }


def write(out: Path, merged: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / REPORT
    json_path.write_text(json.dumps(merged, indent=2) + "\n")
    md = ["# Event channel conformance report (merged)", ""]
    md += [f"- **{k}**: {v}" for k, v in merged["header"].items()]
    md += [f"- merged from: {', '.join(merged['merged_from'])}", ""]
    md += [f"Verdict: **{merged['summary']['outcome']}**, {merged['summary']['cases']} case(s).", ""]
    if merged["problems"]:
        md += ["## Gaps (ERROR)", ""] + [f"- {p}" for p in merged["problems"]] + [""]
    md += ["| case | file | outcome |", "|---|---|---|"]
    md += [f"| {c['case']} | {c['file']} | {c['outcome']} |" for c in merged["cases"]]
    md_path = out / "conformance.md"
    md_path.write_text("\n".join(md) + "\n")
    (out / junit.FILE).write_text(junit.junit(merged))
    return json_path, md_path
