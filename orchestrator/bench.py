"""Timings: boot, domain creation and cases over several runs, and the whole suite per Xen."""

from __future__ import annotations

import statistics
from pathlib import Path

from . import log
from .pipeline import ALL_CASES, BUILD, load_cases, prepare, run_all, run_suite


def stats(values: list[float]) -> str:
    if not values:
        return "no data"
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}  (n={len(values)})"


def bench(xen: str, case_files: list[Path], runs: int, suite_xens: list[str]) -> list[str]:
    """The lines `orchestrator bench` prints."""
    arts, guest = prepare(xen)
    cases = load_cases(arts, case_files)
    ready: list[float] = []
    first_line: list[float] = []
    per_case: list[float] = []
    wall: list[float] = []
    for i in range(runs):
        log.info(f"bench run {i + 1}/{runs}")
        run = run_all(arts, guest, cases, BUILD / "bench" / f"run{i + 1}")
        wall.append(run.seconds)
        ready.append(run.session.ready_seconds)
        for g in run.groups:
            first_line += g.create_to_first_line
            for rep in g.reports.values():
                per_case += [us / 1e6 for us in rep.case_us.values()]
    suite_rows = []
    for x in suite_xens:
        # The whole conformance suite, as `make test` and each matrix column run it.
        srun = run_suite(x, ALL_CASES, BUILD / "bench" / "suite")
        n, ok = len(srun.results), sum(r.passed for r in srun.results)
        rate = n / srun.seconds * 60
        suite_rows.append(f"{x}: {srun.seconds:.0f} s for {n} cases ({ok} passed), {rate:.1f} cases/min")
    return [
        f"QEMU start -> dom0 ready (s):        {stats(ready)}",
        f"xl create -> guest's first line (s): {stats(first_line)}",
        f"time per case, in the guest (s):     {stats(per_case)}",
        f"whole run (s):                       {stats(wall)}",
        *(f"whole suite (boot included), {row}" for row in suite_rows),
    ]
