"""Command line: prepare, run, compare, matrix, bench, fuzz, merge, agree, parse, check.

`run`, `parse`, `fuzz` (its seeds) and `merge` exit with the worst outcome of their cases (orchestrator/outcome.py,
docs/architecture.md "When something goes wrong"): 0 all passed, 4 ERROR, 5 FAIL, 6 CRASH; 2 for a bad command
line or an unreadable log, 130 on Ctrl-C, 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import (
    agree,
    baseline,
    covattr,
    coverage,
    covfuzz,
    direct,
    fuzz,
    fuzzsummary,
    lang,
    log,
    matrix,
    merge,
    shard,
    soak,
    sources,
)
from .artifacts import Artifacts
from .bench import bench, coverage_overhead
from .cases.model import Case, shown
from .cases.parse import read_text
from .cases.plan import ORDERS, order
from .check import cmd_check, load_checked
from .compare import arms, differences, format_differences
from .compare import write as write_compare
from .errors import HarnessError, SetupError
from .matrix import NO_RESULT, Column, column_from, compare
from .matrix import write as write_matrix
from .outcome import Outcome, worst
from .pipeline import (
    ALL_CASES,
    BUILD,
    DEFAULT_CASES,
    SNAPSHOTS,
    SuiteRun,
    load_cases,
    prepare,
    run_all,
    run_suite,
)
from .report import format_exchange, rows, write_reports
from .results import CaseResult, LogError, log_outcome, parse, read_log
from .runner import ROOT, Session, xen_config_text
from .sources.tree import tree_of

# Exit code of a command line argparse refuses, and of a log that cannot be read.
EXIT_USAGE = 2
# `coverage`'s campaign after the suite (make coverage's COV_SEEDS, COV_OPS): small, minutes.
COVERAGE_SEEDS = "1-8"
COVERAGE_OPS = 50_000


def _refuse_coverage(xen: str) -> bool:
    """Whether --coverage is refused for this Xen (printed): before anything is fetched."""
    if sources.find(xen).coverage:
        return False
    print(f"error: {sources.coverage_refusal(xen)}", file=sys.stderr)
    return True


def cmd_run(args: argparse.Namespace) -> int:
    if args.coverage and _refuse_coverage(args.xen):
        return EXIT_USAGE
    if args.shard is None:
        try:
            args.shard = shard.from_env()
        except ValueError as e:
            print(f"run: CI_NODE_INDEX/CI_NODE_TOTAL: {e}", file=sys.stderr)
            return EXIT_USAGE
    if args.shard is not None and args.order == "random":
        # Each runner would draw its own order, and the shards would not add up to the suite.
        print("run: --shard needs the same order on every runner: file, reverse or random:<seed>", file=sys.stderr)
        return EXIT_USAGE
    if args.direct and (args.coverage or args.jobs > 1 or args.shard is not None or args.cold):
        print("run: --direct boots Xen once per case, with no dom0: no --coverage, --jobs, --shard or --cold")
        return EXIT_USAGE
    arts, guest = prepare(args.xen, args.coverage)
    cases = load_cases(arts, [Path(p) for p in args.cases] or DEFAULT_CASES)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # A CI job names its folder: its artifacts' paths must be known before it runs.
    out = Path(args.out).resolve() if args.out else BUILD / "runs" / stamp
    if args.direct:
        return _run_direct(arts, guest, cases, out)
    run = run_all(
        arts, guest, cases, out, args.fresh, args.order, args.cold, args.jobs, shard=args.shard,
        coverage=args.coverage, coverage_each=args.coverage,
    )  # fmt: skip
    _show_run(run, arts, out, args.update_baseline)
    if args.coverage:
        report = _coverage_report(run, tree_of(args.xen), BUILD / "coverage" / stamp)
        return worst([run.outcome, report.outcome]).exit_code
    return run.outcome.exit_code


def _show_run(run: SuiteRun, arts: Artifacts, out: Path, update_baseline: bool = False) -> None:
    """A run's exchange, what did not pass, its baseline and its verdict line; the reports in `out`."""
    session = run.session
    print(f"\nXen {session.info.get('xen_version')} ({arts.describe()})")
    print(format_exchange([ln.text for ln in run.console_lines()]))
    _, path = write_reports(out, session.header(), run.results, run.shard)
    _show_not_passed(run.results)
    print(baseline.summary(run.baseline, run.results, run.known, run.stale, update_baseline))
    for each in run.sessions:
        for lost in each.replaced:
            print(
                f"\nERROR: a machine was given up and the groups after it ran on a new one: {lost.what}: "
                f"{lost.detail.splitlines()[0]}"
            )
    logs = out / "serial*.log" if len(run.sessions) == 1 else out / "m*" / "serial*.log"
    steps = sum(len(r.steps) for r in run.results)
    passed = sum(r.passed for r in run.results)
    others = ", ".join(f"{n} {o.name}" for o in Outcome if o is not Outcome.PASS and (n := _count(run.results, o)))
    print(
        f"\n{run.outcome.name}: {passed}/{len(run.results)} case(s) passed{f' ({others})' if others else ''}, "
        f"{steps} steps, Xen {session.info.get('xen_version')} build-id {session.info.get('build_id')}; "
        f"serial log {logs}, report {path}"
    )


