"""Does a verdict depend on what ran before it?

The same cases run warm (sharing domains, as `make test` runs them) in two orders, and
fresh (each case in domains of its own), all on one booted Xen. Every step whose
result differs between the runs is listed with the case that ran before it in each:
a difference means some state outlived its case (docs/guest-script.md, "What a case
may assume").
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .cases.model import Case
from .cases.plan import Group, order, plan
from .report import MISSING, rows
from .results import GroupResult

FIRST = "(first in its domains)"
DOMID_FIELD = re.compile(r"\bdom=(\d+)")


@dataclass(frozen=True)
class Arm:
    """One way of running the cases: warm in some order, or fresh."""

    label: str
    groups: list[Group]

    def before(self) -> dict[str, str]:
        """For each case, the case that ran before it in the same domains."""
        out = {}
        for g in self.groups:
            prev = FIRST
            for case in g.cases:
                out[case.name] = prev
                prev = case.name
        return out


def arms(cases: list[Case], orders: list[str]) -> list[Arm]:
    """A warm arm per order and a fresh one, numbered apart so one machine runs them all."""
    out: list[Arm] = []
    first = 1
    for spec in orders:
        ordered, spelled = order(cases, spec)
        groups = plan(ordered, first=first)
        out.append(Arm(f"warm, {spelled} order", groups))
        first += len(groups)
    out.append(Arm("fresh", plan(cases, fresh=True, first=first)))
    return out


@dataclass(frozen=True)
class Cell:
    result: str  # verdict, call and Xen's answer
    after: str  # the case that ran before, in the same domains


@dataclass(frozen=True)
class Difference:
    where: str  # case file:line
    case: str
    domain: str
    cells: dict[str, Cell]  # by arm label


def _by_role(text: str, roles: dict[int, str]) -> str:
    """Xen's answer with each domain id as the role it names: ids differ between runs."""
    return DOMID_FIELD.sub(lambda m: f"dom=@{roles[int(m[1])]}" if int(m[1]) in roles else m[0], text)


def differences(runs: list[tuple[Arm, list[GroupResult]]]) -> tuple[list[Difference], list[Difference]]:
    """Every case-file step whose verdict or answer is not the same in all runs; and,
    apart, every step that has no result in some run (an error of that run: nothing is
    known of Xen's answer there, so it is no difference).

    Resolved calls are shown but not compared: they carry domain ids and ports, and a
    port that differs shows in the answer of the step that allocated it.
    """
    seen: dict[tuple[str, str], dict[str, Cell]] = {}
    domain: dict[tuple[str, str], str] = {}
    answer: dict[tuple[str, str, str], str] = {}
    for arm, groups in runs:
        before = arm.before()
        for g in groups:
            roles = g.roles()
            results = g.case_results()
            passed = {res.case.name for res in results if res.passed}
            for r in rows(results):
                key = (r.case, r.where)
                domain[key] = r.domain
                if r.verdict == MISSING:
                    # A passing case may leave a step unreached by design (its domain
                    # destroyed on purpose): only a case that did not pass lacks a result.
                    if r.case not in passed:
                        seen.setdefault(key, {})
                    continue
                answer[(*key, arm.label)] = f"{r.verdict}: {_by_role(r.got, roles)}"
                cell = Cell(f"{r.verdict}: {r.call} -> {r.got}", before.get(r.case, FIRST))
                seen.setdefault(key, {})[arm.label] = cell
    diffs, errors = [], []
    for (case, where), cells in seen.items():
        if len(cells) != len(runs):
            errors.append(Difference(where, case, domain[(case, where)], cells))
        elif len({answer[(case, where, label)] for label in cells}) > 1:
            diffs.append(Difference(where, case, domain[(case, where)], cells))
    return diffs, errors


def format_differences(labels: list[str], diffs: list[Difference]) -> str:
    lines = []
    width = max(len(label) for label in labels)
    for d in diffs:
        lines.append(f"{d.where} ({d.case}, domain {d.domain}):")
        for label in labels:
            cell = d.cells.get(label)
            text = f"{cell.result}   [after {cell.after}]" if cell else "(no result: ERROR)"
            lines.append(f"    {label:<{width}}  {text}")
    return "\n".join(lines)


def write(out: Path, labels: list[str], ncases: int, diffs: list[Difference], errors: list[Difference]) -> Path:
    """compare.json and compare.md in `out`; returns the Markdown's path."""
    data = {
        "runs": labels,
        "cases": ncases,
        "differences": [asdict(d) for d in diffs],
        "no_result": [asdict(d) for d in errors],
    }
    (out / "compare.json").write_text(json.dumps(data, indent=2) + "\n")
    md = ["# Warm in two orders against fresh domains", ""]
    md += [f"- {label}" for label in labels]
    md += ["", f"{ncases} cases, **{len(diffs)} step(s) differ**.", ""]
    if diffs:
        md += ["```", format_differences(labels, diffs), "```", ""]
    if errors:
        md += [f"**ERROR: {len(errors)} step(s) have no result in some run** (not differences):", ""]
        md += ["```", format_differences(labels, errors), "```"]
    path = out / "compare.md"
    path.write_text("\n".join(md) + "\n")
    return path
