"""Failure messages a Xen developer can act on without opening the log."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from . import junit
from .console import Line
from .evtlines import LINES, TAG
from .outcome import Outcome, worst
from .results import CaseResult, ParseError, parse_line, parse_result

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
    """Names the case and its outcome, each failing step's domain, op and arguments, expected and got."""
    what = {Outcome.FAIL: "failed", Outcome.ERROR: "ERROR (of the harness, not a verdict on Xen)"}
    head = what.get(res.outcome, res.outcome.name)
    out = [f"case {res.case.name} ({res.case.path.name}:{res.case.line}): {head}"]
    for s in res.steps:
        if s.passed:
            continue
        out.append(
            f"  {res.case.path.name}:{s.line}: domain {s.domain}: {s.op}({', '.join(s.args)}): "
            f"expected {s.expect}, got {s.got}"
        )
        out.append(f"      step: {_case_line(res, s.line)}")
        out.append("      serial log around it:")
        needle = LINES["RESULT"].head(res.case.name, s.line, s.op)
        out.append(_serial_context(lines, f"[{s.domain}] EVT {needle} "))
    for p in res.problems:
        out.append(f"  {p.outcome.name}: {p.text}")
    return "\n".join(out)


# The other lines the exchange shows, as printed.
_EXCHANGE_TOO = {TAG[i] for i in ("BOOT", "CASE_BEGIN", "CASE_END", "RTT", "DONE", "CRASH", "SCRIPT_ERROR")}


def format_exchange(lines: list[str]) -> str:
    """The guests' steps in the order the serial line saw them, one per line."""
    out = []
    for text in lines:
        parsed = parse_line(text)
        if parsed is None:
            continue
        dom, kind, rest = parsed
        if kind == TAG["RESULT"]:
            try:
                step = parse_result(dom, rest)
            except ParseError as e:
                out.append(f"  ???  {dom:<6} {e}")
                continue
            if step.op in ("put", "get", "mark"):
                continue  # the harness's own rendezvous
            mark = "ok  " if step.passed else "FAIL"
            call = f"{step.op}({', '.join(step.args)})"
            out.append(f"  {mark} {dom:<6} {call:<34} expect {step.expect:<34} got {step.got}")
        elif kind in _EXCHANGE_TOO:
            out.append(f"       {dom:<6} {kind} {rest[:200]}")
    return "\n".join(out)


# -- the conformance report ---------------------------------------------------

PASS, FAIL, DIFFERS, MISSING, KNOWN = "PASS", "FAIL", "DIFFERS FROM 3.0", "NO RESULT", "KNOWN"


@dataclass(frozen=True)
class Row:
    """One step of a case as the report shows it."""

    command: str
    case: str
    where: str  # case file:line
    domain: str
    call: str
    expected: str  # what Xen's source says
    spec: str  # what the 3.0 guide says, where it differs
    got: str
    verdict: str
    source: str  # the step's citation, else the case's


def rows(results: list[CaseResult]) -> list[Row]:
    out = []
    for res in results:
        case_source = "; ".join(res.case.sources)
        for step in res.case.steps:
            got = next((s for s in res.steps if s.line == step.line and s.op == step.op), None)
            if got is None:
                verdict = MISSING
            elif got.known:
                verdict = KNOWN  # fails as the Xen's baseline says it does
            elif not got.passed:
                verdict = FAIL
            else:
                verdict = DIFFERS if step.spec else PASS
            out.append(
                Row(
                    command=step.op,
                    case=res.case.name,
                    where=f"{res.case.path.name}:{step.line}",
                    domain=step.domain,
                    call=f"{step.op}({', '.join(got.args if got else step.args)})",
                    expected=got.expect if got else " ".join(step.expect),
                    spec=" ".join(step.spec) if step.spec else "",
                    got=got.got if got else "-",
                    verdict=verdict,
                    source=step.comment or case_source,
                )
            )
    return out


# -- KTAP ---------------------------------------------------------------------------
# The results as KTAP (the kernel's test output format, Documentation/dev-tools/ktap.rst),
# so the kernel's own tools read them: `kunit.py parse conformance.ktap`. One test per
# case, its steps as subtests in the report's order; a step that passed but differs from
# the 3.0 guide is `ok` with a diagnostic line saying so.

INDENT = "    "


def _name(text: str) -> str:
    # A result line's name runs to the first '#' (a directive): keep ours out of it.
    return " ".join(text.replace("#", "No.").split())


