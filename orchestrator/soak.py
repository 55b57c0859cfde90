"""The suite run again and again the ways CI runners meet it, every verdict held to the first.

A run's variant mixes what a shared runner does to the harness: a restored machine or a
cold boot, one machine or two at once (--jobs 2), file or random order, bookworm or
trixie, a quiet host or one whose cores a bounded busy loop keeps busy. Each run's
verdict of every step is compared with the first run's on the same Xen (4.17 and 4.20
answer some steps differently, as the matrix shows): any change is a flake, and so is
any infrastructure error (a case in ERROR, a machine given up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import log
from .outcome import Outcome
from .report import rows
from .results import CaseResult

# One cycle of variants; a soak of N runs takes them in turn, so any 10 consecutive runs
# cover each once: 2 in 10 under contention (one per Xen), 4 in 10 on trixie, 4 cold
# boots, 3 on two machines at once, 5 in random order. A busy run takes 3-5 times a quiet
# one here, so 50 runs (the count that proves a change) keep to about an hour and a half.
VARIANTS: tuple[dict[str, object], ...] = (
    {"xen": "bookworm", "busy": False, "cold": False, "jobs": 1, "order": "file"},
    {"xen": "trixie", "busy": False, "cold": False, "jobs": 1, "order": "random"},
    {"xen": "bookworm", "busy": True, "cold": True, "jobs": 2, "order": "random"},
    {"xen": "bookworm", "busy": False, "cold": False, "jobs": 1, "order": "random"},
    {"xen": "trixie", "busy": False, "cold": True, "jobs": 1, "order": "file"},
    {"xen": "bookworm", "busy": False, "cold": True, "jobs": 2, "order": "file"},
    {"xen": "trixie", "busy": True, "cold": False, "jobs": 1, "order": "random"},
    {"xen": "bookworm", "busy": False, "cold": False, "jobs": 2, "order": "random"},
    {"xen": "trixie", "busy": False, "cold": False, "jobs": 1, "order": "file"},
    {"xen": "bookworm", "busy": False, "cold": True, "jobs": 1, "order": "random"},
)
# A busy loop ends by itself after this long, whatever becomes of the soak.
BUSY_MAX_S = 1800


@dataclass(frozen=True)
class Variant:
    xen: str
    busy: bool  # a second consumer of CPU on the host, for the whole run
    cold: bool
    jobs: int
    order: str

    def describe(self) -> str:
        parts = [self.xen, "cold boot" if self.cold else "restored", f"jobs {self.jobs}", f"{self.order} order"]
        return ", ".join(parts + (["host busy"] if self.busy else []))


def plan(runs: int, xens: list[str] | None = None) -> list[Variant]:
    """The variant of each run; with `xens`, only the variants of those Xens."""
    cycle = [Variant(**v) for v in VARIANTS]  # type: ignore[arg-type]
    if xens:
        cycle = [v for v in cycle if v.xen in xens] or [Variant(x, False, False, 1, "file") for x in xens]
    return [cycle[i % len(cycle)] for i in range(runs)]


@dataclass
class RunRecord:
    index: int
    variant: Variant
    outcome: str
    seconds: float
    errors: list[str] = field(default_factory=list)  # infrastructure errors, each named
    verdicts: dict[str, str] = field(default_factory=dict)  # step -> verdict
    changed: list[str] = field(default_factory=list)  # steps whose verdict is not the first run's

    @property
    def flaky(self) -> bool:
        return bool(self.errors or self.changed)


def infrastructure_errors(run: object) -> list[str]:
    """What in a SuiteRun was the harness's or the machine's doing, not Xen's answer."""
    from .pipeline import SuiteRun

    assert isinstance(run, SuiteRun)
    out = [
        f"{r.case.name}: {p.text.splitlines()[0]}"
        for r in run.results
        for p in r.problems
        if r.outcome is Outcome.ERROR
    ]
    out += [f"{r.case.name}: ERROR" for r in run.results if r.outcome is Outcome.ERROR and not r.problems]
    out += [f"machine given up: {e.what}: {e.detail.splitlines()[0]}" for s in run.sessions for e in s.replaced]
    return out


