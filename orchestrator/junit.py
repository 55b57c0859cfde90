"""JUnit XML of a conformance report, for CI systems that show test results from it
(GitLab's `artifacts: reports: junit`, Jenkins).

Written from the report's JSON (report.write_reports, merge.write), so a shard's run and
a merged verdict give the same kind of file. One testsuite per case file, one testcase per
case: FAIL and CRASH are failures (findings about Xen), ERROR an error (the harness could
not tell), SKIP skipped. A failing case's text lists its failing steps; the steps that differ
from the 3.0 guide or that the Xen's baseline knows go to system-out. A merge's gaps (a
shard without a report, a case no shard reports) are errors of a testsuite of their own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

SUITE = "xen-evtchn-conformance"
FILE = "conformance.junit.xml"  # beside conformance.json
# Steps whose verdict makes the case fail (report.FAIL, report.MISSING), and those shown as notes.
FAILING = {"FAIL": "expected {expected}, got {got}", "NO RESULT": "no result: the step did not run"}
NOTES = {"DIFFERS FROM 3.0": "differs from the 3.0 guide ({spec}): got {got}", "KNOWN": "KNOWN (baseline): got {got}"}
# XML 1.0 has no way to write most control characters, and a garbled serial line can hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(s: object) -> str:
    return _NOT_XML.sub("?", str(s))


def _step(row: dict[str, Any], template: str) -> str:
    what = template.format(**{k: row.get(k, "?") for k in ("expected", "got", "spec")})
    return f"{row.get('where', '?')} {row.get('domain', '?')} {row.get('call', '?')}: {what}"


def _testcase(parent: ET.Element, case: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The case's testcase under `parent`; returns its outcome."""
    file, _, line = str(case.get("file", "?")).partition(":")
    el = ET.SubElement(parent, "testcase", classname=file.removesuffix(".evt"), name=_text(case["case"]))
    el.set("file", _text(file))
    if line:
        el.set("line", line)
    outcome = str(case.get("outcome", "ERROR"))
    failing = [_step(r, FAILING[r["verdict"]]) for r in rows if r.get("verdict") in FAILING]
    problems = [f"{p.get('outcome', '?')}: {p.get('text', '')}" for p in case.get("problems", [])]
    body = "\n".join(failing + problems)
    first = (failing + problems + [outcome])[0].splitlines()[0]
    if outcome in ("FAIL", "CRASH"):
        ET.SubElement(el, "failure", type=outcome, message=_text(first)).text = _text(body)
    elif outcome == "ERROR":
        ET.SubElement(el, "error", type=outcome, message=_text(first)).text = _text(body)
    elif outcome == "SKIP":
        ET.SubElement(el, "skipped", message=_text(first))
    notes = [_step(r, NOTES[r["verdict"]]) for r in rows if r.get("verdict") in NOTES]
    if notes:
        ET.SubElement(el, "system-out").text = _text("\n".join(notes))
    return outcome


def _count(suite: ET.Element, outcomes: list[str]) -> None:
    suite.set("tests", str(len(outcomes)))
    suite.set("failures", str(sum(o in ("FAIL", "CRASH") for o in outcomes)))
    suite.set("errors", str(sum(o == "ERROR" for o in outcomes)))
    suite.set("skipped", str(sum(o == "SKIP" for o in outcomes)))


def junit(report: dict[str, Any]) -> str:
    """The JUnit XML of a conformance report (conformance.json's content)."""
    root = ET.Element("testsuites", name=SUITE)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for case in report.get("cases", []):
        by_file.setdefault(str(case.get("file", "?")).partition(":")[0], []).append(case)
    steps: dict[str, list[dict[str, Any]]] = {}
    for row in report.get("rows", []):
        steps.setdefault(str(row.get("case")), []).append(row)
    header = report.get("header", {})
    everything: list[str] = []
    for file, cases in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=_text(file))
        props = ET.SubElement(suite, "properties")
        for key, value in header.items():
            ET.SubElement(props, "property", name=_text(key), value=_text(value))
        outcomes = [_testcase(suite, c, steps.get(str(c["case"]), [])) for c in cases]
        _count(suite, outcomes)
        everything += outcomes
    if report.get("problems"):
        suite = ET.SubElement(root, "testsuite", name="merge")
        for i, problem in enumerate(report["problems"], start=1):
            el = ET.SubElement(suite, "testcase", classname="merge", name=f"gap {i}")
            ET.SubElement(el, "error", type="ERROR", message=_text(problem)).text = _text(problem)
        _count(suite, ["ERROR"] * len(report["problems"]))
        everything += ["ERROR"] * len(report["problems"])
    _count(root, everything)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
