"""`fuzz`: the guest's seeded event channel fuzzer (guest/fuzz/), a fresh domain per seed.

Each seed is a case of one `fuzz` step, run in a domain of its own so that the same seed
always issues the same operations. A mismatch between Xen and the model fails that case;
Xen going down (a panic, a fatal trap) loses the machine, and the seeds not yet run go on
in a new one. Ends with one line: ``FUZZ: <ops> ops, <mismatches> mismatches, <crashes>
Xen crashes, seed <seed>``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import direct, log
from .artifacts import Artifacts
from .cases.plan import Group, plan
from .errors import HarnessError, MachineDied, XenPanic
from .evtlines import TAG
from .outcome import Outcome, worst
from .pipeline import SuiteRun, load_cases, run_all
from .results import FuzzRun, GroupResult

DEFAULT_OPS = 100_000
FOUND = Path(__file__).resolve().parent.parent / "cases" / "found"  # shrunk findings
# The guest does about 500,000 operations a second under TCG: time to spare, and more.
OPS_PER_SECOND_FLOOR = 20_000
# ... but on a coverage build every counter update is a locked instruction: with 2 vcpus
# seeds ran at 1,016 to 30,011 ops/s on the busy 2-core host (docs/coverage.md).
COVERAGE_OPS_PER_SECOND_FLOOR = 500
SEEDS = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(text: str) -> list[int]:
    """`5`, `1-1000` or `1,7,9-12`: the seeds, in order, each once."""
    out: list[int] = []
    for part in text.split(","):
        m = SEEDS.match(part.strip())
        if m is None:
            raise ValueError(f"not a seed or a range of seeds: {part!r}")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo or hi - lo >= 1_000_000:
            raise ValueError(f"not a range of at most 1,000,000 seeds: {part!r}")
        out += [s for s in range(lo, hi + 1) if s not in out]
    return out


ABIS = ("2l", "fifo")  # the ABI a run starts on; with one vcpu it may switch (reset, init_control)


# With two domains, B's stream: a seed of its own, tied to A's.
PEER_SEED = 1_000_000_000


def case_text(
    seed: int,
    ops: int,
    vcpus: int = 1,
    abi: str = "2l",
    domains: int = 1,
    name: str = "",
    fresh: bool = False,
    rate: int = OPS_PER_SECOND_FLOOR,
) -> str:
    """The seed as a case of one `fuzz` step; `name` if not `fuzz-<seed>` (a repeat of it);
    `fresh` to say in the case itself that it wants domains of its own (a found case); its
    budget for at least `rate` operations a second."""
    budget = 30 + ops // rate
    head = f"case {name or f'fuzz-{seed}'}\n" + ("fresh\n" if fresh else "")
    if domains == 2:
        return _two_domains(seed, ops, vcpus, abi, budget, head)
    first = "A fifo_init -> ok\n" if abi == "fifo" else ""
    return (
        f"{head}"
        f"title   {ops} random operations on the domain's own event channels from seed {seed}, "
        f"by {vcpus} vcpu(s) at once, from the {abi} ABI, each checked against guest/fuzz/'s model of Xen\n"
        "domains A\n"
        f"vcpus   {vcpus}\n"
        f"timeout {budget}\n"
        "source  xen/common/event_channel.c: get_free_port(), evtchn_alloc_unbound(), evtchn_bind_interdomain(), "
        "evtchn_bind_virq(), evtchn_bind_ipi(), evtchn_close(), evtchn_send(), evtchn_status(), "
        "evtchn_bind_vcpu(), evtchn_unmask(), evtchn_reset(); xen/common/event_2l.c; xen/common/event_fifo.c\n\n"
        f"{first}A fuzz {seed} {ops} -> ok 0\n\n"
    )


def coverage_case_text(seed: int, ops: int, vcpus: int = 1, abi: str = "2l", domains: int = 1) -> str:
    """case_text with a coverage build's budget (COVERAGE_OPS_PER_SECOND_FLOOR)."""
    return case_text(seed, ops, vcpus, abi, domains, rate=COVERAGE_OPS_PER_SECOND_FLOOR)


