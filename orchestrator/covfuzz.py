"""A fuzz campaign measured by coverage (`fuzz --coverage`, `make coverage`): the lines of
Xen's event channel code each seed reached first, the seeds kept for them (the corpus,
as syzkaller keeps a program that adds coverage), and lines covered against operations run.

The counters are reset once each machine's dom0 is up and read after each seed
(fuzz.SeedDump: all the machine counted since). Each read becomes the set of lines run in
coverage.MAIN_FILES (coverage.trace of their objects alone, a fraction of a second); what
a seed added is what no earlier read had. Everything from there on is set arithmetic on
those sets (gains, corpus, curve), tested without Xen; the plot is drawn from it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import coverage, log
from .coverage import MAIN_FILES, DumpError, FileCoverage
from .errors import HarnessError
from .fuzz import PEER_SEED, Campaign, SeedDump, case_text

Lines = Mapping[str, frozenset[int]]  # by file (MAIN_FILES), the numbers of the lines executed


@dataclass(frozen=True)
class SeedRead:
    """The lines run so far on the seed's machine, read after it."""

    seed: int | None  # None: the machine's last read, after its last seed
    ops: int  # the operations the seed ran, every domain's
    lines: Lines | None  # None: not read (its lines count with the machine's next read)


@dataclass(frozen=True)
class Gain:
    """What one read added to the campaign."""

    seed: int | None
    ops: int  # the seed's own operations
    total_ops: int  # the campaign's, up to and including this seed
    new: dict[str, frozenset[int]]  # lines no earlier read had, by file
    covered: dict[str, int]  # the campaign's lines so far, by file
    read: bool

    @property
    def new_lines(self) -> int:
        return sum(len(v) for v in self.new.values())


def gains(reads: Iterable[SeedRead], files: Sequence[str] = MAIN_FILES) -> list[Gain]:
    """Each read's lines that no earlier read had. A machine's counters only grow, so the
    union of every read so far is the union of each machine's latest: a replacement
    machine (counting from zero) adds only what none before it ran."""
    seen: dict[str, frozenset[int]] = {f: frozenset() for f in files}
    total = 0
    out: list[Gain] = []
    for r in reads:
        total += r.ops
        lines = r.lines or {}
        new = {f: lines.get(f, frozenset()) - seen[f] for f in files}
        seen = {f: seen[f] | new[f] for f in files}
        out.append(Gain(r.seed, r.ops, total, new, {f: len(seen[f]) for f in files}, r.lines is not None))
    return out


def corpus(all_gains: Iterable[Gain]) -> list[Gain]:
    """The seeds that reached a line no earlier seed had: the ones kept."""
    return [g for g in all_gains if g.seed is not None and g.new_lines]


def reached(all_gains: Iterable[Gain], files: Sequence[str] = MAIN_FILES) -> dict[str, frozenset[int]]:
    """Every line the campaign ran, by file."""
    out: dict[str, frozenset[int]] = {f: frozenset() for f in files}
    for g in all_gains:
        out = {f: out[f] | g.new.get(f, frozenset()) for f in files}
    return out


@dataclass(frozen=True)
class Curve:
    """The plot's data: lines covered after each read against the operations run so far."""

    ops: list[int]  # x: 0 (just reset), then after each read
    campaign: dict[str, list[int]]  # the campaign's lines, by file
    totals: dict[str, int]  # the lines each file has
    suite: dict[str, int] | None = None  # the suite's lines, by file (flat: it ran before)
    union: dict[str, list[int]] | None = None  # the suite's and the campaign's so far together


def curve(
    all_gains: Sequence[Gain], totals: Mapping[str, int], suite: Lines | None = None, files: Sequence[str] = MAIN_FILES
) -> Curve:
    ops = [0, *(g.total_ops for g in all_gains)]
    campaign = {f: [0, *(g.covered[f] for g in all_gains)] for f in files}
    if suite is None:
        return Curve(ops, campaign, dict(totals))
    union: dict[str, list[int]] = {}
    for f in files:
        have = set(suite.get(f, frozenset()))
        points = [len(have)]
        for g in all_gains:
            have |= g.new[f]
            points.append(len(have))
        union[f] = points
    return Curve(ops, campaign, dict(totals), {f: len(suite.get(f, frozenset())) for f in files}, union)


