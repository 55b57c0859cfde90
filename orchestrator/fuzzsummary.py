"""A fuzz campaign's summary (fuzz.json, fuzz.junit.xml), and one verdict from its shards.

`fuzz` writes the summary in its output folder: the campaign's parameters and its whole
seed list, the shard it ran (`--shard I/N`) and that shard's seeds, and per seed its
outcome (PASS, FAIL: a mismatch, CRASH: Xen went down, ERROR: the harness could not tell),
its operations and, for anything but a PASS, the replay command and the shrunk case.

`merge` joins the shards' summaries of one campaign (same parameters, same seed list, same
number of shards) into a summary of the same form, whose verdict is the worst seed's, as
one `fuzz` of all the seeds gives. A shard that left no summary, or a seed that no shard
reports, is an ERROR of the merged verdict, never a silent gap; summaries that cannot be
one campaign's shards (another campaign, a shard twice) are refused (MergeError).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import junit, shard
from .fuzz import Campaign, replay, seed_verdicts
from .merge import FUZZ_SUMMARY, MergeError, load
from .outcome import Outcome, worst

KIND = "evtchn-fuzz"
JUNIT = "fuzz.junit.xml"
FOUND_DIR = "found"  # the shrunk cases, copied beside the summary: CI keeps only the output folder


def summary(
    campaign: Campaign,
    spelled: str,
    all_seeds: list[int],
    part: shard.Shard | None,
    out: Path,
    xen: str = "",
    shrink: bool = True,
    coverage: bool = False,
) -> dict[str, Any]:
    """The campaign's summary; its shrunk cases copied into `out`/found/ (named from there)."""
    found: dict[int, str] = {}
    for seed, path in campaign.found_cases:
        (out / FOUND_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, out / FOUND_DIR / path.name)
        found[seed] = f"{FOUND_DIR}/{path.name}"
    results = [
        {
            "seed": v.seed,
            "outcome": v.outcome.name,
            "ops": v.ops,
            "mismatches": v.mismatches,
            "why": v.why,
            "replay": replay(campaign, v.seed, xen) if v.outcome is not Outcome.PASS else "",
            "found_case": found.get(v.seed, ""),
            "details": v.details,
        }
        for v in seed_verdicts(campaign)
    ]
    return {
        "kind": KIND,
        "campaign": {
            "seeds": spelled,
            "seed_list": all_seeds,
            "ops": campaign.ops,
            "vcpus": campaign.vcpus,
            "abi": campaign.abi,
            "domains": campaign.domains,
            "shrink": shrink,
            "coverage": coverage,
        },
        "shard": {"index": part.index, "total": part.total} if part else None,
        "seeds": campaign.seeds,
        "header": {**campaign.xen, "xen_spec": xen},
        "summary": _sums(results, spelled + (f" (shard {part})" if part else ""), []),
        "problems": [],
        "results": results,
    }


def _sums(results: list[dict[str, Any]], spelled: str, problems: list[str]) -> dict[str, Any]:
    """The figures of a summary; its outcome the worst seed's, ERROR for each gap."""
    outcomes = [Outcome[r["outcome"]] for r in results] + [Outcome.ERROR] * len(problems)
    ops = sum(r["ops"] for r in results)
    mismatches = sum(r["mismatches"] for r in results)
    crashes = sum(r["outcome"] == "CRASH" for r in results)
    return {
        "outcome": (worst(outcomes) if outcomes else Outcome.ERROR).name,
        "seeds": len(results),
        "seed_outcomes": {o.name: sum(r["outcome"] == o.name for r in results) for o in Outcome},
        "ops": ops,
        "mismatches": mismatches,
        "crashes": crashes,
        # The line `fuzz` ends with, so a merge and one run of the same seeds read the same.
        "line": f"FUZZ: {ops} ops, {mismatches} mismatches, {crashes} Xen crashes, seed {spelled}",
    }


