"""`agree A B` (orchestrator/agree.py): the same cases, outcomes and step rows, or seeds and
outcomes; what one side has no result for is an ERROR, never a difference nor a pass."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator import agree, cli, merge
from orchestrator.outcome import Outcome


def _row(case: str, line: int, got: str = "ok:3", verdict: str = "PASS", domain: str = "A") -> dict[str, str]:
    return {
        "command": "close", "case": case, "where": f"c.evt:{line}", "domain": domain, "call": "close(3)",
        "expected": "ok", "spec": "", "got": got, "verdict": verdict, "source": "event_channel.c",
    }  # fmt: skip


REPORT: dict[str, Any] = {
    "header": {"xen_version": "4.17.7", "build_id": "151b"},
    "cases": [{"case": "a", "file": "c.evt:1", "outcome": "PASS"}, {"case": "b", "file": "c.evt:9", "outcome": "PASS"}],
    "rows": [_row("a", 3), _row("a", 4), _row("a", 4), _row("b", 11, domain="B")],
}


def _save(tmp_path: Path, name: str, data: dict[str, Any], file: str = merge.REPORT) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / file).write_text(json.dumps(data))
    return d


def _agree(tmp_path: Path, b: dict[str, Any], a: dict[str, Any] = REPORT, file: str = merge.REPORT) -> agree.Agreement:
    return agree.agree(_save(tmp_path, "a", a, file), _save(tmp_path, "b", b, file))


def test_the_same_report_agrees(tmp_path: Path) -> None:
    merged = copy.deepcopy(REPORT)
    merged["rows"].reverse()  # shards report their cases in their own order
    merged["cases"].reverse()
    result = _agree(tmp_path, {**merged, "problems": [], "merged_from": ["s1", "s2"]})
    assert (result.outcome, result.differences, result.errors) == (Outcome.PASS, [], [])
    assert result.compared == "2 case(s), 4 step row(s)"
    assert cli.main(["agree", str(tmp_path / "a"), str(tmp_path / "b")]) == 0


def test_a_different_answer_or_outcome_is_a_difference(tmp_path: Path) -> None:
    other = copy.deepcopy(REPORT)
    other["rows"][2]["got"] = "ok:4"  # the second run of line 4
    other["cases"][1]["outcome"] = "FAIL"
    other["rows"][3]["verdict"] = "FAIL"
    result = _agree(tmp_path, other)
    assert result.outcome is Outcome.FAIL and result.errors == []
    assert result.differences == [
        "case b: PASS in A, FAIL in B",
        "step a c.evt:4 A close (#2): got 'ok:3' in A, 'ok:4' in B",
        "step b c.evt:11 B close: verdict 'PASS' in A, 'FAIL' in B",
    ]
    assert cli.main(["agree", str(tmp_path / "a"), str(tmp_path / "b")]) == Outcome.FAIL.exit_code


def test_what_has_no_result_on_one_side_is_an_error_not_a_difference(tmp_path: Path) -> None:
    other = copy.deepcopy(REPORT)
    other["cases"] = other["cases"][:1]  # b: no shard reported it
    other["rows"] = [r for r in other["rows"] if r["case"] == "a"]
    other["rows"][0]["verdict"], other["rows"][0]["got"] = "NO RESULT", "-"
    other["problems"] = ["shard 2/2: no report"]
    result = _agree(tmp_path, other)
    assert result.outcome is Outcome.ERROR and result.differences == []
    assert result.errors == [
        "B: shard 2/2: no report",
        "case b: only in A, no result in B",
        "step a c.evt:3 A close: no result in B",
    ]
    assert cli.main(["agree", str(tmp_path / "a"), str(tmp_path / "b")]) == Outcome.ERROR.exit_code


def test_a_case_in_error_is_not_compared_and_other_xens_are_not_the_same_run(tmp_path: Path) -> None:
    other = copy.deepcopy(REPORT)
    other["cases"][0]["outcome"] = "ERROR"
    other["header"]["build_id"] = "ffff"
    result = _agree(tmp_path, other)
    assert result.outcome is Outcome.ERROR
    assert result.errors == [
        "different Xens (build-ids 151b, ffff): not the same run",
        "case a: ERROR in B: nothing known to compare",
    ]


def _fuzz(outcomes: dict[int, str], ops: int = 2000) -> dict[str, Any]:
    return {
        "kind": "evtchn-fuzz",
        "campaign": {"seeds": "1-3", "seed_list": [1, 2, 3], "ops": ops},
        "header": {},
        "problems": [],
        "results": [{"seed": s, "outcome": o} for s, o in outcomes.items()],
    }


@pytest.mark.parametrize(
    ("b", "outcome", "said"),
    [
        (_fuzz({1: "PASS", 2: "PASS", 3: "PASS"}), Outcome.PASS, []),
        (_fuzz({1: "PASS", 2: "FAIL", 3: "PASS"}), Outcome.FAIL, ["seed 2: PASS in A, FAIL in B"]),
        (_fuzz({1: "PASS", 3: "PASS"}), Outcome.ERROR, ["seed 2: only in A, no result in B"]),
        (_fuzz({1: "PASS", 2: "ERROR", 3: "PASS"}), Outcome.ERROR, ["seed 2: ERROR in B: nothing known to compare"]),
        (_fuzz({1: "PASS", 2: "PASS", 3: "PASS"}, ops=10), Outcome.ERROR, ["not the same campaign: ops differ"]),
    ],
)
def test_fuzz_summaries_agree_seed_by_seed(
    tmp_path: Path, b: dict[str, Any], outcome: Outcome, said: list[str]
) -> None:
    result = _agree(tmp_path, b, _fuzz({1: "PASS", 2: "PASS", 3: "PASS"}), merge.FUZZ_SUMMARY)
    assert result.outcome is outcome and result.differences + result.errors == said


def test_a_fuzz_summary_and_a_conformance_report_are_not_compared(tmp_path: Path) -> None:
    a = _save(tmp_path, "a", REPORT)
    b = _save(tmp_path, "b", _fuzz({1: "PASS"}), merge.FUZZ_SUMMARY)
    assert cli.main(["agree", str(a), str(b)]) == Outcome.ERROR.exit_code


def _ids(case: str, peer: int, other: int, seen_as: int) -> list[dict[str, str]]:
    """A case's rows naming its domains by id: `peer`, `other`, and a status that saw `seen_as`."""
    return [
        {**_row(case, 5), "command": "alloc_unbound", "call": f"alloc_unbound(32752, {peer})"},
        {**_row(case, 6), "command": "virq_handler", "call": f"virq_handler(12, {other})", "domain": "Dom0"},
        {**_row(case, 7), "command": "status", "call": "status(32752, 3)", "got": f"ok:unbound,dom={seen_as},vcpu=0"},
        {**_row(case, 8), "command": "bind_interdomain", "call": "bind_interdomain(0, 3)"},  # dom0: as it is
    ]


