"""`agree A B`: do two reports say the same, case by case and step by step (or seed by seed)?

Made to hold a merge of shards against one run of the same cases or seeds: the same cases
with the same outcomes and the same step rows (conformance.json), or the same seeds with
the same outcomes (fuzz.json). Anything one side has no result for (a case or a row only
one side has, a step without a result, a case in ERROR, a merge's gap) cannot be compared:
it is an ERROR of the comparison, never counted as agreeing nor as a difference.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .merge import FUZZ_SUMMARY, REPORT, MergeError, kind
from .outcome import Outcome

MISSING = "NO RESULT"  # report.MISSING: a step that did not run


@dataclass
class Agreement:
    compared: str = ""  # what was held side by side
    differences: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        """FAIL if they differ, ERROR if something could not be compared, else PASS."""
        if self.differences:
            return Outcome.FAIL
        return Outcome.ERROR if self.errors else Outcome.PASS


def load(path: Path) -> tuple[str, dict[str, Any]]:
    """A report's kind and content; MergeError if it is neither kind or cannot be read."""
    what = kind(path)
    file = path if not path.is_dir() else path / (FUZZ_SUMMARY if what == "fuzz" else REPORT)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise MergeError(f"{file}: cannot be read ({e})") from None
    if not isinstance(data, dict):
        raise MergeError(f"{file}: not a report")
    return what, data


def agree(a: Path, b: Path) -> Agreement:
    (ka, da), (kb, db) = load(a), load(b)
    if ka != kb:
        raise MergeError(f"{a} is a {ka} report, {b} a {kb} one: nothing to compare")
    out = Agreement()
    ids = {str(d.get("header", {}).get("build_id")) for d in (da, db) if d.get("header", {}).get("build_id")}
    if len(ids) > 1:
        out.errors.append(f"different Xens (build-ids {', '.join(sorted(ids))}): not the same run")
    for name, d in (("A", da), ("B", db)):
        out.errors += [f"{name}: {p}" for p in d.get("problems", [])]
    (_fuzz if ka == "fuzz" else _conformance)(da, db, out)
    return out


def _keyed(items: list[dict[str, Any]], key: Any, side: str, out: Agreement) -> dict[Any, dict[str, Any]]:
    """Items by their key; a key twice cannot be paired with the other side's."""
    keys = Counter(key(i) for i in items)
    out.errors += [f"{side}: {k} reported {n} times" for k, n in keys.items() if n > 1]
    return {key(i): i for i in items if keys[key(i)] == 1}


def _one_side(a: dict[Any, Any], b: dict[Any, Any], what: str, out: Agreement) -> list[Any]:
    """The keys both sides have; the others named as errors (no result on one side)."""
    out.errors += [f"{what} {k}: only in A, no result in B" for k in a if k not in b]
    out.errors += [f"{what} {k}: only in B, no result in A" for k in b if k not in a]
    return [k for k in a if k in b]


def _conformance(da: dict[str, Any], db: dict[str, Any], out: Agreement) -> None:
    ca = _keyed(da.get("cases", []), lambda c: c["case"], "A", out)
    cb = _keyed(db.get("cases", []), lambda c: c["case"], "B", out)
    both = _one_side(ca, cb, "case", out)
    comparable = set()
    for name in both:
        oa, ob = ca[name]["outcome"], cb[name]["outcome"]
        if "ERROR" in (oa, ob):
            out.errors.append(f"case {name}: ERROR in {'A' if oa == 'ERROR' else 'B'}: nothing known to compare")
        else:
            if oa != ob:
                out.differences.append(f"case {name}: {oa} in A, {ob} in B")
            comparable.add(name)
    ra, rb = _rows(da, comparable, "A", out), _rows(db, comparable, "B", out)
    rows = _one_side(ra, rb, "step", out)
    for k in rows:
        a, b = ra[k], rb[k]
        if MISSING in (a.get("verdict"), b.get("verdict")) and a.get("verdict") != b.get("verdict"):
            out.errors.append(f"step {_where(k)}: no result in {'A' if a.get('verdict') == MISSING else 'B'}")
            continue
        fields = sorted(f for f in a.keys() | b.keys() if a.get(f) != b.get(f))
        out.differences += [f"step {_where(k)}: {f} {a.get(f)!r} in A, {b.get(f)!r} in B" for f in fields]
    out.compared = f"{len(both)} case(s), {len(rows)} step row(s)"


def _rows(data: dict[str, Any], cases: set[str], side: str, out: Agreement) -> dict[Any, dict[str, Any]]:
    """The rows of `cases`, by case, place, domain, command and which of that place's it is
    (a step may run more than once)."""
    seen: Counter[tuple[str, ...]] = Counter()
    keyed = []
    for row in data.get("rows", []):
        if row.get("case") not in cases:
            continue
        base = tuple(str(row.get(f)) for f in ("case", "where", "domain", "command"))
        seen[base] += 1
        keyed.append({**row, "_key": (*base, seen[base])})
    return _keyed(keyed, lambda r: r["_key"], side, out)


def _where(key: tuple[str, ...]) -> str:
    case, where, domain, command, n = key
    return f"{case} {where} {domain} {command}" + (f" (#{n})" if int(n) > 1 else "")


def _fuzz(da: dict[str, Any], db: dict[str, Any], out: Agreement) -> None:
    pa, pb = da.get("campaign", {}), db.get("campaign", {})
    # The seeds as spelled and the shard aside: a merge and one run of the same seeds match.
    params = sorted(k for k in pa.keys() | pb.keys() if k != "seeds" and pa.get(k) != pb.get(k))
    if params:
        out.errors.append(f"not the same campaign: {', '.join(params)} differ")
    sa = _keyed(da.get("results", []), lambda r: r["seed"], "A", out)
    sb = _keyed(db.get("results", []), lambda r: r["seed"], "B", out)
    both = _one_side(sa, sb, "seed", out)
    for seed in both:
        oa, ob = sa[seed]["outcome"], sb[seed]["outcome"]
        if "ERROR" in (oa, ob):
            out.errors.append(f"seed {seed}: ERROR in {'A' if oa == 'ERROR' else 'B'}: nothing known to compare")
        elif oa != ob:
            out.differences.append(f"seed {seed}: {oa} in A, {ob} in B")
    out.compared = f"{len(both)} seed(s)"


def show(result: Agreement, a: Path, b: Path) -> str:
    lines = [f"DIFFERS: {d}" for d in result.differences] + [f"ERROR: {e}" for e in result.errors]
    verdict = {
        Outcome.PASS: "the same",
        Outcome.FAIL: f"{len(result.differences)} difference(s)",
        Outcome.ERROR: f"{len(result.errors)} thing(s) could not be compared",
    }[result.outcome]
    lines.append(f"{result.outcome.name}: A {a} and B {b}, {result.compared}: {verdict}")
    return "\n".join(lines)
