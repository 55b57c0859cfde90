"""The fuzz command's pure parts: seeds, its cases, its EVT lines, and how a campaign sums up."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator import cli, direct, fuzz, lang
from orchestrator.cases.parse import load
from orchestrator.cases.plan import Group, plan
from orchestrator.errors import HarnessError, SetupError, XenPanic
from orchestrator.fuzz import (
    Campaign,
    case_text,
    collect,
    concurrent_found_case,
    found_case,
    parse_seeds,
    report,
    smallest_ops,
)
from orchestrator.pipeline import SuiteRun
from orchestrator.results import DomainReport, FuzzRun, GroupResult, ParseError, parse, parse_fuzz

FUZZ = "seed=7 vcpus=1 ops=100000 mismatches=0 ns=210000000 valid=256 open=82 fifo_ops=0 switches=0 cross=0 raced=0"


def fuzz_line(seed: int, ops: int = 100000, mismatches: int = 0) -> str:
    return (
        f"FUZZ seed={seed} vcpus=1 ops={ops} mismatches={mismatches} ns=210000000 valid=256 open=82 "
        "fifo_ops=0 switches=0 cross=0 raced=0"
    )


def test_seeds_single_ranges_and_lists() -> None:
    assert parse_seeds("5") == [5]
    assert parse_seeds("1-4") == [1, 2, 3, 4]
    assert parse_seeds("9,1-3,2") == [9, 1, 2, 3]


@pytest.mark.parametrize("text", ["", "x", "5-1", "1-2000000", "-3", "1,,2"])
def test_bad_seeds_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_seeds(text)


def test_a_seed_is_a_case_the_checker_accepts(tmp_path: Path) -> None:
    path = tmp_path / "f.evt"
    path.write_text(case_text(3, 1000) + case_text(4, 2_000_000) + case_text(5, 1000, 2, "fifo"))
    cases = load([path])
    assert [c.name for c in cases] == ["fuzz-3", "fuzz-4", "fuzz-5"]
    assert cases[1].timeout > cases[0].timeout  # more operations, more time
    assert [s.op for s in cases[0].steps] == ["fuzz"]
    assert [s.op for s in cases[2].steps] == ["fifo_init", "fuzz"]  # the ABI it starts on
    assert all(err is None for _, err in lang.check_script(b"case x\n1 fuzz 3 1000 -> ok 0\nend\n"))


def test_fuzz_lines_are_parsed_and_a_finding_is_kept() -> None:
    rep = parse(
        [
            "[g1-A] EVT CASE-BEGIN fuzz-7 reset",
            "[g1-A] EVT FUZZ-MISMATCH seed=7 op=431 what=port port=2 model=64 xen=65",
            "[g1-A] EVT FUZZ-LAST op=430 close(64, 0) model=-22 xen=-22",
            "[g1-A] EVT FUZZ-PORT port=64 model=closed xen=rc:0,status:1",
            f"[g1-A] EVT FUZZ {FUZZ.replace('mismatches=0', 'mismatches=1')}",
        ]
    )["g1-A"]
    assert rep.garbled == []
    assert rep.fuzz == [FuzzRun("g1-A", 7, 1, 100000, 1, 210000000, 256, 82, 0, 0, 0, 0)]
    assert [d.split()[0] for d in rep.fuzz_details] == ["FUZZ-MISMATCH", "FUZZ-LAST", "FUZZ-PORT"]


@pytest.mark.parametrize(
    ("rest", "why"),
    [
        ("", "no fields"),
        (FUZZ.replace("ops=100000", "ops=x"), "ops must be a decimal"),
        (FUZZ.replace(" open=82", ""), "missing field open"),
        (FUZZ.replace(" switches=0", ""), "missing field switches"),
        (FUZZ.replace(" raced=0", ""), "missing field raced"),
        (FUZZ + " seed=8", "repeated field seed"),
    ],
)
def test_malformed_fuzz_line_names_what_is_wrong(rest: str, why: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse_fuzz("g1-A", rest)
    assert str(exc.value).startswith(f"malformed FUZZ line from g1-A: {why}")


def _run(
    tmp_path: Path, seeds: list[int], lines: dict[int, list[str]], errors: dict[int, HarnessError]
) -> list[GroupResult]:
    path = tmp_path / "f.evt"
    path.write_text("".join(case_text(s, 1000) for s in seeds))
    groups: list[GroupResult] = []
    for g in plan(load([path]), fresh=True):
        seed = int(g.cases[0].name.removeprefix("fuzz-"))
        res = GroupResult(Group(g.index, g.config, g.cases))
        name = f"g{g.index}-A"
        res.reports["A"] = parse([f"[{name}] EVT {ln}" for ln in lines.get(seed, [])]).get(name, DomainReport(name))
        res.error = errors.get(seed)
        groups.append(res)
    return groups


def test_a_campaign_sums_runs_and_names_each_finding(tmp_path: Path) -> None:
    ok = ["BOOT domid=1", fuzz_line(1)]
    bad = ["BOOT domid=2", "FUZZ-MISMATCH seed=2 op=5 what=rc", fuzz_line(2, ops=6, mismatches=1)]
    campaign = Campaign([1, 2], 100000)
    assert collect(campaign, _run(tmp_path, [1, 2], {1: ok, 2: bad}, {}), {}) == []
    assert (campaign.total_ops, campaign.mismatches, campaign.crashes) == (100006, 1, [])
    text = report(campaign, "1-2")
    assert "seed 2: Xen and the model disagree (replay, exactly: make fuzz SEED=2 OPS=100000 VCPUS=1 ABI=2l)" in text
    assert text.splitlines()[-1] == "FUZZ: 100006 ops, 1 mismatches, 0 Xen crashes, seed 1-2"


def test_a_xen_crash_counts_once_and_the_seeds_after_it_run_again(tmp_path: Path) -> None:
    panic = XenPanic("(XEN) Panic on CPU 0: ...")
    ok = ["BOOT domid=1", fuzz_line(1)]
    campaign = Campaign([1, 2, 3], 1000)
    lost = collect(campaign, _run(tmp_path, [1, 2, 3], {1: ok, 2: ["BOOT domid=2"]}, {2: panic, 3: panic}), {})
    assert lost == [3] and [s for s, _ in campaign.crashes] == [2]
    assert report(campaign, "1-3").splitlines()[-1] == "FUZZ: 100000 ops, 0 mismatches, 1 Xen crashes, seed 1-3"


def test_a_seed_without_its_fuzz_line_is_a_harness_error(tmp_path: Path) -> None:
    campaign = Campaign([4], 1000)
    collect(campaign, _run(tmp_path, [4], {4: ["BOOT domid=1"]}, {}), {})
    assert campaign.errors == [(4, "the guest printed no EVT FUZZ line")]


def test_a_shrunk_finding_becomes_a_case_the_checker_accepts(tmp_path: Path) -> None:
    details = [
        "FUZZ-MISMATCH seed=5 vcpu=0 op=5 what=rc port=3 model=0 xen=-107",
        "FUZZ-SHRUNK seed=5 from=6 to=2",
        "FUZZ-STEP A alloc_unbound self self -> ok",
        "FUZZ-STEP A send 3 -> ok",
    ]
    text = found_case(5, 20000, details, {"xen_version": "4.17.5", "build_id": "ef2a"})
    assert text is not None and "make fuzz SEED=5 OPS=20000 VCPUS=1 ABI=2l` on Xen 4.17.5" in text
    path = tmp_path / "found.evt"
    path.write_text(text)
    (case,) = load([path])
    assert case.fresh and [(s.op, s.args, s.expect) for s in case.steps] == [
        ("alloc_unbound", ("self", "self"), ("ok",)),
        ("send", ("3",), ("ok",)),
    ]
    assert found_case(5, 1, details[:2], {}) is None  # not shrunk: no case


class Race:
    """A made-up race: met in `hits` of the tries at `threshold` operations or more."""

    def __init__(self, threshold: int, hits: int = 2) -> None:
        self.threshold, self.hits, self.probed = threshold, hits, []  # type: tuple[int, int, list[int]]

    def __call__(self, ops: int) -> int:
        self.probed.append(ops)
        return self.hits if ops >= self.threshold else 0


def test_a_concurrent_finding_is_halved_then_bisected_to_near_its_threshold() -> None:
    race = Race(threshold=37_000)
    assert smallest_ops(race, 300_000, deadline=float("inf")) == (37_500, 2)
    assert race.probed[:5] == [300_000, 150_000, 75_000, 37_500, 18_750]
    assert all(n >= 18_750 for n in race.probed[5:])  # then between what met it and what did not


def test_a_concurrent_finding_not_met_again_is_not_shrunk_and_time_ends_the_search() -> None:
    assert smallest_ops(Race(threshold=10**9), 300_000, deadline=float("inf")) is None
    ticks = iter(range(100))
    race = Race(threshold=1)
    assert smallest_ops(race, 300_000, deadline=2, clock=lambda: next(ticks)) == (75_000, 2)
    assert race.probed == [300_000, 150_000, 75_000]


@pytest.mark.parametrize("domains", [1, 2])
def test_a_concurrent_finding_becomes_a_case_the_checker_accepts(tmp_path: Path, domains: int) -> None:
    campaign = Campaign([7], 300_000, vcpus=2, abi="fifo", domains=domains, xen={"xen_version": "4.20.4"})
    mismatch = "FUZZ-MISMATCH seed=7 vcpu=1 op=51999 what=upcalls port=100 model=46 xen=47"
    text = concurrent_found_case(campaign, 7, 37_500, 2, mismatch, 300_000)
    assert "`make fuzz SEED=7 OPS=300000 VCPUS=2 ABI=fifo" in text and "2 of 3 fresh runs" in text
    path = tmp_path / "found.evt"
    path.write_text(text)
    (case,) = load([path])
    assert case.name == "fuzz-found-7" and case.fresh and case.config.vcpus == 2
    fuzz_steps = [s for s in case.steps if s.op in ("fuzz", "fuzz_with")]
    assert [s.args[:2] for s in fuzz_steps] == [("7", "37500"), ("1000000007", "37500")][:domains]


def test_a_two_domain_finding_is_shrunk_once_and_a_failed_shrink_keeps_the_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's and B's finding of one run make one shrink; a shrink that fails is logged, and
    the campaign it came from is still reported."""
    bad = ["BOOT domid=1", "FUZZ-MISMATCH seed=3 op=5 what=rc", fuzz_line(3, ops=6, mismatches=1)]
    groups = _run(
        tmp_path, [3, 4], {3: bad, 4: ["BOOT domid=2", "FUZZ-MISMATCH seed=4 op=9 what=rc", fuzz_line(4)]}, {}
    )
    groups[0].reports["B"] = groups[0].reports["A"]  # B met it too
    run = SuiteRun(SimpleNamespace(info={"xen_version": "4.17.7"}), groups, [], 0.0)  # type: ignore[arg-type]
    monkeypatch.setattr(fuzz, "run_all", lambda *a, **k: run)
    monkeypatch.setattr(fuzz, "load_cases", lambda *a, **k: [])
    shrunk: list[int] = []

    def shrink(arts: object, guest: object, campaign: Campaign, seed: int, details: list[str], out: Path) -> None:
        shrunk.append(seed)
        if seed == 3:
            raise SetupError("QEMU would not start")

    monkeypatch.setattr(fuzz, "shrink_concurrent", shrink)
    campaign = fuzz.run_campaign(None, tmp_path, [3, 4], 1000, tmp_path, vcpus=2, domains=2)  # type: ignore[arg-type]
    assert shrunk == [3, 4]
    assert [seed for seed, _ in campaign.findings] == [3, 3, 4] and campaign.found_cases == []