def _show_not_passed(results: list[CaseResult]) -> None:
    for r in results:
        if r.passed:
            continue
        print(f"\n{r.outcome.name} {r.case.name}:")
        for s in r.steps:
            if not s.passed:
                print(f"  line {s.line}: {s.describe()}")
        for p in r.problems:
            print(f"  {p.outcome.name}: {p.text}")


def _run_direct(arts: Artifacts, guest: Path, cases: list[Case], out: Path) -> int:
    """`run --direct`: the cases that need no toolstack, each with our guest as Xen's dom0."""
    got = direct.run(arts, guest, cases, out, xen_config_text("xen.cmdline"))
    for case, why in got.refused:
        print(f"not run with --direct: {case.name}: {why}")
    if not got.results:
        print("run --direct: none of the cases can run with our guest as dom0", file=sys.stderr)
        return EXIT_USAGE
    _, path = write_reports(out, got.header, got.results)
    for r in got.results:
        print(f"{r.case.name}: {r.outcome.name}")
    _show_not_passed(got.results)
    known = f", {len(got.known)} known Xen bug step(s) (baselines/)" if got.known else ""
    passed = sum(r.passed for r in got.results)
    print(
        f"\n{got.outcome.name}: {passed}/{len(got.results)} case(s) passed{known}, {got.seconds:.1f}s, "
        f"{len(got.results)} boot(s) of Xen {got.header['xen_version']} with our guest as dom0; "
        f"serial logs {out}/g*/serial.log, report {path}"
    )
    return got.outcome.exit_code


@dataclass
class Report:
    """A coverage report made, or why not (ERROR: it costs the report, never a verdict)."""

    out: Path
    files: list[coverage.FileCoverage] = field(default_factory=list)
    error: str = ""

    @property
    def outcome(self) -> Outcome:
        return Outcome.ERROR if self.error else Outcome.PASS


def _report_failed(report: Report, e: Exception) -> Report:
    report.error = str(e)
    print(f"\nERROR: no coverage report in {report.out}: {e}", file=sys.stderr)
    return report


def _coverage_report(run: SuiteRun, tree: Path, out: Path, title: str = "the suite's coverage") -> Report:
    """The coverage report of a run (`run --coverage`) in `out`, and its figures printed."""
    dumps = [d for s in run.sessions for _, d in sorted(s.coverage_dumps.items())]
    report = Report(out)
    try:
        build_dir = coverage.build_of(tree, BUILD)
        out.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(dumps, start=1):  # beside the report: what it was made from
            shutil.copy2(d, out / f"xencov-{i}.dat")
        report.files = coverage.report(dumps, build_dir, tree, out, title)
        text = coverage.finish(out, report.files)
    except (HarnessError, coverage.DumpError) as e:
        return _report_failed(report, e)
    machines = f" (counters of {len(dumps)} machines, merged)" if len(dumps) > 1 else ""
    print(f"\nXen coverage of the run{machines}, {tree}:")
    print(text)
    try:
        made = covattr.suite_report(run, build_dir, tree, out)
        print(_attribution_summary(made))
    except (HarnessError, coverage.DumpError, OSError) as e:
        # The report stands (its lines are good): only the per-group figures are missing.
        report.error = f"no attribution.md: {e}"
        print(f"\nERROR: {report.error}", file=sys.stderr)
    print(
        f"coverage report: {out / 'index.html'} (also cobertura.xml, summary.json; unreached.md: each line not "
        "reached; attribution.md: which groups reach which lines)"
    )
    return report


def _attribution_summary(made: covattr.SuiteAttribution) -> str:
    """What attribution.md says first: the lines one group alone reaches, and who adds none."""
    att = made.attribution
    m = att.machines
    idle = att.adds_no_line()
    rows = [
        f"lines one read alone reaches: {covattr.count(att.single)} of {covattr.count(att.reached)}",
        "groups that add no line: " + (", ".join(u.label(m) for u in idle) if idle else "none"),
        "case files that add no line: " + (", ".join(s.name for s in att.files_adding_no_line()) or "none"),
    ]
    rows += [f"WARNING: the per-group reads and the report disagree: {d}" for d in made.disagree]
    rows += [f"group {i}: {covattr.UNREAD}" for i in att.unread]
    return "\n".join(rows)


