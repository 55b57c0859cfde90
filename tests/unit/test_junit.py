"""orchestrator.junit: the JUnit XML of a run's report and of a merged one."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator import junit, merge
from orchestrator.cases.parse import parse_file
from orchestrator.report import write_reports
from orchestrator.results import CaseResult, StepResult

CASES = """case good
domains A
source  somewhere
A close 1000 -> EINVAL spec: ESRCH

case bad
domains A
source  somewhere
A raw 99     -> ENOSYS
A send 1000  -> EINVAL
"""


def _results(tmp_path: Path) -> list[CaseResult]:
    path = tmp_path / "c.evt"
    path.write_text(CASES)
    good, bad = parse_file(path)
    ok, failed = CaseResult(good, 1), CaseResult(bad, 1)
    ok.steps.append(StepResult("g1-A", "good", 4, "close", ("1000",), "EINVAL", "EINVAL", "PASS"))
    # The second step of `bad` has no result: a step that did not run fails the case too.
    failed.steps.append(StepResult("g1-A", "bad", 9, "raw", ("99",), "ENOSYS", "EPERM\x01", "FAIL"))
    return [ok, failed]


def test_a_testcase_per_case_failures_with_their_steps(tmp_path: Path) -> None:
    write_reports(tmp_path, {"xen_version": "4.17.7", "build_id": "abc"}, _results(tmp_path))
    root = ET.parse(tmp_path / junit.FILE).getroot()  # well-formed despite the \x01 Xen "answered"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "c.evt"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"xen_version": "4.17.7", "build_id": "abc"}
    good, bad = suite.findall("testcase")
    assert (good.get("name"), good.get("classname"), good.get("file"), good.get("line")) == ("good", "c", "c.evt", "1")
    assert good.find("failure") is None
    assert "differs from the 3.0 guide (ESRCH): got EINVAL" in (good.findtext("system-out") or "")
    failure = bad.find("failure")
    assert failure is not None and failure.get("type") == "FAIL"
    assert failure.get("message") == "c.evt:9 A raw(99): expected ENOSYS, got EPERM?"
    assert "c.evt:10 A send(1000): no result: the step did not run" in (failure.text or "")


def test_error_crash_and_skip(tmp_path: Path) -> None:
    report = {
        "header": {},
        "cases": [
            {"case": "e", "file": "x.evt:3", "outcome": "ERROR", "problems": [{"outcome": "ERROR", "text": "silent"}]},
            {"case": "c", "file": "x.evt:9", "outcome": "CRASH", "problems": []},
            {"case": "s", "file": "y.evt:1", "outcome": "SKIP"},
        ],
        "rows": [],
    }
    root = ET.fromstring(junit.junit(report))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("3", "1", "1", "1")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    error = cases["e"].find("error")
    assert error is not None and error.get("message") == "ERROR: silent"
    assert cases["c"].find("failure") is not None and cases["s"].find("skipped") is not None
    assert [s.get("name") for s in root.findall("testsuite")] == ["x.evt", "y.evt"]


def test_a_merge_writes_its_gaps_as_errors(tmp_path: Path) -> None:
    d = tmp_path / "s1"
    d.mkdir()
    shard = {"index": 1, "total": 2, "cases": ["a"], "suite_cases": ["a", "b"]}
    data = {"header": {}, "cases": [{"case": "a", "file": "c.evt:1", "outcome": "PASS"}], "rows": [], "shard": shard}
    (d / "conformance.json").write_text(json.dumps(data))
    merged = merge.merge(merge.read([d]))
    merge.write(tmp_path / "out", merged)
    root = ET.parse(tmp_path / "out" / junit.FILE).getroot()
    assert (root.get("tests"), root.get("errors")) == ("3", "2")  # case a, shard 2's report, case b
    gaps = [e.get("message") for e in root.iter("error")]
    assert gaps == ["shard 2/2: no report", "case b: no shard reports it"]
