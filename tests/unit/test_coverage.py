"""Coverage runs (`run --coverage`): the build's config and key, the dump's format, the
summary, and the refusal of anything but a source tree."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from orchestrator import cli, coverage, covfuzz, fuzz, pipeline
from orchestrator.cases.parse import load
from orchestrator.coverage import DumpError, Record, parse_dump, split
from orchestrator.errors import SetupError
from orchestrator.results import FuzzRun
from orchestrator.xenbuild import COVERAGE_CONFIG, config_missing, variant_key, with_config

BUILD = "/work/h/build/src-xen/abc-cov"


def dump(*records: tuple[str, bytes]) -> bytes:
    """A dump as Xen's XEN_SYSCTL_COVERAGE_read writes it (what xencov_split reads)."""
    out = struct.pack("<I", coverage.MAGIC)
    for path, data in records:
        out += path.encode() + b"\0" + struct.pack("<I", len(data)) + data
    return out


def test_a_dump_is_split_into_its_records() -> None:
    data = dump((f"{BUILD}/common/.event_channel.o.gcda", b"adcg\x00\x01"), (f"{BUILD}/common/.event_2l.o.gcda", b""))
    assert parse_dump(data) == [
        Record(f"{BUILD}/common/.event_channel.o.gcda", b"adcg\x00\x01"),
        Record(f"{BUILD}/common/.event_2l.o.gcda", b""),
    ]
    assert parse_dump(dump()) == []  # nothing was compiled with counters


def test_the_magic_is_xcov_little_endian() -> None:
    assert dump()[:4] == b"VOCX"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not a Xen coverage dump"),
        (b"XCOV", "not a Xen coverage dump"),  # the wrong byte order
        (dump() + b"/a.gcda", "has no end"),
        (dump() + b"/a.gcda\0\x01\x00", "ends inside its size"),
        (dump() + b"/a.gcda\0" + struct.pack("<I", 9) + b"1234", "9 bytes announced, 4 left"),
        (dump() + b"\0" + struct.pack("<I", 0), "an empty file name"),
        (dump() + b"\xff\xfe\0" + struct.pack("<I", 0), "not UTF-8"),
    ],
)
def test_a_damaged_dump_is_refused_by_name(data: bytes, why: str) -> None:
    with pytest.raises(DumpError, match=why):
        parse_dump(data)