def by_function(new: Mapping[str, frozenset[int]], function_of: Mapping[str, Callable[[int], str]]) -> list[str]:
    """`name (lines)` for each function the new lines are in, most lines first."""
    counts: dict[str, int] = {}
    for f, lines in new.items():
        for n in lines:
            name = function_of[f](n) if f in function_of else "?"
            counts[name] = counts.get(name, 0) + 1
    return [f"{name} ({n})" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def format_corpus(
    all_gains: Sequence[Gain], function_of: Mapping[str, Callable[[int], str]], head: Sequence[str] = ()
) -> str:
    """corpus.txt: a line per seed kept (seed, its operations, its new lines in all and per
    file, the functions they are in); then the seeds whose counters could not be read."""
    names = [Path(f).name for f in MAIN_FILES]
    rows = [
        *(f"# {h}" for h in head),
        "# seed\tops\tnew\t" + "\t".join(names) + "\tfunctions (new lines)",
    ]
    for g in corpus(all_gains):
        per_file = "\t".join(str(len(g.new[f])) for f in MAIN_FILES)
        rows.append(f"{g.seed}\t{g.ops}\t{g.new_lines}\t{per_file}\t{', '.join(by_function(g.new, function_of))}")
    for g in all_gains:
        if not g.read:
            rows.append(f"# seed {g.seed}: its counters could not be read; its lines count with the next read")
        elif g.seed is None and g.new_lines:
            rows.append(f"# after the last seed (its domain's shutdown checked): {g.new_lines} new line(s)")
    return "\n".join(rows) + "\n"


def plot(c: Curve, path: Path, title: str) -> None:
    """Lines covered against operations run, a panel per file: the campaign's, and with a
    suite its level and the two together."""
    import matplotlib

    matplotlib.use("Agg")  # a file, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    files = list(c.campaign)
    fig, axes = plt.subplots(1, len(files), figsize=(5.2 * len(files), 4.4), squeeze=False, layout="constrained")
    for ax, f in zip(axes[0], files, strict=True):
        total = c.totals[f]

        def label(what: str, n: int, total: int = total) -> str:
            return f"{what}: {n}/{total} ({100 * n / total:.1f} %)" if total else f"{what}: {n}"

        ax.plot(c.ops, c.campaign[f], marker="o", markersize=3, label=label("fuzz campaign", c.campaign[f][-1]))
        if c.suite is not None:
            ax.axhline(c.suite[f], color="tab:gray", linestyle="--", label=label("suite", c.suite[f]))
        if c.union is not None:
            ax.plot(c.ops, c.union[f], marker="o", markersize=3, label=label("suite + campaign", c.union[f][-1]))
        ax.axhline(total, color="black", linewidth=0.8, linestyle=":", label=f"lines in the file: {total}")
        ax.set_title(Path(f).name)
        ax.set_xlabel("operations run (all seeds so far)")
        ax.set_ylabel("lines executed")
        ax.set_ylim(0, max(total, 1) * 1.08)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:.0f}k" if v else "0"))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- from a campaign's dumps to its report ----


def seed_ops(campaign: Campaign, seed: int | None) -> int:
    """A seed's operations, every domain's (B's stream has a seed of its own)."""
    if seed is None:
        return 0
    return sum(r.ops for r in campaign.runs if r.seed in (seed, seed + PEER_SEED))


def read_seeds(
    dumps: Sequence[SeedDump], ops: Callable[[int | None], int], build_dir: Path, tree: Path, scratch: Path
) -> tuple[list[SeedRead], dict[str, int]]:
    """Each dump's lines of MAIN_FILES, and the lines each file has. A dump that cannot be
    read is a seed without a read: it costs the figures that seed's attribution only."""
    reads: list[SeedRead] = []
    totals: dict[str, int] = {}
    with log.step(f"coverage: the lines of each of {len(dumps)} read(s) (gcovr, {len(MAIN_FILES)} files)"):
        for k, d in enumerate(dumps, start=1):
            lines: dict[str, frozenset[int]] | None = None
            if d.path is not None:
                try:
                    trace = coverage.main_trace(d.path, build_dir, tree, scratch, f"read-{k}")
                    lines = {}
                    for f in MAIN_FILES:
                        lines[f], every = coverage.lines_of(trace, f)
                        totals[f] = len(every)
                except (DumpError, HarnessError) as e:
                    log.info(f"coverage: seed {d.seed}'s read {d.path} could not be read: {str(e).splitlines()[0]}")
                    lines = None
            reads.append(SeedRead(d.seed, ops(d.seed), lines))
    return reads, totals