class _Ran(Exception):
    pass


@pytest.mark.parametrize(
    ("argv", "env", "seeds"),
    [
        (["--seeds", "1-7", "--shard", "2/3"], {}, [2, 5]),
        (["--seeds", "1-7"], {"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, [3, 6]),
        (["--seeds", "1-7"], {}, list(range(1, 8))),
    ],
)
def test_a_shard_of_a_campaign_runs_every_nth_seed(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], seeds: list[int]
) -> None:
    for key in ("CI_NODE_INDEX", "CI_NODE_TOTAL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ran: list[int] = []

    def run_campaign(_arts: object, _guest: object, picked: list[int], *_: object, **__: object) -> None:
        ran.extend(picked)
        raise _Ran

    monkeypatch.setattr(cli, "prepare", lambda *_: (None, None))
    monkeypatch.setattr(fuzz, "run_campaign", run_campaign)
    with pytest.raises(_Ran):
        cli.main(["fuzz", *argv])
    assert ran == seeds


def test_a_shard_without_seeds_is_refused_before_a_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "prepare", lambda *_: pytest.fail("prepared"))
    assert cli.main(["fuzz", "--seeds", "1-2", "--shard", "3/3"]) == cli.EXIT_USAGE


def test_a_coverage_builds_seed_gets_a_budget_for_its_slower_rate(tmp_path: Path) -> None:
    path = tmp_path / "f.evt"
    path.write_text(case_text(1, 100_000) + fuzz.coverage_case_text(2, 100_000, 2, "fifo"))
    plain, counted = load([path])
    assert (plain.timeout, counted.timeout) == (30 + 100_000 // 20_000, 30 + 100_000 // 500)
    assert [s.op for s in counted.steps] == ["fifo_init", "fuzz"]


def test_a_direct_campaign_boots_each_seed_with_our_guest_as_dom0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fuzz --direct`: a boot per seed (direct.run_case), no machine to lose: a Xen that goes
    down costs its seed alone, and each such seed is a crash of its own."""
    booted: list[int] = []

    def run_case(arts: object, guest: object, cmdline: str, group: Group, out: Path) -> GroupResult:
        seed = int(group.cases[0].name.removeprefix("fuzz-"))
        booted.append(seed)
        assert cmdline == "console=com1"
        res = GroupResult(group)
        lines = ["BOOT domid=0 xen=4.17.7", fuzz_line(seed)] if seed != 2 else ["BOOT domid=0 xen=4.17.7"]
        res.reports["A"] = parse([f"[g1-A] EVT {ln}" for ln in lines])["g1-A"]
        res.error = XenPanic("(XEN) Panic on CPU 0: ...") if seed in (2, 3) else None
        return res

    monkeypatch.setattr(direct, "run_case", run_case)
    monkeypatch.setattr(fuzz, "load_cases", lambda arts, paths: load(paths))
    monkeypatch.setattr(fuzz, "run_all", lambda *a, **k: pytest.fail("no dom0 machine in a direct campaign"))
    campaign = fuzz.run_campaign(None, tmp_path, [1, 2, 3], 1000, tmp_path, direct_cmdline="console=com1")  # type: ignore[arg-type]
    assert booted == [1, 2, 3] and [s for s, _ in campaign.crashes] == [2, 3]
    assert campaign.total_ops == 200000 and campaign.xen["xen_version"] == "4.17.7"  # seeds 1 and 3 said theirs