def test_gcda_files_land_in_a_copy_of_the_build_layout(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    records = [Record(f"{build}/common/.event_fifo.o.gcda", b"one"), Record(f"{build}/arch/x86/.x.o.gcda", b"two")]
    written = split(records, build, tmp_path / "scratch")
    assert written == [tmp_path / "scratch/common/.event_fifo.o.gcda", tmp_path / "scratch/arch/x86/.x.o.gcda"]
    assert (tmp_path / "scratch/arch/x86/.x.o.gcda").read_bytes() == b"two"
    assert not list(build.rglob("*.gcda"))  # the build folder stays as it was


@pytest.mark.parametrize(
    "path", ["/elsewhere/common/.a.o.gcda", "{build}/../x.gcda", "{build}/common/a.c", "{build}x/a.gcda"]
)
def test_a_record_from_outside_the_build_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(DumpError, match="not a .gcda file of the build"):
        split([Record(path.format(build=tmp_path), b"")], tmp_path, tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists()


def test_gcov_is_the_one_of_the_compiler_that_built_xen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}" if name == "gcov-12" else None)
    assert coverage.gcov_for("CONFIG_CC_IS_GCC=y\nCONFIG_GCC_VERSION=120200\n") == "gcov-12"
    assert coverage.gcov_for("CONFIG_GCC_VERSION=140201\n") == "gcov"  # no gcov-14 here: the default one
    with pytest.raises(SetupError, match="not made by gcc"):
        coverage.gcov_for("CONFIG_CC_IS_CLANG=y\nCONFIG_GCC_VERSION=0\n")


def test_the_coverage_options_replace_what_defconfig_says() -> None:
    text = "CONFIG_X86=y\n# CONFIG_EXPERT is not set\nCONFIG_LIVEPATCH=y\nCONFIG_DEBUG=n\n"
    got = with_config(text, COVERAGE_CONFIG)
    assert got.splitlines() == [
        "CONFIG_X86=y",
        "CONFIG_EXPERT=y",
        "# CONFIG_LIVEPATCH is not set",
        "CONFIG_DEBUG=n",
        "CONFIG_COVERAGE=y",  # absent: appended
    ]
    assert config_missing(got, COVERAGE_CONFIG) == []
    # What olddefconfig leaves when COVERAGE is not offered (no EXPERT, no DEBUG):
    assert config_missing("CONFIG_EXPERT=y\n", COVERAGE_CONFIG) == ["CONFIG_COVERAGE=y"]


def test_a_coverage_build_has_a_key_of_its_own() -> None:
    assert variant_key("d45d5687f144", False) == "d45d5687f144"
    assert variant_key("d45d5687f144", True) == "d45d5687f144-cov"
    assert variant_key("d45d5687f144-tools", True) != variant_key("d45d5687f144-tools", False)


SUMMARY = {
    "files": [
        {"filename": "xen/common/event_fifo.c", "line_covered": 10, "line_total": 40, "branch_covered": 0,
         "branch_total": 0, "function_covered": 1, "function_total": 4},
        {"filename": "xen/include/xen/event.h", "line_covered": 3, "line_total": 3, "branch_covered": 1,
         "branch_total": 2, "function_covered": 1, "function_total": 1},
        {"filename": "xen/common/event_channel.c", "line_covered": 500, "line_total": 800, "branch_covered": 300,
         "branch_total": 600, "function_covered": 40, "function_total": 50},
    ]
}  # fmt: skip


def test_the_summary_names_the_event_channel_files_first() -> None:
    files = coverage.read_summary(SUMMARY)
    assert [f.path for f in files] == [
        "xen/common/event_channel.c",
        "xen/common/event_fifo.c",
        "xen/include/xen/event.h",
    ]
    text = coverage.format_summary(files).splitlines()
    assert text[0].split() == ["file", "lines", "branches", "functions"]
    assert "500/800    62.5 %" in text[1] and "300/600    50.0 %" in text[1] and "40/50" in text[1]
    assert "   - " in text[2]  # no branches: no percentage


def test_a_function_is_counted_from_the_trace() -> None:
    trace = {
        "files": [
            {"file": "xen/common/event_channel.c", "functions": [
                {"name": "evtchn_alloc_unbound", "demangled_name": "evtchn_alloc_unbound", "execution_count": 7},
                {"name": "evtchn_reset", "execution_count": 0},
                {"name": "<unknown function 50>", "execution_count": 0},
            ]},
            {"file": "xen/common/event_2l.c", "functions": [{"name": "evtchn_2l_set_pending", "execution_count": 3}]},
        ]
    }  # fmt: skip
    assert coverage.functions_called(trace, "xen/common/event_channel.c") == {
        "evtchn_alloc_unbound": 7,
        "evtchn_reset": 0,
        "<unknown function 50>": 0,
    }
    assert coverage.format_uncalled(trace).splitlines() == [
        "xen/common/event_channel.c: never called: evtchn_reset",
        "xen/common/event_2l.c: never called: none",
        "xen/common/event_fifo.c: never called: none",  # not in the trace at all
    ]


def test_a_lines_count_adds_up_where_it_is_counted_and_agrees_with_lines_of() -> None:
    trace = {
        "files": [
            {"file": "xen/include/xen/event.h", "lines": [
                {"line_number": 5, "count": 2},
                {"line_number": 5, "count": 3},  # an inline function, counted where each caller has it
                {"line_number": 6, "count": 0},
                {"line_number": 7, "count": 0, "gcovr/noncode": True},
                {"line_number": 8},  # no count: never ran
            ]},
        ]
    }  # fmt: skip
    counts = coverage.line_counts(trace, "xen/include/xen/event.h")
    assert counts == {5: 5, 6: 0, 8: 0}
    executed, every = coverage.lines_of(trace, "xen/include/xen/event.h")
    assert executed == {n for n, c in counts.items() if c} and every == set(counts)
    assert coverage.line_counts(trace, "xen/common/event_fifo.c") == {}


def test_each_line_not_reached_is_listed_by_function_with_its_reason() -> None:
    trace = {
        "files": [
            {"file": "xen/common/event_channel.c",
             "functions": [{"name": "evtchn_send", "lineno": 10}, {"name": "dump_evtchn_info", "lineno": 20}],
             "lines": [
                 {"line_number": 11, "count": 3}, {"line_number": 12, "count": 0}, {"line_number": 13, "count": 0},
                 {"line_number": 15, "count": 0}, {"line_number": 21, "count": 0, "function_name": "dump_evtchn_info"},
             ]},
        ]
    }  # fmt: skip
    assert coverage.unreached(trace, "xen/common/event_channel.c") == {
        "evtchn_send": [12, 13, 15],
        "dump_evtchn_info": [21],
    }
    text = coverage.format_unreached(trace, {"dump_evtchn_info": "debug key 'e' only"})
    assert "### xen/common/event_channel.c: 4 line(s) not reached" in text
    assert "| `evtchn_send` | 12-13, 15 | **no reason written yet** |" in text
    assert "| `dump_evtchn_info` | 21 | debug key 'e' only |" in text
    assert "### xen/common/event_fifo.c: 0 line(s) not reached" in text


def test_no_dump_is_no_report(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="no coverage dump"):
        coverage.report([], tmp_path, tmp_path, tmp_path / "out")


@pytest.mark.parametrize("xen", ["bookworm", "trixie", "debug:bookworm"])
def test_coverage_without_a_source_tree_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], xen: str
) -> None:
    def never(*_: object) -> None:
        raise AssertionError("nothing is fetched or built for a refused command")

    monkeypatch.setattr(cli, "prepare", never)
    assert cli.main(["--xen", xen, "run", "--coverage"]) == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert "--coverage needs XEN=src:<tree>" in err and "CONFIG_COVERAGE=y" in err and repr(xen) in err