def _campaign_report(
    campaign: fuzz.Campaign,
    spelled: str,
    tree: Path,
    out: Path,
    suite: covfuzz.Lines | None = None,
    plot: Path | None = None,
) -> Report:
    """A coverage campaign's report (`fuzz --coverage`) in `out`, with its corpus and plot;
    its figures printed."""
    report = Report(out)
    try:
        made = covfuzz.campaign_report(campaign, spelled, coverage.build_of(tree, BUILD), tree, out, suite, plot)
        report.files = made.files
        text = coverage.finish(out, made.files)
    except (HarnessError, coverage.DumpError) as e:
        return _report_failed(report, e)
    kept = covfuzz.corpus(made.gains)
    unread = [g.seed for g in made.gains if not g.read]
    print(f"\nXen coverage of the fuzz campaign, {tree}:")
    print(text)
    print(
        f"corpus: {len(kept)} of {sum(g.seed is not None for g in made.gains)} seed(s) reached lines no earlier one "
        f"had: {', '.join(f'{g.seed} (+{g.new_lines})' for g in kept)}"
    )
    for d in made.disagree:
        print(f"WARNING: the per-seed figures and the report disagree: {d}", file=sys.stderr)
    if unread:
        report.error = f"no read after seed(s) {', '.join(map(str, unread))}: their lines count with the next read"
        print(f"ERROR: {report.error}", file=sys.stderr)
    print(
        f"coverage report: {out / 'index.html'} (corpus.txt: the seeds kept; seeds.json: every read; "
        f"plot {plot or out / 'coverage.png'})"
    )
    return report


@dataclass(frozen=True)
class FuzzArgs:
    seeds: list[int]  # this run's: its shard's of the campaign's
    campaign: list[int]  # the whole campaign's
    part: shard.Shard | None  # the shard it runs
    spelled: str  # as given, and the shard


def _fuzz_args(args: argparse.Namespace) -> FuzzArgs | None:
    """The campaign's seeds, its shard and how they were spelled; None (printed) if refused."""
    try:
        campaign = fuzz.parse_seeds(args.seeds or args.seed)
        part = args.shard or shard.from_env()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    seeds = shard.every(campaign, part)
    if not seeds:
        print(f"error: shard {part} of seeds {args.seeds or args.seed} holds no seed", file=sys.stderr)
        return None
    if part is not None:
        shown_seeds = ", ".join(map(str, seeds[:5])) + (", ..." if len(seeds) > 5 else "")
        log.info(f"fuzz: shard {part} of seeds {args.seeds or args.seed}: {len(seeds)} seed(s), {shown_seeds}")
    return FuzzArgs(seeds, campaign, part, (args.seeds or args.seed) + (f" (shard {part})" if part else ""))


def _refuse_coverage_campaign(args: argparse.Namespace) -> bool:
    if _refuse_coverage(args.xen):
        return True
    if args.jobs > 1:
        # What a seed added needs the seeds in an order: one machine at a time.
        print("error: --coverage runs the seeds one after another: --jobs 1", file=sys.stderr)
        return True
    return False


def cmd_fuzz(args: argparse.Namespace) -> int:
    if args.coverage and _refuse_coverage_campaign(args):
        return EXIT_USAGE
    if args.direct and (args.domains != 1 or args.coverage or args.jobs > 1):
        print("error: fuzz --direct runs one domain, our guest as dom0: no --domains 2, --coverage or --jobs",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    parsed = _fuzz_args(args)
    if parsed is None:
        return EXIT_USAGE
    arts, guest = prepare(args.xen, args.coverage)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out).resolve() if args.out else BUILD / "fuzz" / stamp
    campaign = fuzz.run_campaign(
        arts, guest, parsed.seeds, args.ops, out, args.vcpus, args.jobs, args.abi, domains=args.domains,
        shrink=args.shrink, coverage=args.coverage,
        direct_cmdline=xen_config_text("xen.cmdline") if args.direct else None,
    )  # fmt: skip
    print(fuzz.report(campaign, parsed.spelled))
    data = fuzzsummary.summary(
        campaign, args.seeds or args.seed, parsed.campaign, parsed.part, out, args.xen, args.shrink, args.coverage
    )
    summary, _ = fuzzsummary.write(out, data)
    print(f"serial logs and cases: {out}; summary {summary}", file=sys.stderr)
    # As `run` and `merge` exit: a merge of the campaign's shards gives the same code.
    verdict = fuzz.outcome(campaign)
    if args.coverage:
        report = _campaign_report(campaign, parsed.spelled, tree_of(args.xen), BUILD / "coverage" / stamp)
        return worst([verdict, report.outcome]).exit_code
    return verdict.exit_code