def _two_domains(seed: int, ops: int, vcpus: int, abi: str, budget: int, head: str) -> str:
    """A and B fuzz at once, each also making channels with the other (fuzz_with)."""
    first = "A fifo_init -> ok\nB fifo_init -> ok\n" if abi == "fifo" else ""
    return (
        f"{head}"
        f"title   {ops} random operations in each of two domains at once from seed {seed} (B: "
        f"{seed + PEER_SEED}), by {vcpus} vcpu(s) each, from the {abi} ABI, with channels between them\n"
        "domains A B\n"
        f"vcpus   {vcpus}\n"
        f"timeout {budget}\n"
        "source  xen/common/event_channel.c: evtchn_alloc_unbound(), evtchn_bind_interdomain(), evtchn_send(), "
        "evtchn_close() (the other domain's end); guest/fuzz/ (K_CROSS)\n\n"
        f"{first}A fuzz_with {seed} {ops} @B -> ok 0 &\nB fuzz_with {seed + PEER_SEED} {ops} @A -> ok 0\n\n"
    )


@dataclass(frozen=True)
class SeedDump:
    """A campaign's coverage counters as read after a seed (fuzz --coverage): everything the
    machine counted since its reset, so a seed's own lines are those no earlier read had."""

    seed: int | None  # None: the machine's last read, after its last seed
    machine: str  # whose counters: "<campaign machine>.<session machine>", each from its own reset
    path: Path | None  # None: the seed ran, but its counters could not be read


@dataclass
class Campaign:
    seeds: list[int]
    ops: int
    vcpus: int = 1
    abi: str = "2l"
    domains: int = 1
    runs: list[FuzzRun] = field(default_factory=list)
    findings: list[tuple[int, list[str]]] = field(default_factory=list)  # (seed, FUZZ-* lines)
    found_cases: list[tuple[int, Path]] = field(default_factory=list)  # (seed, its shrunk finding as a case file)
    crashes: list[tuple[int, str]] = field(default_factory=list)  # (seed, Xen's message)
    errors: list[tuple[int, str]] = field(default_factory=list)  # the harness's, not Xen's
    crashes_seen: list[tuple[int, BaseException]] = field(default_factory=list)
    xen: dict[str, str] = field(default_factory=dict)  # the Xen under test, as the last machine said
    dumps: list[SeedDump] = field(default_factory=list)  # with coverage: a read per seed, in run order

    @property
    def total_ops(self) -> int:
        return sum(r.ops for r in self.runs)

    @property
    def mismatches(self) -> int:
        return sum(r.mismatches for r in self.runs)

    def summary(self, spelled: str) -> str:
        crashes = len(self.crashes)
        return f"FUZZ: {self.total_ops} ops, {self.mismatches} mismatches, {crashes} Xen crashes, seed {spelled}"


def _seed_of(group: Group) -> int:
    return int(group.cases[0].name.removeprefix("fuzz-"))


def first_mismatch(details: list[str]) -> str:
    """A finding's FUZZ-MISMATCH line, without the `B: ` that names the other domain's; "" if none."""
    return next((re.sub(r"^\w+: ", "", d) for d in details if re.match(rf"^(\w+: )?{TAG['FUZZ_MISMATCH']} ", d)), "")


def found_case(seed: int, ops: int, details: list[str], xen: dict[str, str], abi: str = "2l") -> str | None:
    """A shrunk finding (its FUZZ-STEP lines) as a case file, or None if it was not shrunk."""
    # Each is domain A's step (its WORD), then the step (its REST).
    step = f"{TAG['FUZZ_STEP']} "
    steps = [d.removeprefix(step) for d in details if d.startswith(step)]
    if not steps:
        return None
    mismatch = first_mismatch(details)
    shrunk = next((d for d in details if d.startswith(f"{TAG['FUZZ_SHRUNK']} ")), "")
    head = [
        f"# Found by `make fuzz SEED={seed} OPS={ops} VCPUS=1 ABI={abi}` on Xen {xen.get('xen_version', '?')}",
        f"# (build-id {xen.get('build_id', '?')}), {time.strftime('%Y-%m-%d')}; shrunk by guest/fuzz/shrink.c:",
        f"# {shrunk}",
        "# Each expectation is the fuzzer's model of xen/common/event_channel.c; the last step is",
        "# where Xen and the model disagreed:",
        f"# {mismatch}",
        "",
        f"case fuzz-found-{seed}",
        f"title   seed {seed}, shrunk: {len(steps)} step(s) where the Xen under test and the model disagree",
        "domains A",
        "fresh",
        "source  guest/fuzz/ (the model); xen/common/event_channel.c",
        "",
    ]
    return "\n".join(head + steps) + "\n"