def test_a_coverage_build_is_refused_for_a_debian_xen_by_prepare() -> None:
    with pytest.raises(SetupError, match="needs XEN=src:"):
        pipeline.prepare("bookworm", coverage=True)


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("gcov") is None, reason="needs gcc and gcov")
def test_a_dump_becomes_a_report(tmp_path: Path) -> None:
    """The whole way from counters to report, on a small program built as Xen is (gcc
    --coverage, objects in a build folder apart from the sources), its .gcda files
    packed as Xen dumps them."""
    tree, build, prog = _program(tmp_path)
    subprocess.run([str(prog)], check=True)
    gcda = sorted(build.rglob("*.gcda"))
    assert len(gcda) == 3
    data = dump(*((str(p), p.read_bytes()) for p in gcda))
    for p in gcda:
        p.unlink()
    (tmp_path / "xencov.dat").write_bytes(data)
    out = tmp_path / "report"
    files = coverage.report([tmp_path / "xencov.dat"], build, tree, out)
    assert {f.path: f.lines for f in files} == {
        "xen/common/event_channel.c": (1, 2),
        "xen/common/event_2l.c": (3, 4),  # `return 1;` not taken
        "xen/common/event_fifo.c": (3, 4),  # `return never(argc);` not taken
    }
    assert {f.path: f.functions for f in files}["xen/common/event_channel.c"] == (1, 2)
    for made in ("index.html", "cobertura.xml", "summary.json", "coverage.json"):
        assert (out / made).stat().st_size > 0
    assert not list(build.rglob("*.gcda")) and not (out / "gcov").exists()
    trace = json.loads((out / "coverage.json").read_text())
    assert "xen/common/event_channel.c: never called: never" in coverage.format_uncalled(trace)