def cmd_coverage(args: argparse.Namespace) -> int:
    """The suite, then a fuzz campaign, on one coverage build: a report of each and of the
    two together (gcovr merging their traces), the corpus, and the plot."""
    if _refuse_coverage_campaign(args):
        return EXIT_USAGE
    parsed = _fuzz_args(args)
    if parsed is None:
        return EXIT_USAGE
    seeds, spelled = parsed.seeds, parsed.spelled
    tree = tree_of(args.xen)
    arts, guest = prepare(args.xen, True)
    cases = load_cases(arts, [Path(p) for p in args.cases] or ALL_CASES)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = BUILD / "coverage" / stamp
    log.info(f"coverage: the suite ({len(cases)} cases)")
    run_out = BUILD / "runs" / stamp
    run = run_all(arts, guest, cases, run_out, coverage=True, coverage_each=True)
    _show_run(run, arts, run_out)
    suite = _coverage_report(run, tree, out / "suite")
    suite_lines = _lines(out / "suite") if suite.files else None  # made, even if its attribution is not
    log.info(f"coverage: a fuzz campaign, seeds {spelled}, {args.ops} operations each")
    fuzz_out = BUILD / "fuzz" / stamp
    # A finding is named with its replay line; shrinking it (minutes) is `make fuzz`'s work.
    campaign = fuzz.run_campaign(
        arts, guest, seeds, args.ops, fuzz_out, args.vcpus, 1, args.abi, domains=args.domains, shrink=False,
        coverage=True,
    )  # fmt: skip
    print(fuzz.report(campaign, spelled))
    print(f"serial logs and cases: {fuzz_out}", file=sys.stderr)
    plot = out / "coverage.png"
    camp = _campaign_report(campaign, spelled, tree, out / "campaign", suite_lines, plot)
    union = Report(out / "union")
    reports = [r for r in (suite, camp) if r.files]
    if len(reports) == 2:
        try:
            union.files = coverage.merge(
                [r.out / "coverage.json" for r in reports], coverage.build_of(tree, BUILD), tree, union.out,
                "the suite's and a fuzz campaign's coverage together",
            )  # fmt: skip
            coverage.finish(union.out, union.files)
        except (HarnessError, coverage.DumpError) as e:
            _report_failed(union, e)
    else:
        _report_failed(union, SetupError("the suite's or the campaign's report is missing"))
    columns = {"suite": suite.files, "campaign": camp.files, "union": union.files}
    table = coverage.format_columns({k: v for k, v in columns.items() if v})
    (out / "comparison.txt").write_text(table + "\n")
    print(f"\nXen coverage, {tree}: the suite ({len(cases)} cases), the campaign (seeds {spelled}), both together")
    print(table)
    print(f"reports: {out}/{{suite,campaign,union}}/index.html; plot {plot}")
    verdicts = [run.outcome, fuzz.outcome(campaign), suite.outcome, camp.outcome, union.outcome]
    return worst(verdicts).exit_code


def _lines(report: Path) -> covfuzz.Lines:
    """The lines of MAIN_FILES a report's trace executed."""
    trace = json.loads((report / "coverage.json").read_text())
    return {f: coverage.lines_of(trace, f)[0] for f in coverage.MAIN_FILES}


# git bisect run's convention: 0 good, 1 bad, 125 cannot tell (skip this commit).
BISECT_GOOD, BISECT_BAD, BISECT_SKIP = 0, 1, 125


def bisect_code(outcome: Outcome) -> int:
    """good, bad, or skip (125) for `git bisect run`: a run in which the harness could not
    tell (ERROR: a lost machine, a step without a result) is never called good or bad."""
    return {Outcome.PASS: BISECT_GOOD, Outcome.FAIL: BISECT_BAD, Outcome.CRASH: BISECT_BAD}.get(outcome, BISECT_SKIP)


def cmd_bisect_step(args: argparse.Namespace) -> int:
    """One step of `git bisect run`: build the tree's hypervisor, run the cases, say good or bad."""
    try:
        arts, guest = prepare(args.xen)
        cases = load_cases(arts, [Path(p) for p in args.cases] or ALL_CASES)
    except HarnessError as e:
        print(f"bisect-step: cannot test this tree ({BISECT_SKIP}): {e}", file=sys.stderr)
        return BISECT_SKIP
    out = BUILD / "bisect" / time.strftime("%Y%m%d-%H%M%S")
    try:
        run = run_all(arts, guest, cases, out)
    except HarnessError as e:
        # Xen going down is the tree's fault; dom0 not coming up may be the harness's.
        code = BISECT_BAD if e.outcome is Outcome.CRASH else BISECT_SKIP
        print(f"bisect-step: {e.outcome.name} before any case ran ({code}): {e}", file=sys.stderr)
        return code
    code = bisect_code(run.outcome)
    for r in run.results:
        if not r.passed:
            print(f"{r.outcome.name} {r.case.name}: " + "; ".join(s.describe() for s in r.steps if not s.passed))
    verdict = {BISECT_GOOD: "good", BISECT_BAD: "bad"}.get(code, "skip")
    print(
        f"bisect-step: {verdict} ({code}): {sum(r.passed for r in run.results)}/{len(run.results)} case(s) passed, "
        f"{arts.versions['xen-hypervisor']}; serial log {out / 'serial.log'}"
    )
    return code