def write_found(found_dir: Path, seed: int, xen: dict[str, str], text: str) -> Path:
    version = re.sub(r"[^\w.-]", "_", xen.get("xen_version", "unknown"))
    path = found_dir / f"fuzz-{seed}-xen-{version}.evt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- shrinking a finding of several vcpus or domains: by operation count ----

SHRINK_S = 180.0  # per finding, no new probe after it; what is left then is still a reproducer
SHRINK_TRIES = 3  # fresh runs per operation count: a race shows in some, not all
SHRINK_FLOOR = 500  # fewer operations than this are not worth a machine's time
WHAT = re.compile(r"\bwhat=(\S+)")


def smallest_ops(
    probe: Callable[[int], int], start: int, deadline: float, clock: Callable[[], float] = time.monotonic
) -> tuple[int, int] | None:
    """The fewest operations at which `probe` (how many of its tries met the mismatch)
    still meets it, halving from `start`, then bisecting the last step while there is
    time; with its hits. None if not even `start` met it again."""
    hits = probe(start)
    if not hits:
        return None
    best, lo = (start, hits), 0  # lo: the most operations known not to meet it
    n = start // 2
    while n >= SHRINK_FLOOR and clock() < deadline:
        hits = probe(n)
        if not hits:
            lo = n
            break
        best, n = (n, hits), n // 2
    while lo and best[0] - lo > max(best[0] // 8, SHRINK_FLOOR) and clock() < deadline:
        mid = (lo + best[0]) // 2
        hits = probe(mid)
        if hits:
            best = (mid, hits)
        else:
            lo = mid
    return best


def concurrent_found_case(campaign: Campaign, seed: int, ops: int, hits: int, mismatch: str, found_at: int) -> str:
    """A finding of several vcpus or domains as a case file: its seed at `ops` operations,
    which met the same kind of mismatch in `hits` of SHRINK_TRIES fresh runs."""
    at_once = f"VCPUS={campaign.vcpus} ABI={campaign.abi}" + (" DOMAINS=2" if campaign.domains == 2 else "")
    head = [
        f"# Found by `make fuzz SEED={seed} OPS={found_at} {at_once}` on Xen "
        f"{campaign.xen.get('xen_version', '?')}",
        f"# (build-id {campaign.xen.get('build_id', '?')}), {time.strftime('%Y-%m-%d')}. Several vcpus or domains at",
        "# once: the seed repeats each one's operations, not their interleaving, so the finding was",
        f"# shrunk by operation count (orchestrator/fuzz.py smallest_ops()): at {ops} operations",
        f"# {hits} of {SHRINK_TRIES} fresh runs met the same kind of mismatch again. It first said:",
        f"# {mismatch}",
        "",
    ]
    return "\n".join(head) + case_text(
        seed, ops, campaign.vcpus, campaign.abi, campaign.domains, name=f"fuzz-found-{seed}", fresh=True
    )


def shrink_concurrent(
    arts: Artifacts, guest: Path, campaign: Campaign, seed: int, details: list[str], out: Path
) -> Path | None:
    """Shrink one finding of several vcpus or domains to a case file in cases/found/."""
    mismatch = first_mismatch(details)
    what = WHAT.search(mismatch)
    runs = [r for r in campaign.runs if r.seed in (seed, seed + PEER_SEED) and r.mismatches]
    if what is None or not runs:
        return None
    start = max(r.ops for r in runs)  # the operations issued up to the mismatch (per domain)
    tag = f" what={what[1]} "

    def probe(ops: int) -> int:
        name = f"shrink-{seed}-{ops}"
        path = out / f"{name}.evt"
        path.write_text(
            "".join(
                case_text(seed, ops, campaign.vcpus, campaign.abi, campaign.domains, name=f"fuzz-{seed}-{ops}-try{k}")
                for k in range(SHRINK_TRIES)
            )
        )
        with log.step(f"fuzz: seed {seed} at {ops} operations, {SHRINK_TRIES} fresh runs"):
            run = run_all(arts, guest, load_cases(arts, [path]), out / name, fresh=True)
        return sum(any(tag in first_mismatch(rep.fuzz_details) + " " for rep in g.reports.values()) for g in run.groups)

    best = smallest_ops(probe, start, time.monotonic() + SHRINK_S)
    if best is None:
        log.info(f"fuzz: seed {seed} did not meet the mismatch again in {SHRINK_TRIES} runs: not shrunk")
        return None
    text = concurrent_found_case(campaign, seed, best[0], best[1], mismatch, campaign.ops)
    return write_found(FOUND, seed, campaign.xen, text)


def collect(
    campaign: Campaign, groups: list[GroupResult], xen: dict[str, str], found_dir: Path | None = None
) -> list[int]:
    """Take in one machine's results (`xen`: its Xen, as Session.info says it); the seeds
    it never ran because it was lost."""
    lost: list[int] = []
    for g in groups:
        seed = _seed_of(g.group)
        for role, other in g.reports.items():
            if role != "A":  # B's stream (fuzz_with): its run and its finding count too
                campaign.runs += [r for r in other.fuzz if r.seed == seed + PEER_SEED]
                if other.fuzz_details:
                    campaign.findings.append((seed, [f"{role}: {d}" for d in other.fuzz_details]))
        rep = g.reports.get("A")
        if rep is not None:
            campaign.runs += [r for r in rep.fuzz if r.seed == seed]
            if rep.fuzz_details:
                campaign.findings.append((seed, rep.fuzz_details))
                if found_dir is not None:
                    text = found_case(seed, campaign.ops, rep.fuzz_details, xen, campaign.abi)
                    if text is not None:
                        campaign.found_cases.append((seed, write_found(found_dir, seed, xen, text)))
        if isinstance(g.error, XenPanic | MachineDied):
            if lost or any(g.error is e for _, e in campaign.crashes_seen):
                lost.append(seed)  # the machine was already gone when this seed's turn came
            else:
                campaign.crashes.append((seed, str(g.error)))
                campaign.crashes_seen.append((seed, g.error))
        elif g.error is not None:
            campaign.errors.append((seed, str(g.error)))
        elif rep is not None and not any(r.seed == seed for r in rep.fuzz):  # A's line is the one asked for
            campaign.errors.append((seed, "the guest printed no EVT FUZZ line"))
    return lost


def seed_dumps(run: SuiteRun, machine: int, lost: list[int]) -> list[SeedDump]:
    """The coverage reads of one of the campaign's machines, a seed's each, in run order:
    a seed that ran without a read (it was lost, or the read failed) has none; a seed that
    never ran (its machine was already gone) is not there."""
    out: list[SeedDump] = []
    for session in run.sessions:
        by_group = {r.group: r for r in session.coverage_reads}
        mine = {g.index for g in session.groups}
        for g in run.groups:
            if g.group.index not in mine or _seed_of(g.group) in lost:
                continue
            read = by_group.get(g.group.index)
            label = f"{machine}.{read.machine}" if read else f"{machine}.?"
            out.append(SeedDump(_seed_of(g.group), label, read.path if read else None))
        out += [SeedDump(None, f"{machine}.{r.machine}", r.path) for r in session.coverage_reads if r.group is None]
    return out


def run_campaign(
    arts: Artifacts,
    guest: Path,
    seeds: list[int],
    ops: int,
    out: Path,
    vcpus: int = 1,
    jobs: int = 1,
    abi: str = "2l",
    text: Callable[[int, int, int, str, int], str] | None = None,
    domains: int = 1,
    shrink: bool = True,
    coverage: bool = False,
    direct_cmdline: str | None = None,
) -> Campaign:
    """The seeds, a fresh domain each (`text` writes each one's case: the harness's
    self-test adds a Xen panic to one); after a machine is lost, the rest in a new one.
    Then each finding of several vcpus or domains is shrunk (one vcpu's, the guest shrinks).
    `coverage` (a coverage build): the counters read after each seed (Campaign.dumps).
    `direct_cmdline`: each seed in a Xen boot of its own with our guest as dom0 (direct.py,
    Xen's command line given), no dom0 kernel, no toolstack; one domain only."""
    text = text or (coverage_case_text if coverage else case_text)
    campaign = Campaign(seeds, ops, vcpus, abi, domains)
    if direct_cmdline is not None:
        _run_direct(campaign, arts, guest, text, out, direct_cmdline)
        todo: list[int] = []
    else:
        todo = list(seeds)
    machine = 0
    while todo:
        machine += 1
        cases_file = out / f"fuzz-{machine}.evt"
        cases_file.parent.mkdir(parents=True, exist_ok=True)
        cases_file.write_text("".join(text(s, ops, vcpus, abi, domains) for s in todo))
        run = run_all(
            arts, guest, load_cases(arts, [cases_file]), out / f"machine-{machine}", fresh=True, jobs=jobs,
            coverage=coverage, coverage_each=coverage,
        )  # fmt: skip
        campaign.xen = run.session.info
        lost = collect(campaign, run.groups, run.session.info, FOUND)
        if coverage:
            campaign.dumps += seed_dumps(run, machine, lost)
        if lost and len(lost) == len(todo):
            break  # nothing ran on a new machine either: not Xen's doing
        if lost:
            log.info(f"fuzz: the machine went down; {len(lost)} seed(s) go on in a new one")
        todo = lost
    if shrink and (vcpus > 1 or domains == 2):
        shrunk: set[int] = set()
        for seed, details in list(campaign.findings):
            if seed in shrunk:
                continue  # A's and B's finding of one run: one shrink
            shrunk.add(seed)
            try:
                path = shrink_concurrent(arts, guest, campaign, seed, details, out)
            except HarnessError as e:  # the campaign's own results still stand
                log.info(f"fuzz: shrinking seed {seed} failed: {str(e).splitlines()[0]}")
                continue
            if path is not None:
                campaign.found_cases.append((seed, path))
    return campaign


def _run_direct(
    campaign: Campaign,
    arts: Artifacts,
    guest: Path,
    text: Callable[[int, int, int, str, int], str],
    out: Path,
    cmdline: str,
) -> None:
    """Each seed's case as `run --direct` runs a case: a boot each, so a Xen that goes down
    costs that seed alone. Xen's version comes from the guest's BOOT line, as there."""
    cases_file = out / "fuzz-direct.evt"
    cases_file.parent.mkdir(parents=True, exist_ok=True)
    cases_file.write_text("".join(text(s, campaign.ops, campaign.vcpus, campaign.abi, 1) for s in campaign.seeds))
    for group in plan(load_cases(arts, [cases_file]), fresh=True):
        with log.step(f"fuzz: seed {_seed_of(group)}, our guest as Xen's dom0"):
            result = direct.run_case(arts, guest, cmdline, group, out)
        if not campaign.xen and (xen := direct.booted_xen(result)):
            campaign.xen = {"xen_version": xen, "mode": "direct"}
        collect(campaign, [result], campaign.xen, FOUND)


def replay(campaign: Campaign, seed: int, xen: str = "") -> str:
    """The command that runs `seed` again as the campaign ran it (on `xen`, when given)."""
    line = "make fuzz" + (f" XEN={xen}" if xen else "")
    line += f" SEED={seed} OPS={campaign.ops} VCPUS={campaign.vcpus} ABI={campaign.abi}"
    return line + (" DOMAINS=2" if campaign.domains == 2 else "")


def report(campaign: Campaign, spelled: str) -> str:
    lines: list[str] = []
    for seed, details in campaign.findings:
        alone = campaign.vcpus == 1 and campaign.domains == 1
        exact = "exactly" if alone else "the same operations, not their interleaving"
        lines.append(f"\nseed {seed}: Xen and the model disagree (replay, {exact}: {replay(campaign, seed)})")
        lines += [f"  {d}" for d in details]
    for _, path in campaign.found_cases:
        lines.append(f"\nshrunk to a case file: {path} (run it: python -m orchestrator --xen <xen> run {path})")
    for seed, text in campaign.crashes:
        lines.append(f"\nseed {seed}: Xen went down:\n  " + text.replace("\n", "\n  "))
    for seed, text in campaign.errors:
        lines.append(f"\nseed {seed}: the harness failed, not counted: {text.splitlines()[0] if text else ''}")
    cross = sum(r.cross for r in campaign.runs)
    if campaign.domains == 2:
        lines.append(f"\n{cross} channel(s) made between the two domains while both fuzzed")
    if campaign.vcpus > 1:
        raced = sum(r.raced for r in campaign.runs)
        lines.append(f"\n{raced} send(s) on shared ports, racing their owners' binds, moves and closes")
    fifo_ops = sum(r.fifo_ops for r in campaign.runs)
    switches = sum(r.switches for r in campaign.runs)
    if campaign.total_ops:
        lines.append(
            f"\n{fifo_ops * 100 / campaign.total_ops:.0f}% of the operations on the FIFO ABI, "
            f"{switches} ABI switch(es) (init_control from 2-level, reset back)"
        )
    ns = sum(r.ns for r in campaign.runs)
    rate = f", {campaign.total_ops * 1e9 / ns:,.0f} ops/s in the guest" if ns else ""
    at_once = "one vcpu" if campaign.vcpus == 1 else f"{campaign.vcpus} vcpus at once (QEMU's multi-threaded TCG)"
    if campaign.domains == 2:
        at_once = f"two domains at once with channels between them, {at_once} each"
    lines.append(
        f"\n{len({r.seed for r in campaign.runs if r.seed < PEER_SEED})} of {len(campaign.seeds)} seed(s) ran, "
        f"{at_once}, from the {campaign.abi} ABI, "
        f"a domain each{rate}"
    )
    lines.append(campaign.summary(spelled))
    return "\n".join(lines)


@dataclass(frozen=True)
class SeedVerdict:
    """How one seed of a campaign ended, as a case would."""

    seed: int
    outcome: Outcome
    ops: int  # operations issued, both domains' streams together
    mismatches: int
    why: str  # the first line of what went wrong; "" for a PASS
    details: list[str]  # FUZZ-* lines, Xen's message or the harness's error


def seed_verdicts(campaign: Campaign) -> list[SeedVerdict]:
    """Each seed's outcome, in the campaign's order: Xen down is CRASH, a mismatch FAIL, a
    seed the harness could not run ERROR, and so is a seed with no result at all (its
    machine was lost and the next one never ran it): never a PASS."""
    out = []
    for seed in campaign.seeds:
        runs = [r for r in campaign.runs if r.seed in (seed, seed + PEER_SEED)]
        crashes = [text for s, text in campaign.crashes if s == seed]
        errors = [text for s, text in campaign.errors if s == seed]
        found = [d for s, lines in campaign.findings if s == seed for d in lines]
        mismatches = sum(r.mismatches for r in runs)
        if crashes:
            what, why, details = Outcome.CRASH, "Xen went down: " + crashes[0].split("\n")[0], crashes + found
        elif mismatches:
            what, why, details = Outcome.FAIL, first_mismatch(found) or "Xen and the model disagree", found
        elif errors:
            what, why, details = Outcome.ERROR, "the harness failed: " + errors[0].split("\n")[0], errors
        elif not any(r.seed == seed for r in runs):
            what, why, details = Outcome.ERROR, "no result: the seed never ran (its machine was lost)", []
        else:
            what, why, details = Outcome.PASS, "", []
        out.append(SeedVerdict(seed, what, sum(r.ops for r in runs), mismatches, why, details))
    return out


def outcome(campaign: Campaign) -> Outcome:
    """The campaign as a case's outcome: its worst seed's (ERROR if it had none)."""
    verdicts = seed_verdicts(campaign)
    return worst(v.outcome for v in verdicts) if verdicts else Outcome.ERROR
