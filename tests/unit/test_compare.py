"""Case order and the warm/fresh comparison: orchestrator.cases.plan.order, orchestrator.compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cases.model import Case
from orchestrator.cases.parse import load
from orchestrator.cases.plan import order, plan
from orchestrator.compare import FIRST, Arm, arms, differences, format_differences, write
from orchestrator.results import DomainReport, GroupResult, StepResult

CASES = """case one
domains A
source  here
A close 1000 -> EINVAL

case two
domains A
source  here
A close 2000 -> EINVAL

case other-config
domains A
vcpus   2
source  here
A close 3000 -> EINVAL

case three
domains A
source  here
A close 4000 -> EINVAL
"""


@pytest.fixture
def cases(tmp_path: Path) -> list[Case]:
    path = tmp_path / "c.evt"
    path.write_text(CASES)
    return load([path])


def names(cs: list[Case]) -> list[str]:
    return [c.name for c in cs]


def test_file_and_reverse_orders(cases: list[Case]) -> None:
    assert order(cases, "file") == (cases, "file")
    assert names(order(cases, "reverse")[0]) == ["three", "other-config", "two", "one"]


def test_random_order_is_replayable_from_its_spelling(cases: list[Case]) -> None:
    shuffled, spelled = order(cases, "random")
    assert spelled.startswith("random:") and sorted(names(shuffled)) == sorted(names(cases))
    again, same = order(cases, spelled)
    assert (names(again), same) == (names(shuffled), spelled)
    # Different seeds give different orders for some seed: the option really shuffles.
    assert len({tuple(names(order(cases, f"random:{n}")[0])) for n in range(20)}) > 1


@pytest.mark.parametrize("spec", ["shuffle", "random:", "random:x", "random:-1", "random:١٢"])
def test_bad_order_is_named(cases: list[Case], spec: str) -> None:
    with pytest.raises(ValueError, match="unknown order"):
        order(cases, spec)


def test_plan_keeps_the_given_order_within_a_group(cases: list[Case]) -> None:
    groups = plan(order(cases, "reverse")[0], first=5)
    assert [(g.index, names(list(g.cases))) for g in groups] == [
        (5, ["three", "two", "one"]),
        (6, ["other-config"]),
    ]


def test_arms_are_numbered_apart_and_know_what_ran_before(cases: list[Case]) -> None:
    planned = arms(cases, ["file", "reverse"])
    assert [a.label for a in planned] == ["warm, file order", "warm, reverse order", "fresh"]
    indices = [g.index for a in planned for g in a.groups]
    assert indices == list(range(1, len(indices) + 1))
    assert planned[0].before() == {"one": FIRST, "two": "one", "three": "two", "other-config": FIRST}
    assert planned[1].before()["one"] == "two"
    assert set(planned[2].before().values()) == {FIRST}


def _group_results(arm: Arm, got: dict[str, str], domid: int = 5, missing: str = "") -> list[GroupResult]:
    """What the guests of each group of `arm` would have reported: `got` by case (default EINVAL)."""
    out = []
    for g in arm.groups:
        reports = {role: DomainReport(f"g{g.index}-{role}", boot={"domid": str(domid)}) for role in g.config.domains}
        for case in g.cases:
            if case.name == missing:
                continue
            step = case.steps[0]
            answer = got.get(case.name, "EINVAL")
            verdict = "PASS" if answer == "EINVAL" else "FAIL"
            rep = reports[step.domain]
            rep.steps.append(
                StepResult(rep.domain, case.name, step.line, step.op, step.args, "EINVAL", answer, verdict)
            )
        out.append(GroupResult(g, reports))
    return out


def test_differences_name_each_run_and_the_case_before(cases: list[Case]) -> None:
    planned = arms(cases, ["file", "reverse"])
    assert differences([(a, _group_results(a, {})) for a in planned]) == ([], [])
    leaky = _group_results(planned[0], {"two": "ok"})
    diffs, errors = differences([(planned[0], leaky), *((a, _group_results(a, {})) for a in planned[1:])])
    assert errors == []
    assert [(d.case, d.where, d.domain) for d in diffs] == [("two", "c.evt:9", "A")]
    cells = diffs[0].cells
    assert cells["warm, file order"].result == "FAIL: close(2000) -> ok"
    assert cells["warm, file order"].after == "one"
    assert cells["warm, reverse order"].after == "three"
    assert cells["fresh"].after == FIRST
    text = format_differences([a.label for a in planned], diffs)
    assert "c.evt:9 (two, domain A)" in text and "[after one]" in text


def test_domain_ids_are_compared_as_the_roles_they_name(cases: list[Case]) -> None:
    planned = arms(cases, ["file"])
    # Each run's domains have other ids; a status naming its own domain is still the same answer.
    ids = zip(planned, (5, 9), strict=True)
    same = [(a, _group_results(a, {"one": f"ok:unbound,dom={n}"}, domid=n)) for a, n in ids]
    assert differences(same) == ([], [])
    other = [(planned[0], _group_results(planned[0], {"one": "ok:unbound,dom=5"}, domid=5))]
    other.append((planned[1], _group_results(planned[1], {"one": "ok:unbound,dom=7"}, domid=9)))
    assert [d.case for d in differences(other)[0]] == ["one"]


def test_a_step_missing_from_one_run_is_an_error_not_a_difference(cases: list[Case]) -> None:
    planned = arms(cases, ["file"])
    diffs, errors = differences(
        [(planned[0], _group_results(planned[0], {})), (planned[1], _group_results(planned[1], {}, missing="three"))]
    )
    assert diffs == []
    assert [d.case for d in errors] == ["three"]
    assert "fresh" not in errors[0].cells  # no result there: nothing to compare
    text = format_differences([a.label for a in planned], errors)
    assert "(no result: ERROR)" in text


def test_a_whole_lost_run_is_errors_only(cases: list[Case]) -> None:
    """As on the slow host: a run that lost its machine has no results for its later
    cases; not one of them may show as a difference."""
    planned = arms(cases, ["file"])
    lost = _group_results(planned[1], {})
    for g in lost:
        for rep in g.reports.values():
            rep.steps.clear()
    diffs, errors = differences([(planned[0], _group_results(planned[0], {})), (planned[1], lost)])
    assert diffs == [] and sorted(d.case for d in errors) == ["one", "other-config", "three", "two"]


def test_the_report_lists_errors_apart(cases: list[Case], tmp_path: Path) -> None:
    planned = arms(cases, ["file"])
    runs = [
        (planned[0], _group_results(planned[0], {"two": "ok"})),
        (planned[1], _group_results(planned[1], {}, missing="three")),
    ]
    diffs, errors = differences(runs)
    md = write(tmp_path, [a.label for a in planned], 4, diffs, errors).read_text()
    assert "**1 step(s) differ**" in md and "ERROR: 1 step(s) have no result in some run" in md
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [d["case"] for d in data["differences"]] == ["two"] and [d["case"] for d in data["no_result"]] == ["three"]