@pytest.mark.parametrize(
    ("b", "said"),
    [
        ((4, 5, 4), []),  # another run's ids for the same domains
        (
            (4, 5, 5),
            ["step c c.evt:7 A status: got 'ok:unbound,dom=<dom1>,vcpu=0' in A, 'ok:unbound,dom=<dom2>,vcpu=0' in B"],
        ),
        (
            (4, 4, 4),
            ["step c c.evt:6 Dom0 virq_handler: call 'virq_handler(12, <dom2>)' in A, 'virq_handler(12, <dom1>)' in B"],
        ),
    ],
)
def test_domain_ids_are_compared_as_the_cases_domains_they_name(
    tmp_path: Path, b: tuple[int, int, int], said: list[str]
) -> None:
    """A shard creates fewer domains before a case than the whole suite: other ids, the same domains."""
    one = {"header": {}, "cases": [{"case": "c", "file": "c.evt:1", "outcome": "PASS"}], "rows": _ids("c", 2, 3, 2)}
    other = {**one, "rows": _ids("c", *b)}
    result = _agree(tmp_path, other, one)
    assert result.differences == said and result.errors == []
    # Dom0 is no guest of the run: its id is compared as a number.
    dom0 = tmp_path / "dom0"
    dom0.mkdir()
    guest = {**one, "rows": [{**r, "call": r["call"].replace("(0, 3)", "(1, 3)")} for r in _ids("c", 2, 3, 2)]}
    assert len(_agree(dom0, guest, one).differences) == 1


def test_a_step_without_a_result_agrees_only_where_both_runs_passed_its_case(tmp_path: Path) -> None:
    """A peer destroyed on purpose (cases/destroy.evt) never reports its last step: the case
    passes without it, in every run. In a case that did not pass, the same gap is an ERROR."""
    gone = copy.deepcopy(REPORT)
    gone["rows"][3]["verdict"], gone["rows"][3]["got"] = "NO RESULT", "-"
    assert _agree(tmp_path, gone, gone).outcome is Outcome.PASS
    failed = copy.deepcopy(gone)
    failed["cases"][1]["outcome"] = "FAIL"
    other = tmp_path / "failed"
    other.mkdir()
    result = _agree(other, failed, failed)
    assert result.outcome is Outcome.ERROR and result.errors == ["step b c.evt:11 B close: no result in A and B"]


def test_verdicts_and_subset_hold_a_direct_run_of_some_cases_by_their_verdicts(tmp_path: Path) -> None:
    # `run --direct` ran case a alone, with other port numbers (dom0 has no console or
    # xenstore port): the same verdicts are the claim.
    direct = copy.deepcopy(REPORT)
    direct["cases"] = direct["cases"][:1]
    direct["rows"] = [{**r, "got": "ok:1", "call": "close(1)"} for r in direct["rows"] if r["case"] == "a"]
    a, b = _save(tmp_path, "a", REPORT), _save(tmp_path, "b", direct)
    strict = agree.agree(a, b)
    assert strict.outcome is Outcome.FAIL and "case b: only in A, no result in B" in strict.errors
    same = agree.agree(a, b, verdicts=True, subset=True)
    assert (same.outcome, same.differences, same.errors) == (Outcome.PASS, [], [])
    assert same.compared == "1 case(s), 3 step row(s)"
    direct["rows"][0]["verdict"] = "FAIL"
    (b / merge.REPORT).write_text(json.dumps(direct))
    changed = agree.agree(a, b, verdicts=True, subset=True)
    assert changed.differences == ["step a c.evt:3 A close: verdict 'PASS' in A, 'FAIL' in B"]
    assert cli.main(["agree", "--verdicts", "--subset", str(a), str(b)]) == Outcome.FAIL.exit_code