def _count(results: list[CaseResult], outcome: Outcome) -> int:
    return sum(1 for r in results if r.outcome is outcome)


def cmd_matrix(args: argparse.Namespace) -> int:
    sources = [Path(p) for p in args.cases] or sorted((ROOT / "cases").glob("*.evt"))
    # The columns read copies kept in one folder, by name: two files of one name would be one.
    by_name: dict[str, Path] = {}
    for src in sources:
        if src.name in by_name:
            print(
                f"error: {shown(by_name[src.name])} and {shown(src)}: two case files named {shown(Path(src.name))}; "
                "the matrix keeps its cases in one folder by name: rename one",
                file=sys.stderr,
            )
            return EXIT_USAGE
        by_name[src.name] = src
    # Refused before the first column boots, not once per column.
    load_checked(sources, None)
    baseline.read_all()
    out = BUILD / "matrix" / time.strftime("%Y%m%d-%H%M%S")
    # Every column runs the very same cases, even if the files change meanwhile.
    snapshot = out / "cases"
    snapshot.mkdir(parents=True)
    for src in sources:
        (snapshot / src.name).write_bytes(read_text(src).encode())
    columns: list[Column] = []
    for xen in args.xens.split(","):
        start = time.monotonic()
        log.info(f"matrix: running the suite against {xen}")
        try:
            where = out / f"x{len(columns) + 1}"
            # The copies are the project's cases/ where their sources are: its baselines apply.
            run = run_suite(xen, sorted(snapshot.glob("*.evt")), where, {snapshot / s.name: s for s in sources})
            header = run.session.header()
            _, md = write_reports(where, header, run.results)
            col = column_from(xen, header, rows(run.results), run.outcome, time.monotonic() - start, md)
            if run.session.lost is not None:
                col.error = str(run.session.lost)
        except HarnessError as e:
            # A Xen that panics or never brings up dom0 is this column's result, not the end of the matrix.
            col = Column(xen, {}, error=str(e), wall_seconds=time.monotonic() - start)
        columns.append(col)
    _, md_path = write_matrix(out, columns)
    print(f"\ncomparison: {md_path}")
    table = compare(columns)
    for c in columns:
        missing = sum(1 for v in c.cells.values() if v == NO_RESULT)
        state = f"did not run: {c.error.splitlines()[0]}" if c.error else f"{len(c.cells)} steps, {c.outcome.name}"
        if missing:
            state += f", {missing} without a result"
        print(f"  {c.title()}\n      wall time {c.wall_seconds:.0f} s, {state}")
    differing = [k for k, _, st in table if st == matrix.DIFFERS]
    print(f"{len(differing)} step(s) differ between the hypervisors" + (":" if differing else "."))
    for k in differing:
        print(f"  {k}")
    errors = [k for k, _, st in table if st == matrix.ERROR]
    if errors:
        print(f"{len(errors)} step(s) have no result in some column (ERROR, not counted as differences)")
    verdict = matrix.outcome(columns)
    print(f"matrix: {verdict.name}")
    return verdict.exit_code


def cmd_compare(args: argparse.Namespace) -> int:
    arts, guest = prepare(args.xen)
    cases = load_cases(arts, [Path(p) for p in args.cases] or ALL_CASES)
    planned = arms(cases, args.orders.split(","))
    out = BUILD / "compare" / time.strftime("%Y%m%d-%H%M%S")
    runs = []
    # One boot serves every arm: their groups have distinct numbers, so distinct domains.
    with Session(arts, guest, [g for a in planned for g in a.groups], out, snapshots=SNAPSHOTS) as session:
        for arm in planned:
            log.info(f"compare: {len(cases)} cases {arm.label}")
            runs.append((arm, session.run_groups(arm.groups)))
    labels = [a.label for a in planned]
    diffs, errors = differences(runs)
    path = write_compare(out, labels, len(cases), diffs, errors)
    if diffs:
        print(format_differences(labels, diffs))
    print(f"\ncompare: {len(cases)} cases, {len(diffs)} step(s) differ between {'; '.join(labels)}; report {path}")
    errored = [
        r.case.name for _, groups in runs for g in groups for r in g.case_results() if r.outcome is Outcome.ERROR
    ]
    if session.lost is not None:
        print(f"ERROR: the machine was lost, later runs are incomplete: {session.lost}", file=sys.stderr)
    if errors or errored or session.lost is not None:
        print(
            f"ERROR: {len(errors)} step(s) without a result in some run, {len(errored)} case run(s) in ERROR "
            f"({', '.join(sorted(set(errored))[:5])}): not counted as differences",
            file=sys.stderr,
        )
        return Outcome.ERROR.exit_code
    return Outcome.FAIL.exit_code if diffs else 0