def last_per_machine(dumps: Sequence[SeedDump]) -> list[Path]:
    """Each machine's latest read: all it counted (what the report is made of)."""
    last: dict[str, Path] = {}
    for d in dumps:
        if d.path is not None:
            last[d.machine] = d.path
    return list(last.values())


@dataclass
class CampaignCoverage:
    files: list[FileCoverage]  # the campaign's report (gcovr)
    gains: list[Gain]
    curve: Curve
    disagree: list[str]  # files whose per-seed figure differs from the report's (a read lost)


def seeds_json(all_gains: Sequence[Gain], c: Curve) -> dict[str, Any]:
    """seeds.json: the measured per-seed data the corpus and the plot are made of."""
    return {
        "files": list(MAIN_FILES),
        "totals": c.totals,
        "suite": c.suite,
        "seeds": [
            {
                "seed": g.seed,
                "ops": g.ops,
                "total_ops": g.total_ops,
                "read": g.read,
                "covered": g.covered,
                "new": {f: sorted(v) for f, v in g.new.items()},
            }
            for g in all_gains
        ],
    }


def campaign_report(
    campaign: Campaign,
    spelled: str,
    build_dir: Path,
    tree: Path,
    out: Path,
    suite: Lines | None = None,
    plot_path: Path | None = None,
) -> CampaignCoverage:
    """The campaign's report in `out` (as a run's: index.html, cobertura.xml, summary.json,
    coverage.json, unreached.md) from each machine's last read, and from every read:
    seeds.json, corpus.txt, corpus/ (each seed kept, as a case to replay) and the plot
    (`plot_path`, default out/coverage.png; against `suite`'s lines when given)."""
    out.mkdir(parents=True, exist_ok=True)
    reads, totals = read_seeds(campaign.dumps, lambda s: seed_ops(campaign, s), build_dir, tree, out / "seeds")
    shutil.rmtree(out / "seeds", ignore_errors=True)
    all_gains = gains(reads)
    last = last_per_machine(campaign.dumps)
    for i, path in enumerate(last, start=1):  # beside the report: what it was made from
        shutil.copy2(path, out / f"xencov-{i}.dat")
    files = coverage.report(last, build_dir, tree, out, "a fuzz campaign's coverage")
    # Every per-seed dump but each machine's last is in the report now, and large.
    for d in campaign.dumps:
        if d.path is not None and d.path not in last:
            d.path.unlink(missing_ok=True)
    if not totals:  # no read could be made into lines: the report's own count of them
        totals = {f.path: f.lines[1] for f in files if f.path in MAIN_FILES}
    c = curve(all_gains, totals, suite)
    (out / "seeds.json").write_text(json.dumps(seeds_json(all_gains, c), indent=1) + "\n")
    trace = json.loads((out / "coverage.json").read_text())
    function_of = {f: coverage.function_of(trace, f) for f in MAIN_FILES}
    what = f"vcpus={campaign.vcpus} abi={campaign.abi} domains={campaign.domains}"
    replay = f"make fuzz SEED=<seed> OPS={campaign.ops} VCPUS={campaign.vcpus} ABI={campaign.abi}" + (
        " DOMAINS=2" if campaign.domains == 2 else ""
    )
    head = [
        f"Seeds {spelled}, {campaign.ops} operations each, {what}; Xen {campaign.xen.get('xen_version', '?')} "
        f"build-id {campaign.xen.get('build_id', '?')}.",
        f"Kept: each seed that ran a line of {', '.join(MAIN_FILES)} no earlier seed had.",
        f"Replay one: {replay} (the same operations; their interleaving only with VCPUS=1), or corpus/fuzz-<seed>.evt.",
    ]
    (out / "corpus.txt").write_text(format_corpus(all_gains, function_of, head))
    kept = out / "corpus"
    kept.mkdir(exist_ok=True)
    for g in corpus(all_gains):
        assert g.seed is not None
        text = case_text(g.seed, campaign.ops, campaign.vcpus, campaign.abi, campaign.domains, fresh=True)
        (kept / f"fuzz-{g.seed}.evt").write_text(text)
    title = f"Xen {campaign.xen.get('xen_version', '?')}: lines executed, fuzz seeds {spelled}"
    plot(c, plot_path or out / "coverage.png", title)
    final = reached(all_gains)
    disagree = [
        f"{f.path}: {len(final[f.path])} line(s) by the per-seed reads, {f.lines[0]} by the report"
        for f in files
        if f.path in final and len(final[f.path]) != f.lines[0]
    ]
    return CampaignCoverage(files, all_gains, c, disagree)