def verdicts(results: list[CaseResult]) -> dict[str, str]:
    """A run's verdict of every step, by file:line, domain and op (not the call: a random order
    gives other port numbers), and each case's outcome: what no step shows (a barrier of the
    harness's that timed out, soak run 33) must not pass as steady."""
    out = {f"{r.where} {r.domain} {r.command}": r.verdict for r in rows(results)}
    return out | {f"case {r.case.name}": r.outcome.name for r in results}


def changes(first: dict[str, str], now: dict[str, str]) -> list[str]:
    """Every step whose verdict differs from the first run's, or that either lacks."""
    out = []
    for step in sorted(first.keys() | now.keys()):
        a, b = first.get(step, "(not run)"), now.get(step, "(not run)")
        if a != b:
            out.append(f"{step}: {a} -> {b}")
    return out


class BusyLoop:
    """A second consumer of CPU for as long as it is held (and at most BUSY_MAX_S)."""

    def __init__(self, enabled: bool) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.enabled = enabled

    def __enter__(self) -> BusyLoop:
        if self.enabled:
            spin = f"import time\nend = time.monotonic() + {BUSY_MAX_S}\nwhile time.monotonic() < end: pass\n"
            self.proc = subprocess.Popen([sys.executable, "-c", spin])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def soak(runs: int, cases: list[Path], out: Path, xens: list[str] | None = None) -> list[RunRecord]:
    from .pipeline import load_cases, prepare, run_all

    records: list[RunRecord] = []
    first: dict[str, dict[str, str]] = {}  # by Xen
    prepared = {}
    for i, variant in enumerate(plan(runs, xens), start=1):
        if variant.xen not in prepared:
            prepared[variant.xen] = prepare(variant.xen)
        arts, guest = prepared[variant.xen]
        log.info(f"soak: run {i}/{runs}: {variant.describe()}")
        start = time.monotonic()
        rec = RunRecord(i, variant, Outcome.ERROR.name, 0.0)
        try:
            with BusyLoop(variant.busy):
                run = run_all(
                    arts, guest, load_cases(arts, cases), out / f"run{i}",
                    spec=variant.order, cold=variant.cold, jobs=variant.jobs,
                )  # fmt: skip
            rec.outcome = run.outcome.name
            rec.errors = infrastructure_errors(run)
            rec.verdicts = verdicts(run.results)
        except Exception as e:  # a run that could not even start is this run's error, not the soak's end
            rec.errors = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"]
        rec.seconds = time.monotonic() - start
        if rec.verdicts:
            if variant.xen in first:
                rec.changed = changes(first[variant.xen], rec.verdicts)
            else:
                first[variant.xen] = rec.verdicts
        records.append(rec)
        state = "flaky" if rec.flaky else "steady"
        log.info(f"soak: run {i}: {rec.outcome}, {state}, {rec.seconds:.0f}s")
        for line in rec.errors[:5] + rec.changed[:5]:
            log.info(f"soak:     {line}")
        write(out, records)
    return records


def summary(records: list[RunRecord]) -> str:
    flaky = sum(r.flaky for r in records)
    errors = sum(len(r.errors) for r in records)
    changed = sum(len(r.changed) for r in records)
    return f"SOAK: {len(records)} runs, {flaky} flaky, {errors} infrastructure errors, {changed} verdict changes"


def write(out: Path, records: list[RunRecord]) -> Path:
    data = [
        {**{k: v for k, v in asdict(r).items() if k != "verdicts"}, "variant": asdict(r.variant), "flaky": r.flaky}
        for r in records
    ]
    path = out / "soak.json"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host_cpus": os.cpu_count(), "runs": data, "summary": summary(records)}, indent=2))
    return path
