"""Command line: fetch, run, bench, parse."""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import log
from .artifacts import SUITES, Artifacts, fetch
from .cases import Case, load, plan, read_errnos
from .check import cmd_check
from .errors import HarnessError, SetupError
from .hypervisor import resolve, with_hypervisor
from .matrix import Column, column_from, compare
from .matrix import write as write_matrix
from .report import rows, write_reports
from .results import parse, parse_line
from .runner import ROOT, CaseResult, GroupResult, Session
from .xenbuild import build_debug

BUILD = ROOT / "build"
DEFAULT_CASES = [ROOT / "cases" / "interdomain.evt"]


def build_guest(arts: Artifacts) -> Path:
    """The guest kernel, built against the suite's own Xen headers (make: a no-op when current)."""
    out = BUILD / "guest" / arts.suite
    for part in ("guest", "dom0"):  # dom0/ is the privileged steps' tool; it lands beside the guest
        proc = subprocess.run(
            ["make", "-s", "-C", str(ROOT / part), f"XEN_INCLUDE={arts.include}", f"O={out}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SetupError(f"building {part}/ against {arts.include} failed:\n{proc.stdout}{proc.stderr}")
    return out / "evtchn-guest"


def prepare(xen: str) -> tuple[Artifacts, Path]:
    """Xen under test (a suite, `debug:<suite>` or a hypervisor file), its dom0 pieces and our guest."""
    if xen.startswith("debug:"):
        xen = str(build_debug(xen.removeprefix("debug:"), BUILD))
    suite, custom = resolve(xen)
    arts = fetch(suite, BUILD)
    if custom is not None:
        arts = with_hypervisor(arts, custom, BUILD)
        log.info(f"hypervisor under test: {arts.versions['xen-hypervisor']}, with the {suite} toolstack")
    return arts, build_guest(arts)


def load_cases(arts: Artifacts, paths: list[Path]) -> list[Case]:
    return load(paths, read_errnos(arts.include))


def run_all(
    arts: Artifacts, guest: Path, cases: list[Case], out: Path, fresh: bool
) -> tuple[Session, list[GroupResult]]:
    groups = plan(cases, fresh)
    with Session(arts, guest, groups, out) as session:
        results = [session.run_group(g) for g in groups]
    return session, results


@dataclass
class SuiteRun:
    """One Xen under test, the given case files run against it."""

    session: Session
    results: list[CaseResult]
    seconds: float  # boot and cases, set-up excluded


def run_suite(xen: str, case_files: list[Path], out: Path) -> SuiteRun:
    arts, guest = prepare(xen)
    cases = load_cases(arts, case_files)
    start = time.monotonic()
    session, groups = run_all(arts, guest, cases, out, False)
    return SuiteRun(session, [r for g in groups for r in g.case_results()], time.monotonic() - start)


def format_exchange(lines: list[str]) -> str:
    """The guests' steps in the order the serial line saw them, one per line."""
    rows = []
    for text in lines:
        parsed = parse_line(text)
        if parsed is None:
            continue
        dom, kind, rest = parsed
        if kind == "RESULT":
            step = parse([text])[dom].steps[0]
            if step.op in ("put", "get", "mark"):
                continue  # the harness's own rendezvous
            mark = "ok  " if step.passed else "FAIL"
            call = f"{step.op}({', '.join(step.args)})"
            rows.append(f"  {mark} {dom:<6} {call:<34} expect {step.expect:<34} got {step.got}")
        elif kind in ("BOOT", "CASE-BEGIN", "CASE-END", "DONE", "CRASH", "SCRIPT-ERROR"):
            rows.append(f"       {dom:<6} {kind} {rest}")
    return "\n".join(rows)


def cmd_run(args: argparse.Namespace) -> int:
    arts, guest = prepare(args.xen)
    cases = load_cases(arts, [Path(p) for p in args.cases] or DEFAULT_CASES)
    out = BUILD / "runs" / time.strftime("%Y%m%d-%H%M%S")
    session, results = run_all(arts, guest, cases, out, args.fresh)
    assert session.machine is not None
    print(f"\nXen {session.info.get('xen_version')} ({arts.describe()})")
    print(format_exchange([ln.text for ln in session.machine.console.lines]))
    case_results = [r for g in results for r in g.case_results()]
    failed = [r for r in case_results if not r.passed]
    _, path = write_reports(out, session.header(), case_results)
    for r in failed:
        print(f"\nFAILED {r.case.name}:")
        for s in r.steps:
            if not s.passed:
                print(f"  line {s.line}: {s.describe()}")
        for p in r.problems:
            print(f"  {p}")
    steps = sum(len(r.steps) for r in case_results)
    verdict = "FAIL" if failed else "PASS"
    print(
        f"\n{verdict}: {len(case_results) - len(failed)}/{len(case_results)} case(s) passed, {steps} steps, "
        f"Xen {session.info.get('xen_version')} build-id {session.info.get('build_id')}; "
        f"serial log {out / 'serial.log'}, report {path}"
    )
    return 1 if failed else 0


def cmd_matrix(args: argparse.Namespace) -> int:
    out = BUILD / "matrix" / time.strftime("%Y%m%d-%H%M%S")
    # Every column runs the very same cases, even if the files change meanwhile.
    snapshot = out / "cases"
    snapshot.mkdir(parents=True)
    for src in [Path(p) for p in args.cases] or sorted((ROOT / "cases").glob("*.evt")):
        shutil.copy2(src, snapshot / src.name)
    columns: list[Column] = []
    for xen in args.xens.split(","):
        start = time.monotonic()
        log.info(f"matrix: running the suite against {xen}")
        try:
            where = out / f"x{len(columns) + 1}"
            run = run_suite(xen, sorted(snapshot.glob("*.evt")), where)
            header = run.session.header()
            _, md = write_reports(where, header, run.results)
            col = column_from(xen, header, rows(run.results), time.monotonic() - start, md)
            if run.session.lost is not None:
                col.error = str(run.session.lost)
        except HarnessError as e:
            # A Xen that panics or never brings up dom0 is this column's result, not the end of the matrix.
            col = Column(xen, {}, error=str(e), wall_seconds=time.monotonic() - start)
        columns.append(col)
    _, md_path = write_matrix(out, columns)
    print(f"\ncomparison: {md_path}")
    for c in columns:
        state = f"did not run: {c.error.splitlines()[0]}" if c.error else f"{len(c.cells)} steps"
        print(f"  {c.title()}\n      wall time {c.wall_seconds:.0f} s, {state}")
    differing = [k for k, _, d in compare(columns) if d]
    print(f"{len(differing)} step(s) differ between the hypervisors" + (":" if differing else "."))
    for k in differing:
        print(f"  {k}")
    return 1 if any(c.error for c in columns) else 0


def cmd_prepare(args: argparse.Namespace) -> int:
    arts, guest = prepare(args.xen)
    print(f"ready: {arts.describe()}; guest {guest}")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    text = Path(args.log).read_text(errors="replace")
    print(format_exchange(text.splitlines()))
    reports = parse(text.splitlines())
    bad = [s for r in reports.values() for s in r.steps if not s.passed]
    print(f"{len(reports)} domain(s), {sum(len(r.steps) for r in reports.values())} steps, {len(bad)} failed")
    return 1 if bad else 0


def _stats(values: list[float]) -> str:
    if not values:
        return "no data"
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}  (n={len(values)})"


def cmd_bench(args: argparse.Namespace) -> int:
    arts, guest = prepare(args.xen)
    cases = load_cases(arts, [Path(p) for p in args.cases] or DEFAULT_CASES)
    ready, first_line, per_case, wall = [], [], [], []
    for i in range(args.runs):
        log.info(f"bench run {i + 1}/{args.runs}")
        start = time.monotonic()
        session, results = run_all(arts, guest, cases, BUILD / "bench" / f"run{i + 1}", False)
        wall.append(time.monotonic() - start)
        ready.append(session.ready_seconds)
        for g in results:
            first_line += g.create_to_first_line
            for rep in g.reports.values():
                per_case += [us / 1e6 for us in rep.case_us.values()]
    suite_rows = []
    for xen in args.xens.split(",") if args.xens else []:
        # The whole conformance suite, as `make test` and each matrix column run it.
        run = run_suite(xen, sorted((ROOT / "cases").glob("*.evt")), BUILD / "bench" / "suite")
        n, ok = len(run.results), sum(r.passed for r in run.results)
        suite_rows.append(
            f"{xen}: {run.seconds:.0f} s for {n} cases ({ok} passed), {n / run.seconds * 60:.1f} cases/min"
        )
    print(f"QEMU start -> dom0 ready (s):        {_stats(ready)}")
    print(f"xl create -> guest's first line (s): {_stats(first_line)}")
    print(f"time per case, in the guest (s):     {_stats(per_case)}")
    print(f"whole run (s):                       {_stats(wall)}")
    for row in suite_rows:
        print(f"whole suite (boot included), {row}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # A CI timeout sends SIGTERM: turn it into an exception so QEMU is torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl-C must unwind too, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    p = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    p.add_argument(
        "--xen",
        default="bookworm",
        help=f"Xen under test: a Debian suite ({', '.join(SUITES)}), debug:<suite> (built from Debian's source "
        "with debug=y) or a hypervisor file (xen or xen.gz)",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot Xen, run cases in guest domains, print the exchange and a verdict")
    r.add_argument("cases", nargs="*", help="case files (default: cases/interdomain.evt)")
    r.add_argument("--fresh", action="store_true", help="run every case in fresh domains")
    sub.add_parser("prepare", help="fetch Xen, the dom0 kernel and toolstack; build the guest")
    mx = sub.add_parser("matrix", help="run the cases against several Xens and compare the results")
    mx.add_argument("cases", nargs="*", help="case files (default: cases/*.evt)")
    mx.add_argument("--xens", default="bookworm,trixie", help="comma-separated suites or hypervisor files")
    b = sub.add_parser("bench", help="time the boot, domain creation and cases over several runs")
    b.add_argument("cases", nargs="*")
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--xens", default="", help="also time the whole suite against each of these (matrix columns)")
    pa = sub.add_parser("parse", help="parse a saved serial log")
    pa.add_argument("log")
    ck = sub.add_parser("check", help="check case files as the guests will read them, without booting")
    ck.add_argument("files", nargs="+", help="case files")
    args = p.parse_args(argv)
    try:
        commands = {"run": cmd_run, "prepare": cmd_prepare, "bench": cmd_bench, "parse": cmd_parse, "check": cmd_check}
        return {**commands, "matrix": cmd_matrix}[args.cmd](args)
    except HarnessError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; QEMU stopped", file=sys.stderr)
        return 130
