"""orchestrator.bench: the figures, from made-up group results (no QEMU)."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.bench import (
    Figures,
    Sample,
    Spread,
    XenSuite,
    case_guest_seconds,
    case_wall_seconds,
    conformance_case_seconds,
    figures,
    first_line_seconds,
    format_figures,
    format_overhead,
    fuzz_rates,
    goal,
    overhead,
    rtt_figures,
    spread,
    stages,
    timeout_waits,
    write,
)
from orchestrator.cases.model import Case, Config, Step
from orchestrator.cases.plan import Group
from orchestrator.errors import HarnessError
from orchestrator.results import DomainReport, GroupResult, Rtt, parse


def group(index: int, names: list[str], seconds: float, first_lines: list[float] | None = None) -> GroupResult:
    cases = tuple(Case(n, Path("x.evt"), 1, domains=("A", "B")) for n in names)
    return GroupResult(
        Group(index, Config(("A", "B")), cases),
        run_seconds=seconds,
        create_to_first_line={f"D{i}": t for i, t in enumerate(first_lines or [])},
    )


def rtt(case: str, median: int, n: int = 2000) -> Rtt:
    return Rtt("g1-A", case, 17, n, 0, median // 2, median, median * 3, median * 10)


def test_spread() -> None:
    assert spread([]) is None
    assert spread([3.0, 1.0, 2.0]) == Spread(1.0, 2.0, 3.0, 3)
    assert spread([1.0, 4.0]) == Spread(1.0, 2.5, 4.0, 2)


def test_first_line_seconds_takes_every_domain_of_every_group() -> None:
    samples = [Sample(1.0, 1.0, [group(1, ["a"], 5.0, [6.0, 7.0]), group(2, ["b"], 5.0, [8.0])])]
    samples.append(Sample(1.0, 1.0, [group(1, ["a"], 5.0, [9.0])]))
    assert first_line_seconds(samples) == [6.0, 7.0, 8.0, 9.0]


def test_case_wall_seconds_shares_a_group_between_its_cases_and_skips_lost_groups() -> None:
    lost = group(3, ["d"], 100.0)
    lost.error = HarnessError("the machine went away")
    samples = [Sample(60.0, 12.0, [group(1, ["a", "b", "c"], 30.0), group(2, ["e"], 8.0), lost])]
    assert case_wall_seconds(samples) == [10.0, 10.0, 10.0, 8.0]


def test_case_guest_seconds_is_the_slowest_domain_of_each_case() -> None:
    g = group(1, ["a", "b", "never-ended"], 30.0)
    a = ["[g1-A] EVT CASE-END a pass=1 fail=0 us=400000", "[g1-A] EVT CASE-END b pass=1 fail=0 us=5"]
    g.reports["A"] = parse(a)["g1-A"]
    g.reports["B"] = parse(["[g1-B] EVT CASE-END a pass=1 fail=0 us=700000"])["g1-B"]
    assert case_guest_seconds([Sample(1.0, 1.0, [g])]) == [0.7, 5e-6]


def test_rtt_figures_spread_each_summary_over_the_runs() -> None:
    runs = []
    for median in (10000, 30000, 20000):
        g = group(1, ["rtt-same-vcpu", "rtt-cross-vcpu"], 10.0)
        g.reports["A"] = DomainReport("g1-A", rtts=[rtt("rtt-same-vcpu", median), rtt("rtt-cross-vcpu", median * 100)])
        g.reports["B"] = DomainReport("g1-B")  # the second side prints no RTT line
        runs.append(Sample(20.0, 12.0, [g]))
    figs = rtt_figures(runs)
    assert set(figs) == {"rtt-same-vcpu", "rtt-cross-vcpu"}
    same = figs["rtt-same-vcpu"]
    assert same.median_ns == Spread(10000, 20000, 30000, 3)
    assert same.min_ns == Spread(5000, 10000, 15000, 3)
    assert same.p99_ns == Spread(30000, 60000, 90000, 3)
    assert same.max_ns == Spread(100000, 200000, 300000, 3)
    assert same.round_trips == 6000
    assert figs["rtt-cross-vcpu"].median_ns == Spread(1000000, 2000000, 3000000, 3)


def made_up() -> Figures:
    warm = [
        Sample(100.0, 12.0, [group(1, ["a", "b"], 40.0, [6.0, 7.0])], dom0_commands=[0.01, 0.03]),
        Sample(120.0, 14.0, [group(1, ["a", "b"], 60.0, [8.0, 9.0])], ["b: FAIL"], [0.02]),
    ]
    warm[0].groups[0].setup_seconds = 0.5
    warm[1].groups[0].setup_seconds = 1.5
    fresh = [Sample(330.0, 13.0, [group(1, ["a"], 20.0, [10.0, 11.0]), group(2, ["b"], 22.0, [6.5, 6.6])])]
    g = group(1, ["rtt-same-vcpu"], 10.0, [7.5])
    g.reports["A"] = DomainReport("g1-A", rtts=[rtt("rtt-same-vcpu", 12000)])
    header = {"xen_version": "4.17.7", "build_id": "abc123"}
    others = {"trixie": XenSuite(150.0, 30, 29)}
    rtts = [Sample(30.0, 12.5, [g])]
    return figures("bookworm", header, "d", 2, warm, fresh, rtts, others, [2.0, 1.5, 2.5], [8.0, 9.0])


def test_figures_of_a_bench_run() -> None:
    f = made_up()
    assert f.suite_seconds == Spread(100.0, 110.0, 120.0, 2)
    assert f.suite_cases == 2 and f.runs == 2
    assert f.dom0_ready_s == Spread(12.0, 12.75, 14.0, 4)  # every boot: warm, fresh and rtt
    assert f.create_to_first_line_s == Spread(6.0, 7.5, 11.0, 9)
    assert f.case_median_s == Spread(20.0, 25.0, 30.0, 4)  # warm runs only
    assert f.fresh_seconds == Spread(330.0, 330.0, 330.0, 1)
    assert f.fresh_ratio == pytest.approx(3.0)
    assert f.rtt_ns["rtt-same-vcpu"].median_ns == Spread(12000, 12000, 12000, 1)
    assert f.not_passed == ["b: FAIL"]
    assert f.dom0_command_s == Spread(0.01, 0.02, 0.03, 3)  # every command of the warm runs
    assert f.group_setup_s == Spread(0.5, 1.0, 1.5, 2)


def test_no_ratio_without_both_runs() -> None:
    f = figures("bookworm", {}, "d", 0, [], [], [])
    assert f.fresh_ratio is None and f.suite_seconds is None and f.rtt_ns == {}
    assert "no data" in format_figures(f)[1]


def test_bench_json_has_the_keys_and_spreads(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "bench.json"
    write(path, made_up())
    data = json.loads(path.read_text())
    for key in (
        "suite_seconds", "dom0_ready_s", "create_to_first_line_s", "case_median_s", "fresh_seconds",
        "dom0_command_s", "group_setup_s",
    ):  # fmt: skip
        assert set(data[key]) == {"min", "median", "max", "n"}, key
    assert data["suite_cases"] == 2 and data["fresh_ratio"] == pytest.approx(3.0)
    assert data["header"]["build_id"] == "abc123" and data["date"] == "d"
    assert set(data["anchor_boot_s"]) == {"min", "median", "max", "n"}
    assert set(data["ratios"]) == {"suite", "conformance_case", "make_run"}
    assert set(data["rtt_ns"]["rtt-same-vcpu"]) == {"min_ns", "median_ns", "p99_ns", "max_ns", "round_trips"}
    assert data["suite_by_xen"]["trixie"] == {"seconds": 150.0, "cases": 30, "passed": 29}
    assert data == json.loads(json.dumps(asdict(made_up())))


def test_one_line_per_figure() -> None:
    lines = format_figures(made_up())
    assert lines[0] == "Xen 4.17.7 build-id abc123 (bookworm), d"
    keyed = {ln.split()[0] for ln in lines[1:]}
    assert {"suite_seconds", "dom0_ready_s", "create_to_first_line_s", "case_median_s", "fresh_ratio"} <= keyed
    suite = next(ln for ln in lines if ln.startswith("suite_seconds"))
    assert "min 100.000  median 110.000  max 120.000  (n=2)" in suite
    assert lines[1].startswith("anchor_boot_s") and lines[2].startswith("ratios (x anchor)       suite 55.00")
    assert sum(ln.startswith("rtt_ns rtt-same-vcpu ") for ln in lines) == 4
    assert any(ln.startswith("rtt_ns rtt-same-vcpu median_ns") and "median 12000 " in ln for ln in lines)
    assert lines[-1].startswith("WARNING: 1 case run(s) did not pass: b: FAIL")


def test_ratios_are_figures_over_the_anchor_of_the_same_run() -> None:
    f = made_up()
    assert f.anchor_boot_s == Spread(1.5, 2.0, 2.5, 3)
    assert f.ratios["suite"] == pytest.approx(110.0 / 2.0)
    assert f.ratios["make_run"] == pytest.approx(8.5 / 2.0)
    assert f.ratios["conformance_case"] == pytest.approx(25.0 / 2.0)  # a and b: plain cases
    assert figures("bookworm", {}, "d", 0, [], [], []).ratios == dict.fromkeys(f.ratios)  # no anchor, no ratio


def test_conformance_cases_leave_out_fuzzing_and_the_linux_peer() -> None:
    plain = group(1, ["a", "b"], 4.0)
    fuzzing = group(2, ["f"], 30.0)
    fuzzing.group.cases[0].steps.append(Step(3, "A", "fuzz", ("1", "100"), ("ok", "0"), None, None, False, ""))
    assert conformance_case_seconds([Sample(1.0, 1.0, [plain, fuzzing])]) == [2.0]


def test_a_conformance_case_is_each_runs_median_then_their_median() -> None:
    """Three runs of the suite's shape: a first group of 28 cases, 16 groups of one case;
    the second run's first group was slow. Pooled, its shares would be the median of all;
    per run, it is one run of three."""
    runs = [
        Sample(
            1.0, 1.0, [group(1, [f"c{i}" for i in range(28)], first), *(group(i, [f"z{i}"], 0.5) for i in range(2, 18))]
        )
        for first in (5.0, 6.6, 5.0)
    ]
    per_run = conformance_case_seconds(runs)
    assert per_run == pytest.approx([5.0 / 28, 6.6 / 28, 5.0 / 28])
    assert statistics.median(per_run) == pytest.approx(5.0 / 28)
    assert statistics.median(case_wall_seconds(runs, plain=True)) == pytest.approx(6.6 / 28)  # pooled


def test_the_coverage_overhead_is_the_ratio_of_the_medians() -> None:
    normal = [Sample(s, 1.0, []) for s in (100.0, 120.0, 110.0)]
    counted = [Sample(s, 1.0, [], not_passed=bad) for s, bad in ((150.0, []), (130.0, ["x: ERROR"]), (140.0, []))]
    o = overhead("src:/t", {"xen_version": "4.22.0"}, "2026-12-07", 47, normal, counted, [4.0, 5.0, 6.0], [9.0, 11.0])
    assert o.normal_s == Spread(100.0, 110.0, 120.0, 3) and o.coverage_s == Spread(130.0, 140.0, 150.0, 3)
    assert o.ratio == pytest.approx(140 / 110)
    assert o.ratio_with_report == pytest.approx((140 + 10) / 110)
    assert o.reads_s == Spread(4.0, 5.0, 6.0, 3) and o.not_passed == ["x: ERROR"]
    lines = format_overhead(o)
    assert lines[0] == "coverage overhead: Xen 4.22.0 (src:/t), 47 cases, 2026-12-07"
    assert "coverage / normal (medians): 1.27; with the report: 1.36" in lines[5]
    assert o.pairs == [(100.0, 150.0), (120.0, 130.0), (110.0, 140.0)]  # in the order they ran
    assert lines[6].split() == ["run", "1", "100.0", "s", "/", "150.0", "s:", "1.50"]
    assert lines[-1] == "WARNING: 1 case run(s) did not pass: x: ERROR"


def test_no_overhead_without_both_kinds_of_run() -> None:
    o = overhead("src:/t", {}, "d", 1, [], [Sample(5.0, 1.0, [])], [], [])
    assert o.ratio is None and o.ratio_with_report is None and o.normal_s is None
    assert "coverage / normal (medians): no data; with the report: no data" in format_overhead(o)[5]


def test_the_coverage_overhead_needs_a_source_tree(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "coverage_overhead", lambda *_: pytest.fail("ran"))
    assert cli.main(["--xen", "bookworm", "bench", "--coverage-overhead"]) == cli.EXIT_USAGE
    assert "--coverage needs XEN=src:<tree>" in capsys.readouterr().err


def test_timeout_waits_are_the_waits_that_got_fewer_events_than_asked() -> None:
    g = group(1, ["one-shot", "b"], 3.0)
    lines = [
        "[g1-A] EVT RESULT case=one-shot line=16 op=wait args=3,1,5000 expect=ok:1 got=ok:1 verdict=PASS",
        "[g1-A] EVT RESULT case=one-shot line=17 op=wait args=3,2,300 expect=ok:1 got=ok:1 verdict=PASS",
        "[g1-A] EVT RESULT case=b line=4 op=wait args=9,1,5000 expect=EINVAL got=EINVAL verdict=PASS",
        "[g1-A] EVT RESULT case=b line=5 op=pingpong args=3,10,first,2000 expect=ok:10 got=ok:4 verdict=FAIL",
    ]
    g.reports["A"] = parse(lines)["g1-A"]
    assert timeout_waits([g]) == [("one-shot", 17, 0.3), ("b", 5, 2.0)]


def test_stages_add_up_to_the_run_and_name_the_linux_peer() -> None:
    g1 = group(1, ["a"], 10.0)
    g1.setup_seconds = 2.0
    g1.create_to_first_line = {"A": 0.5, "Linux": 6.0}
    g1.reports["A"] = parse(["[g1-A] EVT CASE-END a pass=1 fail=0 us=3000000"])["g1-A"]
    g2 = group(2, ["b"], 4.0)
    g2.setup_seconds = 1.0
    s = Sample(20.0, 3.0, [g1, g2], dom0_commands=[0.1, 0.2])
    st = stages(s)
    assert st["boot"] + st["group_setup"] + st["group_work"] + st["outside_groups"] == pytest.approx(20.0)
    assert st["group_setup"] == 3.0 and st["group_work"] == 11.0 and st["outside_groups"] == pytest.approx(3.0)
    assert st["in_guest"] == 3.0 and st["fuzz"] == 0.0 and st["linux_peer_boot"] == 6.0
    assert st["dom0_commands"] == pytest.approx(0.3)


def fuzz_group(domains: tuple[str, ...], lines: list[str]) -> GroupResult:
    g = GroupResult(Group(1, Config(domains, vcpus=2), (Case("f", Path("x.evt"), 1, domains=domains),)))
    g.reports["A"] = parse(lines)["g1-A"]
    return g


FUZZ_LINE = (
    "[g1-A] EVT FUZZ seed=3 vcpus={v} ops=50000 mismatches=0 ns={ns} valid=64 open=9"
    " fifo_ops=0 switches=0 cross=0 raced=7"
)


def test_fuzz_rates_count_only_a_domain_fuzzing_alone_on_two_vcpus() -> None:
    alone = fuzz_group(("A",), [FUZZ_LINE.format(v=2, ns=100_000_000)])
    one_vcpu = fuzz_group(("A",), [FUZZ_LINE.format(v=1, ns=50_000_000)])
    paced_by_dom0 = fuzz_group(("A", "Dom0"), [FUZZ_LINE.format(v=2, ns=1_000_000_000)])
    assert fuzz_rates([Sample(1.0, 1.0, [alone, one_vcpu, paced_by_dom0])]) == [500_000.0]


def test_goals_hold_only_within_their_bounds() -> None:
    assert goal(14.9, most=15.0).holds and not goal(15.1, most=15.0).holds
    assert goal(300_000.0, least=300_000.0).holds and not goal(299_999.0, least=300_000.0).holds
    assert not goal(None, most=15.0).holds  # no figure is no proof


def test_format_figures_says_which_goals_are_not_met() -> None:
    g = group(1, ["a"], 40.0)
    f = figures("bookworm", {}, "d", 1, [Sample(45.0, 1.0, [g])], [], [], anchors=[1.5], make_runs=[5.0])
    text = "\n".join(format_figures(f))
    assert "suite 30.00 (<= 15: NOT MET)" in text and "make_run 3.33 (<= 4: holds)" in text
    assert "fuzz_ops_per_s no data" in text
    suite = json.loads(json.dumps(asdict(f)))["goals"]["suite"]
    assert suite == {"value": 30.0, "most": 15.0, "least": None, "holds": False}
