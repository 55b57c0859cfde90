"""A fuzz campaign's summary (orchestrator/fuzzsummary.py) and the merge of its shards:
one verdict, the same as one machine running every seed gives, and ERROR for any gap.

tests/unit/data/fuzz-shards/ holds the summaries of a real campaign (2026-12-07, bookworm,
seeds 1-6, 2,000 operations, 2 vcpus): `fuzz --shard 1/3`, `2/3`, `3/3` and one `fuzz` of
all six seeds."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from orchestrator import cli, fuzz, fuzzsummary, merge, shard
from orchestrator.fuzz import Campaign
from orchestrator.outcome import Outcome
from orchestrator.results import FuzzRun

SAVED = Path(__file__).parent / "data" / "fuzz-shards"


def _campaign(seeds: list[int], outcomes: dict[int, str], tmp_path: Path) -> Campaign:
    """A campaign whose seeds ended as `outcomes` says (PASS unless named; LOST: no result)."""
    c = Campaign(seeds, 2000, vcpus=2, xen={"xen_version": "4.17.7", "build_id": "151b"})
    for seed in seeds:
        what = outcomes.get(seed, "PASS")
        if what in ("PASS", "FAIL"):
            c.runs.append(
                FuzzRun("g1-A", seed, 2, 2000 if what == "PASS" else 17, int(what == "FAIL"), 1, 0, 0, 0, 0, 0, 0)
            )
        if what == "FAIL":
            c.findings.append((seed, [f"FUZZ-MISMATCH seed={seed} vcpu=1 op=16 what=rc model=0 xen=-22"]))
            found = tmp_path / "cases-found" / f"fuzz-{seed}-xen-4.17.7.evt"
            found.parent.mkdir(exist_ok=True)
            found.write_text(f"case fuzz-found-{seed}\n")
            c.found_cases.append((seed, found))
        elif what == "CRASH":
            c.crashes.append((seed, "(XEN) Panic on CPU 0:\n(XEN) FATAL PAGE FAULT"))
        elif what == "ERROR":
            c.errors.append((seed, "the guest printed no EVT FUZZ line"))
    return c


def _shard_of(c: Campaign, part: shard.Shard) -> Campaign:
    """What `fuzz --shard` runs of the campaign: its seeds, and their results."""
    seeds = shard.every(c.seeds, part)
    out = Campaign(seeds, c.ops, c.vcpus, c.abi, c.domains, xen=c.xen)
    out.runs = [r for r in c.runs if r.seed in seeds]
    out.findings = [f for f in c.findings if f[0] in seeds]
    out.found_cases = [f for f in c.found_cases if f[0] in seeds]
    out.crashes = [f for f in c.crashes if f[0] in seeds]
    out.errors = [f for f in c.errors if f[0] in seeds]
    return out


def _write(c: Campaign, part: shard.Shard | None, out: Path, all_seeds: list[int], spelled: str = "1-7") -> Path:
    fuzzsummary.write(out, fuzzsummary.summary(c, spelled, all_seeds, part, out, "bookworm"))
    return out


def _shards(tmp_path: Path, outcomes: dict[int, str], total: int = 3) -> tuple[Campaign, list[Path]]:
    c = _campaign(list(range(1, 8)), outcomes, tmp_path)
    dirs = []
    for i in range(1, total + 1):
        part = shard.Shard(i, total)
        dirs.append(_write(_shard_of(c, part), part, tmp_path / f"fuzz-{i}", c.seeds))
    return c, dirs


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def test_a_summary_says_each_seeds_outcome_and_how_to_replay_it(tmp_path: Path) -> None:
    c = _campaign([1, 2, 3, 4, 5], {2: "FAIL", 3: "CRASH", 4: "ERROR", 5: "LOST"}, tmp_path)
    out = _write(c, shard.Shard(1, 1), tmp_path / "out", [1, 2, 3, 4, 5], "1-5")
    data = json.loads((out / merge.FUZZ_SUMMARY).read_text())
    assert data["campaign"] == {
        "seeds": "1-5", "seed_list": [1, 2, 3, 4, 5], "ops": 2000, "vcpus": 2, "abi": "2l", "domains": 1,
        "shrink": True, "coverage": False,
    }  # fmt: skip
    assert data["shard"] == {"index": 1, "total": 1} and data["seeds"] == [1, 2, 3, 4, 5]
    by_seed = {r["seed"]: r for r in data["results"]}
    assert [by_seed[s]["outcome"] for s in range(1, 6)] == ["PASS", "FAIL", "CRASH", "ERROR", "ERROR"]
    assert by_seed[1]["replay"] == "" and by_seed[1]["ops"] == 2000
    assert by_seed[2]["replay"] == "make fuzz XEN=bookworm SEED=2 OPS=2000 VCPUS=2 ABI=2l"
    assert (
        by_seed[2]["why"].startswith("FUZZ-MISMATCH seed=2")
        and by_seed[2]["found_case"] == "found/fuzz-2-xen-4.17.7.evt"
    )
    assert (out / "found" / "fuzz-2-xen-4.17.7.evt").is_file()  # in the output folder: CI keeps it
    assert by_seed[3]["why"] == "Xen went down: (XEN) Panic on CPU 0:"
    assert by_seed[5]["why"].startswith("no result") and by_seed[5]["replay"]  # never a PASS
    assert data["summary"]["outcome"] == "CRASH"
    assert data["summary"]["line"] == "FUZZ: 2017 ops, 1 mismatches, 1 Xen crashes, seed 1-5 (shard 1/1)"
    suite = ET.parse(out / fuzzsummary.JUNIT).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "2", "2")
    failure = suite.find(".//testcase[@name='fuzz-2']/failure")
    assert failure is not None and "replay: make fuzz XEN=bookworm SEED=2" in (failure.text or "")


@pytest.mark.parametrize("outcomes", [{}, {5: "FAIL"}, {2: "CRASH", 6: "FAIL"}, {7: "ERROR"}, {3: "LOST"}], ids=str)
def test_the_merge_of_a_campaigns_shards_is_the_campaign_run_on_one_machine(
    tmp_path: Path, outcomes: dict[int, str]
) -> None:
    c, dirs = _shards(tmp_path, outcomes)
    whole = json.loads((_write(c, None, tmp_path / "whole", c.seeds) / merge.FUZZ_SUMMARY).read_text())
    merged = fuzzsummary.merge(fuzzsummary.read(dirs), out=tmp_path / "merged")
    assert merged["problems"] == [] and merged["summary"] == whole["summary"]
    for got, want in zip(merged["results"], whole["results"], strict=True):
        assert _without(got, "found_case") == _without(want, "found_case")
        assert bool(got["found_case"]) == bool(want["found_case"])
    worst = Outcome[whole["summary"]["outcome"]].exit_code
    assert cli.main(["merge", "--out", str(tmp_path / "m"), *map(str, dirs)]) == worst


def test_a_fail_in_one_shard_is_the_campaigns_verdict_and_its_case_is_found_from_the_merge(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {5: "FAIL"})
    out = tmp_path / "merged"
    assert cli.main(["merge", "--out", str(out), *map(str, dirs)]) == Outcome.FAIL.exit_code
    data = json.loads((out / merge.FUZZ_SUMMARY).read_text())
    (fail,) = [r for r in data["results"] if r["outcome"] != "PASS"]
    assert fail["seed"] == 5 and fail["found_case"] == "../fuzz-2/found/fuzz-5-xen-4.17.7.evt"
    assert (out / fail["found_case"]).is_file()
    assert data["summary"]["seed_outcomes"]["PASS"] == 6 and data["merged_from"] == [str(d / "fuzz.json") for d in dirs]


def test_a_missing_shard_is_an_error_naming_it_and_each_of_its_seeds(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {})
    merged = fuzzsummary.merge(fuzzsummary.read([dirs[0], dirs[2]]))
    assert merged["problems"] == ["shard 2/3: no summary", "seed 2: no shard reports it", "seed 5: no shard reports it"]
    assert merged["summary"]["outcome"] == "ERROR" and [r["seed"] for r in merged["results"]] == [1, 3, 4, 6, 7]
    assert cli.main(["merge", "--out", str(tmp_path / "m"), str(dirs[0]), str(dirs[2])]) == Outcome.ERROR.exit_code
    suite = ET.parse(tmp_path / "m" / fuzzsummary.JUNIT).getroot()
    assert suite.get("errors") == "3"


def test_a_fail_outranks_a_missing_shard(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {1: "FAIL"})
    assert cli.main(["merge", "--out", str(tmp_path / "m"), str(dirs[0])]) == Outcome.FAIL.exit_code


def test_a_seed_missing_from_its_shards_summary_is_an_error(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {})
    path = dirs[1] / merge.FUZZ_SUMMARY
    data = json.loads(path.read_text())
    data["results"] = [r for r in data["results"] if r["seed"] != 5]
    path.write_text(json.dumps(data))
    merged = fuzzsummary.merge(fuzzsummary.read(dirs))
    assert merged["problems"] == ["seed 5: no shard reports it"] and merged["summary"]["outcome"] == "ERROR"


def test_summaries_that_are_not_one_campaigns_shards_are_refused(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {})
    other = _campaign(list(range(1, 8)), {}, tmp_path)
    other.ops = 3000
    part = shard.Shard(2, 3)
    stranger = _write(_shard_of(other, part), part, tmp_path / "other", other.seeds)
    with pytest.raises(merge.MergeError, match="not of the campaign of .*: ops differ"):
        fuzzsummary.merge(fuzzsummary.read([dirs[0], stranger, dirs[2]]))
    with pytest.raises(merge.MergeError, match="shard 1/3 twice"):
        fuzzsummary.merge(fuzzsummary.read([dirs[0], dirs[0], dirs[1], dirs[2]]))
    assert cli.main(["merge", "--out", str(tmp_path / "m"), str(dirs[0]), str(dirs[0])]) == Outcome.ERROR.exit_code
    _, halves = _shards(tmp_path / "halves", {}, total=2)
    with pytest.raises(merge.MergeError, match="different splits"):
        fuzzsummary.merge(fuzzsummary.read([dirs[0], halves[1]]))
    with pytest.raises(merge.MergeError, match="different splits"):
        fuzzsummary.merge(fuzzsummary.read(dirs), expected_total=4)


def test_a_summary_whose_seeds_are_not_its_shards_is_refused(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {})
    path = dirs[0] / merge.FUZZ_SUMMARY
    data = json.loads(path.read_text())
    data["seeds"] = [1, 4]  # seed 7 left out of shard 1/3
    path.write_text(json.dumps(data))
    with pytest.raises(merge.MergeError, match="not shard 1/3's"):
        fuzzsummary.merge(fuzzsummary.read(dirs))


def test_conformance_reports_and_fuzz_summaries_are_not_merged_together(tmp_path: Path) -> None:
    _, dirs = _shards(tmp_path, {})
    report = tmp_path / "shard-1"
    report.mkdir()
    (report / merge.REPORT).write_text(json.dumps({"header": {}, "cases": [], "rows": []}))
    assert cli.main(["merge", "--out", str(tmp_path / "m"), str(report), str(dirs[0])]) == Outcome.ERROR.exit_code
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(merge.MergeError, match="neither"):
        merge.kind(empty)


def test_the_saved_campaigns_shards_merge_to_what_one_fuzz_of_its_seeds_said(tmp_path: Path) -> None:
    shards = [SAVED / f"{i}of3" for i in (1, 2, 3)]
    single = json.loads((SAVED / "single" / merge.FUZZ_SUMMARY).read_text())
    merged = fuzzsummary.merge(fuzzsummary.read(shards))
    assert merged["problems"] == [] and merged["seeds"] == [1, 2, 3, 4, 5, 6]
    assert [(r["seed"], r["outcome"]) for r in merged["results"]] == [
        (r["seed"], r["outcome"]) for r in single["results"]
    ]
    assert merged["summary"] == single["summary"]  # the FUZZ line too: every seed ran its 2,000 operations
    # ... and a shard lost on the way is a gap, whatever the others said.
    dirs = []
    for d in shards[:2]:
        shutil.copytree(d, tmp_path / d.name)
        dirs.append(tmp_path / d.name)
    assert cli.main(["merge", "--out", str(tmp_path / "m"), *map(str, dirs)]) == Outcome.ERROR.exit_code


@pytest.mark.parametrize(("outcome", "code"), [("PASS", 0), ("ERROR", 4), ("FAIL", 5), ("CRASH", 6), ("LOST", 4)])
def test_fuzz_writes_its_summary_and_exits_with_its_worst_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str, code: int
) -> None:
    for key in ("CI_NODE_INDEX", "CI_NODE_TOTAL"):
        monkeypatch.delenv(key, raising=False)

    def run_campaign(_arts: object, _guest: object, seeds: list[int], *_: object, **__: object) -> Campaign:
        return _campaign(seeds, {seeds[-1]: outcome}, tmp_path)

    monkeypatch.setattr(cli, "prepare", lambda *_: (None, None))
    monkeypatch.setattr(fuzz, "run_campaign", run_campaign)
    out = tmp_path / "fuzz-2"
    assert cli.main(["fuzz", "--seeds", "1-7", "--ops", "2000", "--shard", "2/3", "--out", str(out)]) == code
    data = json.loads((out / merge.FUZZ_SUMMARY).read_text())
    assert data["shard"] == {"index": 2, "total": 3} and data["seeds"] == [2, 5]
    assert data["campaign"]["seeds"] == "1-7" and data["campaign"]["seed_list"] == list(range(1, 8))
    assert [r["outcome"] for r in data["results"]] == ["PASS", "ERROR" if outcome == "LOST" else outcome]
