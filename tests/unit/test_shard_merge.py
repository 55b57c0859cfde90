"""orchestrator.shard (which groups a shard runs) and orchestrator.merge (one verdict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import merge, shard
from orchestrator.cases.parse import load
from orchestrator.cases.plan import Group, plan

CASES = "".join(
    f"case c{i}\ndomains {dom}\n{'fresh' if i % 3 == 0 else ''}\ntimeout {t}\nsource  here\n"
    f"{role} close 1000 -> EINVAL\n\n"
    for i, (dom, role, t) in enumerate(
        [("A", "A", 5), ("A B", "B", 9), ("A", "A", 2), ("A", "A", 30), ("A B", "A", 4), ("A", "A", 7), ("A", "A", 1)]
    )
)


@pytest.fixture
def groups(tmp_path: Path) -> list[Group]:
    path = tmp_path / "c.evt"
    path.write_text(CASES)
    return plan(load([path]))


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "1", "-1/2", " 2/3x"])
def test_a_bad_shard_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="shard"):
        shard.parse(text)


def test_gitlab_variables() -> None:
    assert shard.from_env({"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}) == shard.Shard(2, 3)
    assert shard.from_env({}) is None
    with pytest.raises(ValueError):
        shard.from_env({"CI_NODE_INDEX": "4", "CI_NODE_TOTAL": "3"})


@pytest.mark.parametrize("total", [1, 2, 3, 5, 9])
def test_every_group_in_exactly_one_shard(groups: list[Group], total: int) -> None:
    parts = [shard.select(groups, shard.Shard(i, total)) for i in range(1, total + 1)]
    indices = sorted(g.index for p in parts for g in p)
    assert indices == sorted(g.index for g in groups)
    # The same on every runner: computed again, the same answer.
    assert parts == [shard.select(groups, shard.Shard(i, total)) for i in range(1, total + 1)]


def test_shards_are_balanced_by_weight(groups: list[Group]) -> None:
    loads = [sum(shard.weight(g) for g in shard.select(groups, shard.Shard(i, 2))) for i in (1, 2)]
    heaviest = max(shard.weight(g) for g in groups)
    assert abs(loads[0] - loads[1]) <= heaviest


def _report(tmp_path: Path, name: str, index: int, total: int, cases: dict[str, str], suite: list[str]) -> Path:
    d = tmp_path / name
    d.mkdir()
    data = {
        "header": {"xen_version": "4.17.7"},
        "cases": [{"case": c, "file": "c.evt:1", "outcome": o} for c, o in cases.items()],
        "rows": [{"case": c, "verdict": "PASS"} for c in cases],
        "shard": {"index": index, "total": total, "cases": list(cases), "suite_cases": suite},
    }
    (d / "conformance.json").write_text(json.dumps(data))
    return d


def test_merge_of_every_shard_is_the_worst_case(tmp_path: Path) -> None:
    suite = ["a", "b", "c"]
    dirs = [
        _report(tmp_path, "s1", 1, 2, {"a": "PASS", "c": "FAIL"}, suite),
        _report(tmp_path, "s2", 2, 2, {"b": "PASS"}, suite),
    ]
    merged = merge.merge(merge.read(dirs))
    assert merged["problems"] == [] and merged["summary"]["outcome"] == "FAIL"
    assert sorted(c["case"] for c in merged["cases"]) == suite
    json_path, md_path = merge.write(tmp_path / "out", merged)
    assert json.loads(json_path.read_text())["summary"]["cases"] == 3 and "Verdict: **FAIL**" in md_path.read_text()


def test_a_missing_shard_is_an_error_never_a_gap(tmp_path: Path) -> None:
    suite = ["a", "b", "c"]
    dirs = [_report(tmp_path, "s1", 1, 3, {"a": "PASS"}, suite), _report(tmp_path, "s3", 3, 3, {"c": "PASS"}, suite)]
    merged = merge.merge(merge.read(dirs))
    assert merged["summary"]["outcome"] == "ERROR"
    assert merged["problems"] == ["shard 2/3: no report", "case b: no shard reports it"]


def test_reports_that_are_not_one_suites_shards_are_refused(tmp_path: Path) -> None:
    one = _report(tmp_path, "s1", 1, 2, {"a": "PASS"}, ["a", "b"])
    again = _report(tmp_path, "s1b", 1, 2, {"a": "PASS"}, ["a", "b"])
    other = _report(tmp_path, "o2", 2, 3, {"b": "PASS"}, ["a", "b", "x"])
    with pytest.raises(merge.MergeError, match="twice"):
        merge.merge(merge.read([one, again]))
    with pytest.raises(merge.MergeError, match="different suites"):
        merge.merge(merge.read([one, other]))
    with pytest.raises(merge.MergeError, match="not a conformance report"):
        merge.read([tmp_path / "nowhere"])


@pytest.mark.parametrize("total", [1, 2, 3, 7, 12])
def test_every_seed_in_exactly_one_shard(total: int) -> None:
    seeds = list(range(100, 110))
    parts = [shard.every(seeds, shard.Shard(i, total)) for i in range(1, total + 1)]
    assert sorted(s for p in parts for s in p) == seeds
    assert shard.every(seeds, None) == seeds
    assert shard.every(seeds, shard.Shard(2, 3)) == [101, 104, 107]