def cmd_merge(args: argparse.Namespace) -> int:
    """The shards' reports as one, with one exit code: a missing shard or case is ERROR.
    The shards of a suite (conformance.json) or of a fuzz campaign (fuzz.json), not both."""
    paths = [Path(d) for d in args.dirs]
    out = Path(args.out) if args.out else BUILD / "merged" / time.strftime("%Y%m%d-%H%M%S")
    try:
        kinds = {merge.kind(p) for p in paths}
        if len(kinds) > 1:
            raise merge.MergeError("conformance reports and fuzz summaries together: merge each kind on its own")
        if kinds == {"fuzz"}:
            merged_fuzz = fuzzsummary.merge(fuzzsummary.read(paths), args.total, out.resolve())
        else:
            merged = merge.merge(merge.read(paths), args.total)
    except merge.MergeError as e:
        print(f"merge: {e}", file=sys.stderr)
        return Outcome.ERROR.exit_code
    if kinds == {"fuzz"}:
        summary, xml = fuzzsummary.write(out, merged_fuzz)
        print(fuzzsummary.show(merged_fuzz))
        print(f"merged {len(paths)} fuzz summaries: {summary}, {xml}")
        return Outcome[merged_fuzz["summary"]["outcome"]].exit_code
    _, md = merge.write(out, merged)
    for p in merged["problems"]:
        print(f"ERROR: {p}")
    verdict = Outcome[merged["summary"]["outcome"]]
    print(f"{verdict.name}: {merged['summary']['cases']} case(s) from {len(args.dirs)} report(s); report {md}")
    return verdict.exit_code


def cmd_agree(args: argparse.Namespace) -> int:
    """0 if the two reports say the same, 5 if they differ, 4 if something has no result."""
    try:
        result = agree.agree(Path(args.a), Path(args.b), args.verdicts, args.subset)
    except merge.MergeError as e:
        print(f"agree: {e}", file=sys.stderr)
        return Outcome.ERROR.exit_code
    print(agree.show(result, Path(args.a), Path(args.b)))
    return result.outcome.exit_code


def cmd_soak(args: argparse.Namespace) -> int:
    out = BUILD / "soak" / time.strftime("%Y%m%d-%H%M%S")
    xens = [x for x in args.xens.split(",") if x] or None
    records = soak.soak(args.runs, [Path(p) for p in args.cases] or ALL_CASES, out, xens)
    print(f"\nsoak report: {soak.write(out, records)}")
    for r in records:
        print(
            f"  run {r.index:>3}: {r.outcome:<5} {r.seconds:6.0f}s  {r.variant.describe()}"
            + (f"  FLAKY: {len(r.errors)} error(s), {len(r.changed)} change(s)" if r.flaky else "")
        )
    print(soak.summary(records))
    return 0 if records and not any(r.flaky for r in records) else Outcome.ERROR.exit_code


def _positive(text: str) -> int:
    """A count of at least 1 (machines, runs, operations): 0 or -1 is a usage error, not a
    silently skipped share of the work."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: must be at least 1")
    return n


def _add_shard(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--shard", type=_shard, default=None, help=f"I/N: {what} (GitLab's CI_NODE_INDEX/CI_NODE_TOTAL when set)"
    )


def _xen(spec: str) -> str:
    """A --xen value that can name a Xen (sources.check): a typo, a text file or a
    truncated xen.gz is a usage error before anything is fetched, built or booted."""
    try:
        sources.check(spec)
    except SetupError as e:
        raise argparse.ArgumentTypeError(e.detail) from None
    return spec


def _xens(specs: str) -> str:
    for spec in specs.split(",") if specs else []:
        _xen(spec)
    return specs


def _vcpus(text: str) -> int:
    """Vcpus of a guest: at least 1, at most the guest's GUEST_MAX_VCPUS (it leaves more down)."""
    n = _positive(text)
    if n > lang.GUEST_MAX_VCPUS:
        raise argparse.ArgumentTypeError(f"{n}: a guest runs on at most {lang.GUEST_MAX_VCPUS} vcpus")
    return n