def write(out: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """fuzz.json and fuzz.junit.xml in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / FUZZ_SUMMARY
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    junit_path = out / JUNIT
    junit_path.write_text(junit.junit(_as_report(data)))
    return json_path, junit_path


def _as_report(data: dict[str, Any]) -> dict[str, Any]:
    """The summary in a conformance report's shape for junit: a seed is a case of `fuzz`."""
    cases = []
    for r in data["results"]:
        text = "\n".join(
            [r["why"]]
            + ([f"replay: {r['replay']}"] if r["replay"] else [])
            + ([f"shrunk case: {r['found_case']}"] if r["found_case"] else [])
            + r["details"]
        )
        problems = [{"outcome": r["outcome"], "text": text}] if r["outcome"] != "PASS" else []
        cases.append({"case": f"fuzz-{r['seed']}", "file": "fuzz", "outcome": r["outcome"], "problems": problems})
    c = data["campaign"]
    header = {
        **{k: v for k, v in data["header"].items() if k in ("xen_version", "build_id", "xen_spec")},
        "campaign": f"seeds {c['seeds']}, {c['ops']} ops, {c['vcpus']} vcpu(s), {c['abi']}, {c['domains']} domain(s)",
    }
    return {"header": header, "cases": cases, "rows": [], "problems": data["problems"]}


def read(paths: list[Path]) -> list[dict[str, Any]]:
    def lacks(data: dict[str, Any]) -> str | None:
        return None if data.get("kind") == KIND else f"no kind {KIND!r}"

    out = [load(p, FUZZ_SUMMARY, "a fuzz summary", lacks) for p in paths]
    for data in out:
        data["_dir"] = str(Path(data["_path"]).parent)
    return out


def _shard_of(data: dict[str, Any]) -> shard.Shard:
    s = data["shard"]
    return shard.Shard(s["index"], s["total"]) if s else shard.Shard(1, 1)  # a whole campaign


def merge(
    summaries: list[dict[str, Any]], expected_total: int | None = None, out: Path | None = None
) -> dict[str, Any]:
    """The shards' summaries as one; `problems` names every gap. A found case is named
    from `out` (where the merged summary goes), so it still points at its shard's copy."""
    first = summaries[0]
    for s in summaries[1:]:
        differ = sorted(
            k
            for k in first["campaign"].keys() | s["campaign"].keys()
            if first["campaign"].get(k) != s["campaign"].get(k)
        )
        if differ:
            raise MergeError(f"{s['_path']} is not of the campaign of {first['_path']}: {', '.join(differ)} differ")
    xens = {s["header"].get("build_id") for s in summaries if s["header"].get("build_id")}
    if len(xens) > 1:
        raise MergeError(f"the summaries are of different Xens (build-ids {', '.join(sorted(xens))})")
    totals = {_shard_of(s).total for s in summaries}
    if len(totals) > 1 or (expected_total is not None and totals != {expected_total}):
        said = f", --total {expected_total}" if expected_total else ""
        raise MergeError(f"the summaries are shards of different splits (totals {sorted(totals)}{said})")
    total = totals.pop()
    campaign = first["campaign"]
    seen: dict[int, dict[str, Any]] = {}
    for s in summaries:
        part = _shard_of(s)
        if part.index in seen:
            raise MergeError(f"shard {part} twice: {seen[part.index]['_path']} and {s['_path']}")
        if s["seeds"] != shard.every(campaign["seed_list"], part):
            raise MergeError(f"{s['_path']}: its seeds are not shard {part}'s of the campaign")
        stray = sorted({r["seed"] for r in s["results"]} - set(s["seeds"]))
        if stray:
            raise MergeError(f"{s['_path']}: results of seeds it was not given: {stray}")
        seen[part.index] = s
    problems = [p for s in summaries for p in s.get("problems", [])]  # a merged summary merged again
    results: dict[int, dict[str, Any]] = {}
    for index in range(1, total + 1):
        part = shard.Shard(index, total)
        held = seen.get(index)
        if held is None:
            problems.append(f"shard {part}: no summary")
        for seed in shard.every(campaign["seed_list"], part):
            got = [r for r in held["results"] if r["seed"] == seed] if held else []
            if len(got) > 1:
                raise MergeError(f"{held['_path'] if held else '?'}: seed {seed} twice")
            if not got:
                problems.append(f"seed {seed}: no shard reports it")
                continue
            r = dict(got[0])
            if r["found_case"] and held is not None:
                found = Path(held["_dir"]) / r["found_case"]
                r["found_case"] = os.path.relpath(found, out) if out else str(found)
            results[seed] = r
    ordered = [results[seed] for seed in campaign["seed_list"] if seed in results]
    return {
        "kind": KIND,
        "campaign": campaign,
        "shard": None,
        "seeds": campaign["seed_list"],
        "header": first["header"],
        "merged_from": [s["_path"] for s in summaries],
        "summary": _sums(ordered, campaign["seeds"], problems),
        "problems": problems,
        "results": ordered,
    }


def show(data: dict[str, Any]) -> str:
    """What the log shows of a summary: each seed that did not pass, with its replay line."""
    lines = []
    for r in data["results"]:
        if r["outcome"] == "PASS":
            continue
        lines.append(f"seed {r['seed']}: {r['outcome']}: {r['why']}")
        lines.append(f"  replay: {r['replay']}")
        if r["found_case"]:
            lines.append(f"  shrunk case: {r['found_case']}")
    lines += [f"ERROR: {p}" for p in data["problems"]]
    s = data["summary"]
    counts = ", ".join(f"{n} {o}" for o, n in s["seed_outcomes"].items() if n)
    lines.append(s["line"])
    lines.append(f"{s['outcome']}: {s['seeds']} of {len(data['seeds'])} seed(s) reported ({counts or 'none'})")
    return "\n".join(lines)
