"""`agree A B`: do two reports say the same, case by case and step by step (or seed by seed)?

Made to hold a merge of shards against one run of the same cases or seeds: the same cases
with the same outcomes and the same step rows (conformance.json), or the same seeds with
the same outcomes (fuzz.json). A guest's domain id is the run's own (a shard creates fewer
domains before a case than the whole suite does), so the ids in a row (an op's domid_t
arguments, a status's `dom=`) are compared as which of the case's domains they name, in
the order the case first names them, not as numbers. Anything one side has no result for (a case or a row only
one side has, a step without a result, a case in ERROR, a merge's gap) cannot be compared:
it is an ERROR of the comparison, never counted as agreeing nor as a difference. The one
exception: a step without a result on both sides of a case both passed (the case meant
it: a peer destroyed on purpose never reports its last step).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lang import FIELDS
from .merge import FUZZ_SUMMARY, REPORT, MergeError, kind
from .merge import load as merge_load
from .outcome import Outcome

MISSING = "NO RESULT"  # report.MISSING: a step that did not run
CALL = re.compile(r"^(\w+)\((.*)\)$")
STATUS_DOM = re.compile(r"\bdom=(\d+)")
DOMID_FIRST_RESERVED = 0x7FF0  # xen/include/public/xen.h: DOMID_SELF and the other special ids from here


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
    name = FUZZ_SUMMARY if what == "fuzz" else REPORT
    return what, merge_load(path, name, f"a {what} report", lambda _: None)


def agree(a: Path, b: Path, verdicts: bool = False, subset: bool = False) -> Agreement:
    """With `verdicts`, a step row is held to the other side's by its verdict alone: for
    runs whose domains differ by design (`run --direct`: the guest as dom0 has no console
    or xenstore ports, so its ports are numbered from 1), where the same verdict is the claim.
    With `subset`, B ran a part of A's cases (`run --direct` of the same files): A's other
    cases are left out, not counted as gaps."""
    (ka, da), (kb, db) = load(a), load(b)
    if ka != kb:
        raise MergeError(f"{a} is a {ka} report, {b} a {kb} one: nothing to compare")
    out = Agreement()
    ids = {str(d.get("header", {}).get("build_id")) for d in (da, db) if d.get("header", {}).get("build_id")}
    if len(ids) > 1:
        out.errors.append(f"different Xens (build-ids {', '.join(sorted(ids))}): not the same run")
    for name, d in (("A", da), ("B", db)):
        out.errors += [f"{name}: {p}" for p in d.get("problems", [])]
    if ka == "fuzz":
        _fuzz(da, db, out)
    else:
        if subset:
            names = {c.get("case") for c in db.get("cases", [])}
            da = {**da, "cases": [c for c in da.get("cases", []) if c.get("case") in names]}
            da["rows"] = [r for r in da.get("rows", []) if r.get("case") in names]
        _conformance(da, db, out, ("verdict",) if verdicts else None)
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


def _conformance(da: dict[str, Any], db: dict[str, Any], out: Agreement, only: tuple[str, ...] | None) -> None:
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
        missing = [side for side, row in (("A", a), ("B", b)) if row.get("verdict") == MISSING]
        # Both runs passed the case without this step's result: the case meant it (a peer
        # destroyed on purpose never reports its last step). Otherwise it is a gap.
        meant = len(missing) == 2 and ca[k[0]]["outcome"] == cb[k[0]]["outcome"] == "PASS"
        if missing and not meant:
            out.errors.append(f"step {_where(k)}: no result in {' and '.join(missing)}")
            continue
        fields = sorted(f for f in (only or a.keys() | b.keys()) if a.get(f) != b.get(f))
        out.differences += [f"step {_where(k)}: {f} {a.get(f)!r} in A, {b.get(f)!r} in B" for f in fields]
    out.compared = f"{len(both)} case(s), {len(rows)} step row(s)"


class _Domains:
    """A case's guest domain ids as `<dom1>`, `<dom2>`... in the order its rows first name them."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def name(self, text: str) -> str:
        if not text.isdecimal() or not 0 < int(text) < DOMID_FIRST_RESERVED:
            return text  # dom0, DOMID_SELF and the like, or no number: as it is
        return self.names.setdefault(int(text), f"<dom{len(self.names) + 1}>")

    def call(self, call: str) -> str:
        m = CALL.match(call)
        if m is None or m[1] not in FIELDS:
            return call
        fields = list(FIELDS[m[1]])
        args = m[2].split(", ")
        fields += [None] * (len(args) - len(fields))
        named = [
            self.name(a) if f is not None and f.ctype == "domid_t" else a for a, f in zip(args, fields, strict=False)
        ]
        return f"{m[1]}({', '.join(named)})"

    def status(self, text: str) -> str:
        return STATUS_DOM.sub(lambda m: f"dom={self.name(m[1])}", text)


def _rows(data: dict[str, Any], cases: set[str], side: str, out: Agreement) -> dict[Any, dict[str, Any]]:
    """The rows of `cases`, by case, place, domain, command and which of that place's it is
    (a step may run more than once); their domain ids named as the case's domains."""
    seen: Counter[tuple[str, ...]] = Counter()
    domains: dict[str, _Domains] = {}
    keyed = []
    for row in data.get("rows", []):
        if row.get("case") not in cases:
            continue
        base = tuple(str(row.get(f)) for f in ("case", "where", "domain", "command"))
        seen[base] += 1
        ids = domains.setdefault(str(row.get("case")), _Domains())
        named = {
            "call": ids.call(str(row.get("call", ""))),
            **{f: ids.status(str(row.get(f, ""))) for f in ("expected", "got")},
        }
        keyed.append({**row, **named, "_key": (*base, seen[base])})
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