def ktap(header: dict[str, str], results: list[CaseResult]) -> str:
    table = rows(results)
    out = ["KTAP version 1", f"# Xen {header.get('xen_version', '?')} build-id {header.get('build_id', '?')}"]
    out.append(f"1..{len(results)}")
    for i, res in enumerate(results, start=1):
        name = _name(res.case.name)
        steps = [r for r in table if r.case == res.case.name]
        if steps:
            out += [f"{INDENT}KTAP version 1", f"{INDENT}# Subtest: {name}", f"{INDENT}1..{len(steps)}"]
        for j, row in enumerate(steps, start=1):
            ok = row.verdict not in (FAIL, MISSING)
            out.append(f"{INDENT}{'ok' if ok else 'not ok'} {j} {_name(f'{row.where} {row.domain} {row.call}')}")
            if row.verdict == DIFFERS:
                out.append(f"{INDENT}# DIFFERS FROM 3.0: Xen {row.got}, the 3.0 guide {row.spec}")
            elif row.verdict == KNOWN:
                out.append(f"{INDENT}# KNOWN (baseline): expected {row.expected}, got {row.got}")
            elif row.verdict == FAIL:
                out.append(f"{INDENT}# expected {row.expected}, got {row.got}")
            elif row.verdict == MISSING:
                out.append(f"{INDENT}# no result: the step did not run")
        for problem in res.problems:
            out.append(f"# {problem.outcome.name}: {' '.join(problem.text.split())[:300]}")
        if res.outcome is Outcome.SKIP:
            out.append(f"ok {i} {name} # SKIP")
        else:
            out.append(f"{'ok' if res.outcome is Outcome.PASS else 'not ok'} {i} {name}")
    return "\n".join(out) + "\n"


def write_reports(
    out: Path, header: dict[str, str], results: list[CaseResult], shard: dict[str, object] | None = None
) -> tuple[Path, Path]:
    """conformance.json, .md, .ktap and .junit.xml in `out`; returns the first two's
    paths. With `shard` (SuiteRun.shard), the JSON says which part of the suite it holds."""
    table = rows(results)
    counts = {v: sum(1 for r in table if r.verdict == v) for v in (PASS, DIFFERS, KNOWN, FAIL, MISSING)}
    outcomes = {o.name: sum(1 for r in results if r.outcome is o) for o in Outcome}
    data = {
        "header": header,
        "summary": {
            "cases": len(results),
            "cases_failed": sum(not r.passed for r in results),
            "outcome": worst(r.outcome for r in results).name,
            "case_outcomes": outcomes,  # PASS, SKIP, ERROR, FAIL, CRASH: see orchestrator/outcome.py
            **counts,
        },
        "cases": [
            {
                "case": r.case.name,
                "title": r.case.title,
                "file": f"{r.case.path.name}:{r.case.line}",
                "outcome": r.outcome.name,
                "passed": r.passed,
                "problems": [{"outcome": p.outcome.name, "text": p.text} for p in r.problems],
            }
            for r in results
        ],
        "rows": [asdict(r) for r in table],
    }
    if shard is not None:
        data["shard"] = shard
    json_path = out / "conformance.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")

    md = ["# Event channel conformance report", ""]
    md += [f"- **{k}**: {v}" for k, v in header.items()]
    md += ["", "| case outcome | cases |", "|---|---|"] + [f"| {k} | {v} |" for k, v in outcomes.items()]
    md += ["", "| step verdict | steps |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    first = "Rows that failed come first, then those the Xen's baseline knows (KNOWN), then those"
    md += ["", f"{first} that differ from the Xen 3.0 interface guide.", ""]
    md += ["| command | case | step | domain | call | expected (Xen) | 3.0 guide | got | verdict | source |"]
    md += ["|---|---|---|---|---|---|---|---|---|---|"]
    order = {FAIL: 0, MISSING: 0, KNOWN: 1, DIFFERS: 2, PASS: 3}
    for r in sorted(table, key=lambda r: order[r.verdict]):
        cells = (r.command, r.case, r.where, r.domain, r.call, r.expected, r.spec, r.got, f"**{r.verdict}**", r.source)
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    problems = [(r.case.name, p) for r in results for p in r.problems]
    if problems:
        md += ["", "## Problems", ""]
        md += [f"- `{name}`: **{p.outcome.name}** {p.text.splitlines()[0]}" for name, p in problems]
    md_path = out / "conformance.md"
    md_path.write_text("\n".join(md) + "\n")
    (out / "conformance.ktap").write_text(ktap(header, results))
    (out / junit.FILE).write_text(junit.junit(data))
    return json_path, md_path