def _program(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The three files as Xen builds them (objects .<name>.o in a build folder apart from
    the tree), linked into a program whose arguments pick what runs; (tree, build, program)."""
    tree, build = tmp_path / "tree", tmp_path / "build"
    (tree / "xen" / "common").mkdir(parents=True)
    (build / "common").mkdir(parents=True)
    sources = {
        "event_channel": "int evtchn_alloc_unbound(int x) { return x + 1; }\nint never(int x) { return x * 2; }\n",
        "event_2l": "int set_pending(int x) {\n  if (x > 3)\n    return 1;\n  return 0;\n}\n",
        "event_fifo": "int evtchn_alloc_unbound(int);\nint set_pending(int);\nint never(int);\n"
        "int main(int argc, char **argv) {\n  (void)argv;\n  if (argc > 5)\n    return never(argc);\n"
        "  return set_pending(evtchn_alloc_unbound(argc));\n}\n",
    }
    for name, text in sources.items():
        (tree / "xen" / "common" / f"{name}.c").write_text(text)
        obj = build / "common" / f".{name}.o"
        subprocess.run(["gcc", "--coverage", "-c", str(tree / "xen/common" / f"{name}.c"), "-o", str(obj)],
                       check=True, cwd=build)  # fmt: skip
    prog = build / "prog"
    subprocess.run(["gcc", "--coverage", "-o", str(prog), *map(str, build.glob("common/.*.o"))], check=True)
    (build / ".config").write_text("CONFIG_GCC_VERSION=120200\n")
    return tree, build, prog


def _counted(build: Path, prog: Path, out: Path, *runs: int, fresh: bool = True) -> Path:
    """Run the program once per argument count in `runs`, counters adding up as Xen's do
    between two reads; their dump in `out`, as xencov read writes it."""
    if fresh:
        for p in build.rglob("*.gcda"):
            p.unlink()
    for argc in runs:
        subprocess.run([str(prog), *["x"] * (argc - 1)], check=False)
    out.write_bytes(dump(*((str(p), p.read_bytes()) for p in sorted(build.rglob("*.gcda")))))
    return out


needs_gcov = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("gcov") is None, reason="needs gcc, gcov")


@needs_gcov
def test_a_trace_of_some_files_reads_their_objects_alone_and_agrees_with_the_report(tmp_path: Path) -> None:
    tree, build, prog = _program(tmp_path)
    d = _counted(build, prog, tmp_path / "d.dat", 1)
    mains = ["xen/common/event_channel.c", "xen/common/event_2l.c"]
    some = json.loads(coverage.trace(d, build, tree, tmp_path / "t", "one", mains).read_text())
    assert sorted(f["file"] for f in some["files"]) == sorted(mains)  # event_fifo.c's object left out
    assert not (tmp_path / "t" / "gcov").exists()  # no scratch left behind
    files = coverage.report([d], build, tree, tmp_path / "all")
    whole = json.loads((tmp_path / "all" / "coverage.json").read_text())
    for f in mains:
        assert coverage.lines_of(some, f) == coverage.lines_of(whole, f)
    assert {f.path: f.lines for f in files}["xen/common/event_2l.c"] == (3, 4)
    assert coverage.lines_of(some, "xen/common/event_2l.c")[0] == {1, 2, 4}  # `return 1;` (3) not taken


@needs_gcov
def test_a_seeds_gain_is_what_the_counters_did_not_have_at_the_read_before(tmp_path: Path) -> None:
    """Two reads of counters that only grow (seed 1 runs the program with no argument, seed
    2 with two more): seed 2 is credited with `return 1;` alone."""
    tree, build, prog = _program(tmp_path)
    reads = []
    for seed, argc, fresh in ((1, 1, True), (2, 3, False)):
        d = _counted(build, prog, tmp_path / f"d{seed}.dat", argc, fresh=fresh)
        t = json.loads(coverage.trace(d, build, tree, tmp_path / "t", f"r{seed}", coverage.MAIN_FILES).read_text())
        reads.append(covfuzz.SeedRead(seed, 10, {f: coverage.lines_of(t, f)[0] for f in coverage.MAIN_FILES}))
    first, second = covfuzz.gains(reads)
    assert first.new["xen/common/event_channel.c"] == {1}
    assert second.new == {
        "xen/common/event_channel.c": set(),
        "xen/common/event_2l.c": {3},
        "xen/common/event_fifo.c": set(),
    }
    assert [g.seed for g in covfuzz.corpus([first, second])] == [1, 2]


@needs_gcov
def test_the_union_is_gcovr_merging_two_reports_traces(tmp_path: Path) -> None:
    tree, build, prog = _program(tmp_path)
    suite = coverage.report([_counted(build, prog, tmp_path / "s.dat", 1)], build, tree, tmp_path / "suite")
    campaign = coverage.report([_counted(build, prog, tmp_path / "c.dat", 6)], build, tree, tmp_path / "campaign")
    union = coverage.merge(
        [tmp_path / "suite" / "coverage.json", tmp_path / "campaign" / "coverage.json"], build, tree,
        tmp_path / "union", "both",
    )  # fmt: skip
    lines = {name: {f.path: f.lines for f in files} for name, files in
             (("suite", suite), ("campaign", campaign), ("union", union))}  # fmt: skip
    assert lines["suite"]["xen/common/event_channel.c"] == (1, 2)  # never() not run
    assert lines["campaign"]["xen/common/event_channel.c"] == (1, 2)  # only never() run
    assert lines["union"]["xen/common/event_channel.c"] == (2, 2)
    traces = [json.loads((tmp_path / n / "coverage.json").read_text()) for n in ("suite", "campaign", "union")]
    for f in coverage.MAIN_FILES:
        run = [coverage.lines_of(t, f)[0] for t in traces]
        assert run[2] == run[0] | run[1], f
    for made in ("index.html", "cobertura.xml", "summary.json"):
        assert (tmp_path / "union" / made).stat().st_size > 0
    table = coverage.format_columns({"suite": suite, "campaign": campaign, "union": union}).splitlines()
    assert table[0].split() == ["lines", "suite", "campaign", "union"]
    assert table[1].split()[0] == "xen/common/event_channel.c" and table[1].split()[7:9] == ["2/2", "100.0"]


def test_a_files_counters_are_found_by_its_objects_name() -> None:
    records = [
        Record(f"{BUILD}/common/.event_fifo.o.gcda", b"1"),
        Record(f"{BUILD}/common/event_2l.o.gcda", b"2"),
        Record(f"{BUILD}/arch/x86/.event_fifo.o.gcda", b"3"),
        Record(f"{BUILD}/common/.vm_event.o.gcda", b"4"),
    ]
    got = coverage.records_of(records, Path(BUILD), ["xen/common/event_fifo.c", "xen/common/event_2l.c"])
    assert [r.data for r in got] == [b"1", b"2"]
    with pytest.raises(
        DumpError, match=r"no counters of xen/common/event_channel.c \(none of common/\.event_channel\.gcda"
    ):
        coverage.records_of(records, Path(BUILD), ["xen/common/event_channel.c"])


def test_the_columns_add_the_files_up() -> None:
    one = [coverage.FileCoverage("xen/common/event_channel.c", (5, 10), (0, 0), (0, 0)),
           coverage.FileCoverage("xen/common/event_2l.c", (1, 2), (0, 0), (0, 0))]  # fmt: skip
    two = [coverage.FileCoverage("xen/common/event_channel.c", (10, 10), (0, 0), (0, 0))]
    rows = coverage.format_columns({"a": one, "b": two}).splitlines()
    assert rows[-1].split() == ["together", "6/12", "50.0", "%", "10/10", "100.0", "%"]
    assert "0/0" in rows[3] and "-" in rows[3]  # event_fifo.c in neither: no percentage


@needs_gcov
def test_a_campaigns_reads_become_its_report_corpus_and_plot(tmp_path: Path) -> None:
    """Three seeds on one machine (counters growing from read to read; seed 2's read lost),
    then the machine's last read: the report, corpus.txt, a case per kept seed, seeds.json
    and the plot, the per-seed dumps but the last gone."""
    tree, build, prog = _program(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    reads = [
        fuzz.SeedDump(1, "1.1", _counted(build, prog, runs / "g1.dat", 1)),
        fuzz.SeedDump(2, "1.1", None),
        fuzz.SeedDump(3, "1.1", _counted(build, prog, runs / "g3.dat", 3, 6, fresh=False)),
        fuzz.SeedDump(None, "1.1", _counted(build, prog, runs / "end.dat", fresh=False)),
    ]
    campaign = fuzz.Campaign([1, 2, 3], 500, vcpus=2, dumps=reads)
    campaign.runs = [FuzzRun("g1-A", s, 2, 500, 0, 1, 256, 0, 0, 0, 0, 0) for s in (1, 2, 3)]
    out = tmp_path / "report"
    made = covfuzz.campaign_report(campaign, "1-3", build, tree, out, suite=None)
    assert [(g.seed, g.new_lines, g.read) for g in made.gains] == [
        (1, 7, True),
        (2, 0, False),
        (3, 3, True),
        (None, 0, True),
    ]
    assert made.disagree == []  # the per-seed lines add up to the report's
    assert {f.path: f.lines[0] for f in made.files}["xen/common/event_channel.c"] == 2
    rows = [r for r in (out / "corpus.txt").read_text().splitlines() if not r.startswith("#")]
    assert [r.split("\t")[:3] for r in rows] == [["1", "500", "7"], ["3", "500", "3"]]
    assert "never (1)" in rows[1] and "set_pending (1)" in rows[1]
    assert sorted(p.name for p in (out / "corpus").iterdir()) == ["fuzz-1.evt", "fuzz-3.evt"]
    assert load([out / "corpus" / "fuzz-3.evt"])[0].name == "fuzz-3"  # a case the checker takes
    seeds = json.loads((out / "seeds.json").read_text())
    assert [s["total_ops"] for s in seeds["seeds"]] == [500, 1000, 1500, 1500]
    assert seeds["seeds"][2]["new"]["xen/common/event_2l.c"] == [3]
    assert (out / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    assert not (runs / "g1.dat").exists() and not (runs / "g3.dat").exists() and (runs / "end.dat").exists()
    assert (out / "xencov-1.dat").read_bytes() == (runs / "end.dat").read_bytes()