def _shard(text: str) -> shard.Shard:
    try:
        return shard.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _order(spec: str) -> str:
    try:
        order([], spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return spec


def _orders(specs: str) -> str:
    for spec in specs.split(","):
        _order(spec)
    return specs


def cmd_prepare(args: argparse.Namespace) -> int:
    arts, guest = prepare(args.xen)
    print(f"ready: {arts.describe()}; guest {guest}")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    """Re-read a saved serial log: the exchange, each problem as LOG:line: message, and a verdict."""
    lines = read_log(Path(args.log))
    print(format_exchange(lines))
    reports = parse(lines)
    outcome, problems = log_outcome(reports)
    for p in problems:
        where = f"{args.log}:{p.lineno}" if p.lineno else args.log
        print(f"{where}: {p.outcome.name}: {p.text}", file=sys.stderr)
    steps = [s for r in reports.values() for s in r.steps]
    failed = sum(not s.passed for s in steps)
    print(f"{outcome.name}: {len(reports)} domain(s), {len(steps)} steps, {failed} failed, {len(problems)} problem(s)")
    return outcome.exit_code


def cmd_bench(args: argparse.Namespace) -> int:
    if args.coverage_overhead:
        if _refuse_coverage(args.xen):
            return EXIT_USAGE
        for line in coverage_overhead(args.xen, [Path(p) for p in args.cases] or ALL_CASES, args.runs):
            print(line)
        return 0
    xens = args.xens.split(",") if args.xens else []
    for line in bench(args.xen, [Path(p) for p in args.cases] or ALL_CASES, args.runs, xens):
        print(line)
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
        type=_xen,
        help=sources.help_text(),
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot Xen, run cases in guest domains, print the exchange and a verdict")
    r.add_argument("cases", nargs="*", help="case files (default: cases/interdomain.evt)")
    r.add_argument("--fresh", action="store_true", help="run every case in fresh domains")
    r.add_argument("--jobs", type=_positive, default=1, help="machines to run at once, the groups dealt out among them")
    r.add_argument("--cold", action="store_true", help="boot Xen and dom0 instead of restoring a saved machine")
    r.add_argument(
        "--direct",
        action="store_true",
        help="the cases of one domain with xl's defaults, each in a boot of its own with our guest as Xen's dom0 "
        "(no dom0 kernel, no toolstack: as XTF runs a test); the others are named and not run",
    )
    r.add_argument("--order", default="file", type=_order, help=f"order of the cases: {', '.join(ORDERS)}")
    _add_shard(r, "run shard I of N of the suite; `merge` joins them")
    r.add_argument("--out", default="", help="where the serial logs and reports go (default build/runs/<time>)")
    r.add_argument(
        "--update-baseline", action="store_true", help="write the Xen's baseline (baselines/<x.y>.txt) from this run"
    )
    r.add_argument(
        "--coverage",
        action="store_true",
        help="XEN=src:<tree> (orchestrator/sources: coverage=True) only: build its hypervisor with "
        "CONFIG_COVERAGE=y and report which lines the cases "
        "ran (build/coverage/<time>/)",
    )
    c = sub.add_parser("compare", help="run cases warm in two orders and fresh; list every step that differs")
    c.add_argument("cases", nargs="*", help="case files (default: cases/*.evt)")
    c.add_argument("--orders", default="file,random", type=_orders, help="the warm runs' orders, comma-separated")
    sub.add_parser("prepare", help="fetch Xen, the dom0 kernel and toolstack; build the guest")
    mg = sub.add_parser(
        "merge", help="join shards' reports (run --shard) or a fuzz campaign's (fuzz --shard) into one verdict"
    )
    mg.add_argument("dirs", nargs="+", help="each shard's output folder (or its conformance.json or fuzz.json)")
    mg.add_argument("--total", type=_positive, default=None, help="how many shards there were (default: as they say)")
    mg.add_argument("--out", default="", help="where the merged report goes (default build/merged/<time>)")
    ag = sub.add_parser(
        "agree",
        help="do two reports (a merge's, a run's or a fuzz campaign's) have the same cases, outcomes and steps?",
    )
    ag.add_argument("a", help="an output folder (conformance.json or fuzz.json), e.g. a merge's")
    ag.add_argument("b", help="another, e.g. one run's of the same cases or seeds")
    ag.add_argument(
        "--verdicts",
        action="store_true",
        help="hold each step row by its verdict alone (a `run --direct` against a normal run: ports and ids differ)",
    )
    ag.add_argument("--subset", action="store_true", help="B ran some of A's cases: compare those only")
    sk = sub.add_parser("soak", help="run the suite again and again as CI runners meet it; every verdict held steady")
    sk.add_argument("--runs", type=_positive, default=10, help="how many runs (variants taken in turn)")
    sk.add_argument("--xens", default="", help="only the variants of these Xens, comma-separated (default: all)")
    sk.add_argument("cases", nargs="*", help="case files (default: cases/*.evt)")
    mx = sub.add_parser("matrix", help="run the cases against several Xens and compare the results")
    mx.add_argument("cases", nargs="*", help="case files (default: cases/*.evt)")
    mx.add_argument("--xens", default="bookworm,trixie", type=_xens, help="comma-separated suites or hypervisor files")
    b = sub.add_parser(
        "bench", help="time the suite warm and fresh, boot, domain creation, cases and event round trips"
    )
    b.add_argument("cases", nargs="*", help="the suite to time (default: cases/*.evt)")
    b.add_argument("--runs", type=_positive, default=3, help="warm suite runs and bench/rtt.evt runs, a boot each")
    b.add_argument(
        "--xens", default="", type=_xens, help="also time the whole suite against each of these (matrix columns)"
    )
    b.add_argument(
        "--coverage-overhead",
        action="store_true",
        help="XEN=src:<tree> only: the cases on its hypervisor built as usual and with CONFIG_COVERAGE=y, "
        "--runs times each, alternating; both times and their ratio (build/bench/coverage-overhead.json)",
    )
    bs = sub.add_parser(
        "bisect-step", help="for git bisect run: exit 0 if the cases pass, 1 if one fails, 125 if it cannot tell"
    )
    bs.add_argument("cases", nargs="*", help="case files (default: cases/*.evt)")
    fz = sub.add_parser("fuzz", help="random event channel operations against a model of Xen, a seed per domain")
    fz.add_argument("--seed", default="1", help="the seed (a run replays exactly from it)")
    fz.add_argument("--seeds", default="", help="a campaign: seeds as 1-1000 or 1,5,9-12 (instead of --seed)")
    _add_shard(fz, "every N-th seed of the campaign from the I-th on")
    fz.add_argument("--out", default="", help="where the serial logs and found cases go (default build/fuzz/<time>)")
    fz.add_argument("--ops", type=_positive, default=fuzz.DEFAULT_OPS, help="operations per seed")
    fz.add_argument("--vcpus", type=_vcpus, default=2, help="vcpus fuzzing at once in each domain (1: exact replay)")
    fz.add_argument("--jobs", type=_positive, default=1, help="machines to spread the seeds over")
    fz.add_argument("--abi", choices=fuzz.ABIS, default="2l", help="the event channel ABI each run starts on")
    fz.add_argument(
        "--domains", type=int, choices=(1, 2), default=1, help="2: two domains fuzz at once, with channels between them"
    )
    fz.add_argument(
        "--no-shrink",
        dest="shrink",
        action="store_false",
        help="leave findings of several vcpus or domains as they are (shrinking runs the seed again, minutes each)",
    )
    fz.add_argument(
        "--coverage",
        action="store_true",
        help="XEN=src:<tree> only: a coverage build, its counters read after each seed; the report, the seeds "
        "that reached new lines (corpus.txt) and a plot of lines against operations (build/coverage/<time>/)",
    )
    fz.add_argument(
        "--direct",
        action="store_true",
        help="each seed in a Xen boot of its own with our guest as dom0 (no dom0 kernel, no toolstack, as "
        "`run --direct`); one domain; a Xen that goes down costs its seed alone",
    )
    cv = sub.add_parser(
        "coverage",
        help="XEN=src:<tree> only: the suite, then a fuzz campaign, with Xen's coverage counters: a report of "
        "each and of both together, the corpus, a plot (build/coverage/<time>/)",
    )
    cv.add_argument("cases", nargs="*", help="the suite's case files (default: cases/*.evt)")
    cv.add_argument("--seeds", default=COVERAGE_SEEDS, help="the campaign's seeds, as 1-8 or 1,5,9-12")
    cv.add_argument("--ops", type=_positive, default=COVERAGE_OPS, help="operations per seed")
    cv.add_argument("--vcpus", type=_vcpus, default=2, help="vcpus fuzzing at once in each domain")
    cv.add_argument("--abi", choices=fuzz.ABIS, default="2l", help="the event channel ABI each seed starts on")
    cv.add_argument("--domains", type=int, choices=(1, 2), default=1, help="2: two domains fuzz at once")
    cv.set_defaults(seed="", shard=None, jobs=1)
    pa = sub.add_parser("parse", help="parse a saved serial log")
    pa.add_argument("log")
    ck = sub.add_parser("check", help="check case files as the guests will read them, without booting")
    ck.add_argument("files", nargs="+", help="case files")
    args = p.parse_args(argv)
    commands = {
        "run": cmd_run,
        "prepare": cmd_prepare,
        "bench": cmd_bench,
        "parse": cmd_parse,
        "matrix": cmd_matrix,
        "soak": cmd_soak,
        "merge": cmd_merge,
        "agree": cmd_agree,
        "compare": cmd_compare,
        "check": cmd_check,
        "fuzz": cmd_fuzz,
        "coverage": cmd_coverage,
        "bisect-step": cmd_bisect_step,
    }
    try:
        return commands[args.cmd](args)
    except LogError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessError as e:
        # Before any case could run (set-up, boot): an ERROR, or a CRASH when Xen itself went down.
        print(f"\n{e.outcome.name}: {e}", file=sys.stderr)
        return e.outcome.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted; QEMU stopped", file=sys.stderr)
        return 130
