"""Which lines of Xen a run executed (`run --coverage`, XEN=src:<tree> only).

The tree's hypervisor is built with CONFIG_COVERAGE=y (xenbuild.build_tree); its
counters are reset once dom0 is up (`xencov reset`, so boot work is not counted) and
read after each group and at the end (`xencov read`), each machine's latest dump
fetched over the command channel (runner.Session). Here a dump becomes .gcda files
(as Xen's tools/misc/xencov_split does), gcovr turns them and the build's .gcno files
into a per-machine trace, and the traces, merged, into the report:
build/coverage/<time>/ index.html (per line), cobertura.xml, summary.json.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import log
from .coverage_reasons import REASONS
from .errors import SetupError
from .xenbuild import build_tree, run_logged

MAGIC = 0x58434F56  # "XCOV": public/sysctl.h, XEN_SYSCTL_COVERAGE_read's dump
# Where dom0 puts the dump before the harness fetches it.
DUMP_IN_DOM0 = "/tmp/xencov.dat"
# What the report covers: patterns of paths in the tree (gcovr --filter, the tree's path before each).
FILTERS = (r"xen/common/event_.*\.c$", r"xen/include/xen/event\.h$")
# Named in the text summary, in this order; others the filters take come after.
MAIN_FILES = ("xen/common/event_channel.c", "xen/common/event_2l.c", "xen/common/event_fifo.c")


class DumpError(ValueError):
    """A coverage dump that is not what `xencov read` writes."""


@dataclass(frozen=True)
class Record:
    path: str  # the .gcda file's path, as the compiler named it (absolute, in the build folder)
    data: bytes  # its contents


def parse_dump(data: bytes) -> list[Record]:
    """A dump's records: the magic, then (NUL-terminated path, u32 size, size bytes) each,
    little-endian (x86), as tools/misc/xencov_split reads them."""
    if len(data) < 4 or struct.unpack_from("<I", data)[0] != MAGIC:
        raise DumpError(f"not a Xen coverage dump (it begins {data[:4]!r}, not 'VOCX')")
    records = []
    pos = 4
    while pos < len(data):
        end = data.find(b"\0", pos)
        if end < 0:
            raise DumpError(f"record at offset {pos}: its file name has no end")
        try:
            path = data[pos:end].decode()
        except UnicodeDecodeError:
            raise DumpError(f"record at offset {pos}: its file name is not UTF-8") from None
        if not path:
            raise DumpError(f"record at offset {pos}: an empty file name")
        if end + 5 > len(data):
            raise DumpError(f"record {path}: the dump ends inside its size")
        (size,) = struct.unpack_from("<I", data, end + 1)
        start = end + 5
        if start + size > len(data):
            raise DumpError(f"record {path}: {size} bytes announced, {len(data) - start} left in the dump")
        records.append(Record(path, data[start : start + size]))
        pos = start + size
    return records


def split(records: list[Record], build_dir: Path, dest: Path) -> list[Path]:
    """Write each record as its .gcda file, the build folder `build_dir` (where the
    compiler put them) replaced by `dest`; the files written. A record from outside the
    build folder is refused: it belongs to another build."""
    build = str(build_dir.resolve()).rstrip("/") + "/"
    written = []
    for r in records:
        if not r.path.startswith(build) or not r.path.endswith(".gcda") or "/../" in r.path:
            raise DumpError(f"{r.path}: not a .gcda file of the build in {build_dir}")
        target = dest / r.path[len(build) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(r.data)
        written.append(target)
    return written


def build_of(tree: Path, build: Path) -> Path:
    """The coverage build of `tree` (its .config and .gcno files): made by prepare(), cached."""
    return build_tree(tree, build, coverage=True).parent


def gcov_for(config: str) -> str:
    """The gcov of the compiler that built Xen, from its .config (CONFIG_GCC_VERSION=120200:
    gcov-12 if there is one, else gcov)."""
    m = re.search(r"^CONFIG_GCC_VERSION=(\d+)$", config, re.M)
    if m is None or int(m.group(1)) == 0:
        raise SetupError("the coverage build was not made by gcc (its .config has no CONFIG_GCC_VERSION): no gcov")
    major = int(m.group(1)) // 10000
    return f"gcov-{major}" if shutil.which(f"gcov-{major}") else "gcov"


@dataclass(frozen=True)
class FileCoverage:
    path: str
    lines: tuple[int, int]  # covered, total
    branches: tuple[int, int]
    functions: tuple[int, int]


def read_summary(summary: Mapping[str, Any]) -> list[FileCoverage]:
    """The files of a gcovr --json-summary, MAIN_FILES first."""
    files = summary.get("files")
    if not isinstance(files, list):
        raise DumpError("a gcovr summary without a list of files")
    out = []
    for f in files:
        out.append(
            FileCoverage(
                str(f["filename"]),
                (int(f["line_covered"]), int(f["line_total"])),
                (int(f["branch_covered"]), int(f["branch_total"])),
                (int(f["function_covered"]), int(f["function_total"])),
            )
        )
    rank = {name: i for i, name in enumerate(MAIN_FILES)}
    return sorted(out, key=lambda c: (rank.get(c.path, len(rank)), c.path))


def _ratio(pair: tuple[int, int]) -> str:
    covered, total = pair
    pct = f"{100 * covered / total:5.1f} %" if total else "    - "
    return f"{covered:>5}/{total:<5} {pct}"


def format_summary(files: list[FileCoverage]) -> str:
    """The short text printed at the end of a coverage run: per file, lines, branches and
    functions covered."""
    width = max([len(f.path) for f in files] + [4])
    head = f"{'file':<{width}}  {'lines':^18}  {'branches':^18}  {'functions':^18}"
    rows = [f"{f.path:<{width}}  {_ratio(f.lines)}  {_ratio(f.branches)}  {_ratio(f.functions)}" for f in files]
    return "\n".join([head, *rows])


def functions_called(trace: Mapping[str, Any], path: str) -> dict[str, int]:
    """Each function of `path` in a gcovr JSON trace, and how often it ran."""
    out: dict[str, int] = {}
    files = trace.get("files")
    for f in files if isinstance(files, list) else []:
        if f.get("file") != path:
            continue
        for fn in f.get("functions", []):
            name = str(fn.get("demangled_name") or fn.get("name"))
            out[name] = out.get(name, 0) + int(fn.get("execution_count", 0))
    return out


def format_uncalled(trace: Mapping[str, Any]) -> str:
    """For each of MAIN_FILES, the functions the run never called (gcovr's placeholder
    names for functions it could not name left out)."""
    out = []
    for path in MAIN_FILES:
        never = sorted(n for n, count in functions_called(trace, path).items() if not count and not n.startswith("<"))
        out.append(f"{path}: never called: {', '.join(never) if never else 'none'}")
    return "\n".join(out)


def _file(trace: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    files = trace.get("files")
    return next((f for f in files if f.get("file") == path), None) if isinstance(files, list) else None


def function_of(trace: Mapping[str, Any], path: str) -> Callable[[int], str]:
    """Which function of `path` a line is in: gcovr's `function_name` for it, else the
    function starting last before it."""
    found = _file(trace, path) or {}
    starts = sorted(
        (int(fn["lineno"]), str(fn.get("demangled_name") or fn.get("name")))
        for fn in found.get("functions", [])
        if "lineno" in fn
    )
    lines = found.get("lines", [])
    named = {int(ln["line_number"]): str(ln["function_name"]) for ln in lines if ln.get("function_name")}

    def of(n: int) -> str:
        if n in named:
            return named[n]
        return next((f for s, f in reversed(starts) if s <= n), "(outside functions)")

    return of


def lines_of(trace: Mapping[str, Any], path: str) -> tuple[frozenset[int], frozenset[int]]:
    """The lines of `path` a trace counts, (executed, all), by number: a line counted in
    several places (a header's inline function) is executed if any of them ran."""
    found = _file(trace, path) or {}
    code = [ln for ln in found.get("lines", []) if not ln.get("gcovr/noncode")]
    return (
        frozenset(int(ln["line_number"]) for ln in code if ln.get("count", 0)),
        frozenset(int(ln["line_number"]) for ln in code),
    )


def line_counts(trace: Mapping[str, Any], path: str) -> dict[int, int]:
    """How often each line of `path` ran, by number, every line of code with its count (0:
    never): a line counted in several places (a header's inline function) adds them up.
    lines_of's sets are its keys and those of its keys with a count."""
    found = _file(trace, path) or {}
    out: dict[int, int] = {}
    for ln in found.get("lines", []):
        if not ln.get("gcovr/noncode"):
            n = int(ln["line_number"])
            out[n] = out.get(n, 0) + int(ln.get("count", 0))
    return out


def unreached(trace: Mapping[str, Any], path: str) -> dict[str, list[int]]:
    """The lines of `path` the run never executed, by the function they are in."""
    executed, every = lines_of(trace, path)
    of = function_of(trace, path)
    out: dict[str, list[int]] = {}
    for n in sorted(every - executed):
        out.setdefault(of(n), []).append(n)
    return out


def _spans(lines: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    spans: list[list[int]] = []
    for n in sorted(lines):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans)


def format_unreached(trace: Mapping[str, Any], reasons: Mapping[str, str]) -> str:
    """Markdown: for each of MAIN_FILES, each function with lines the run never executed,
    those lines, and why (`reasons`, by function: docs/coverage.md's table), or that no
    reason is written down yet."""
    out = []
    for path in MAIN_FILES:
        missed = unreached(trace, path)
        total = sum(len(v) for v in missed.values())
        out += [f"### {path}: {total} line(s) not reached", "", "| function | lines | why |", "|---|---|---|"]
        for name, lines in sorted(missed.items(), key=lambda kv: kv[1][0]):
            out.append(f"| `{name}` | {_spans(lines)} | {reasons.get(name, '**no reason written yet**')} |")
        out.append("")
    return "\n".join(out)


def _gcovr(args: list[str], log_file: Path) -> None:
    run_logged([sys.executable, "-m", "gcovr", *args], log_file)


def _filters(tree: Path, patterns: Sequence[str]) -> list[str]:
    return [a for f in patterns for a in ("--filter", re.escape(f"{tree}/") + f)]


def _common(build_dir: Path, tree: Path, patterns: Sequence[str]) -> list[str]:
    """gcovr's options for every step: the tree as root, the build's gcov, the files reported."""
    gcov = gcov_for((build_dir / ".config").read_text())
    return ["-r", str(tree), "--gcov-executable", gcov, *_filters(tree, patterns)]


def records_of(records: list[Record], build_dir: Path, sources: Sequence[str]) -> list[Record]:
    """The records of the objects compiled from `sources` (paths in the tree:
    xen/common/event_fifo.c), as Xen's build names them: common/.event_fifo.o.gcda (gcc
    alone drops the .o: .event_fifo.gcda; trees before the kbuild rework have no dot). A
    source without one is refused by name: the dump would say nothing of it."""
    build = str(build_dir.resolve()).rstrip("/") + "/"
    out = []
    for source in sources:
        src = Path(source).relative_to("xen")
        names = {f"{src.parent}/{dot}{src.stem}{o}.gcda" for dot in (".", "") for o in (".o", "")}
        found = [r for r in records if r.path.startswith(build) and r.path[len(build) :] in names]
        if not found:
            raise DumpError(f"the dump has no counters of {source} (none of {', '.join(sorted(names))})")
        out += found
    return out


def trace(dump: Path, build_dir: Path, tree: Path, out: Path, name: str, sources: Sequence[str] = ()) -> Path:
    """gcovr's JSON trace of one dump, `out`/`name`.json: of every file FILTERS takes, or
    with `sources` of those files alone, from their objects' counters only (under a second
    instead of 4-7 s for all 303 objects: what a per-seed reading of a campaign needs)."""
    tree = tree.resolve()
    records = parse_dump(dump.read_bytes())
    if sources:
        records = records_of(records, build_dir, sources)
        gcno = [Path(r.path).relative_to(build_dir.resolve()).with_suffix(".gcno") for r in records]
    else:
        gcno = [p.relative_to(build_dir) for p in build_dir.rglob("*.gcno")]
    if not gcno:
        raise SetupError(f"{build_dir}: no .gcno files (not a coverage build?)")
    # The .gcno files and this dump's .gcda files in a scratch copy of the build's
    # layout: the build folder stays as it was, and runs do not meet there.
    scratch = out / "gcov" / name
    if scratch.exists():
        shutil.rmtree(scratch)
    for rel in gcno:
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / rel, scratch / rel)
    written = split(records, build_dir, scratch)
    patterns = [re.escape(s) + "$" for s in sources] or list(FILTERS)
    # Sources the build made itself (arch/x86/efi's links, generated files) are not in the
    # scratch copy: gcov cannot find them, and the report does not cover them anyway.
    # A file it does cover that went missing is caught by the report, by name.
    ignore = ["--gcov-ignore-errors", "source_not_found", "--gcov-ignore-errors", "no_working_dir_found"]
    path = out / f"{name}.json"
    args = [*_common(build_dir, tree, patterns), *ignore, "--object-directory", str(scratch), "--json", str(path)]
    if sources:  # quiet: a campaign reads one per seed
        _gcovr([*args, str(scratch)], out / "gcovr.log")
    else:
        with log.step(f"coverage: {dump.name}, {len(written)} .gcda files (gcovr)"):
            _gcovr([*args, str(scratch)], out / "gcovr.log")
    shutil.rmtree(scratch)
    if not any((out / "gcov").iterdir()):
        (out / "gcov").rmdir()
    return path


def main_trace(dump: Path, build_dir: Path, tree: Path, scratch: Path, name: str) -> Mapping[str, Any]:
    """gcovr's trace of one dump for MAIN_FILES alone, read and its file removed: the look
    at one read of many (a campaign's seeds, a suite's groups)."""
    path = trace(dump, build_dir, tree, scratch, name, MAIN_FILES)
    data: Mapping[str, Any] = json.loads(path.read_text())
    path.unlink()
    return data


def merge(traces: Sequence[Path], build_dir: Path, tree: Path, out: Path, title: str) -> list[FileCoverage]:
    """index.html, cobertura.xml, summary.json and coverage.json in `out` from gcovr's
    traces (per machine, or whole reports' coverage.json: gcovr adds their counts up); the
    summary's figures."""
    tree = tree.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with log.step("coverage: the report (gcovr: HTML per line, Cobertura, JSON summary)"):
        _gcovr(
            [
                *_common(build_dir, tree, FILTERS),
                *(a for t in traces for a in ("--add-tracefile", str(t))),
                "--html-details", str(out / "index.html"),
                "--html-title", f"Xen event channels: {title}, {tree}",
                "--cobertura", str(out / "cobertura.xml"),
                "--json-summary-pretty", "--json-summary", str(out / "summary.json"),
                "--json", str(out / "coverage.json"),
            ],
            out / "gcovr.log",
        )  # fmt: skip
    files = read_summary(json.loads((out / "summary.json").read_text()))
    missing = [name for name in MAIN_FILES if not any(f.path == name and f.lines[1] for f in files)]
    if missing:
        raise SetupError(f"the report has no lines of {', '.join(missing)} (log {out / 'gcovr.log'})")
    return files


def report(dumps: list[Path], build_dir: Path, tree: Path, out: Path, title: str = "coverage") -> list[FileCoverage]:
    """index.html, cobertura.xml and summary.json in `out` from the dumps (one per machine,
    counted from its own reset: merged by gcovr), the coverage build in `build_dir` and
    its sources in `tree`; the summary's figures."""
    if not dumps:
        raise SetupError("no coverage dump was read: no machine ran to the end of a group")
    out.mkdir(parents=True, exist_ok=True)
    traces = [trace(d, build_dir, tree, out, f"trace-{i}") for i, d in enumerate(dumps, start=1)]
    return merge(traces, build_dir, tree, out, title)


def format_columns(columns: Mapping[str, Sequence[FileCoverage]], files: Sequence[str] = MAIN_FILES) -> str:
    """Lines executed per file in reports side by side (suite, campaign, union), and the
    files together."""
    width = max([len(f) for f in files] + [len("together")])
    names = list(columns)
    head = f"{'lines':<{width}}  " + "  ".join(f"{n:^18}" for n in names)
    rows = [head]
    sums = {n: [0, 0] for n in names}
    for path in files:
        cells = []
        for n in names:
            lines = next((f.lines for f in columns[n] if f.path == path), (0, 0))
            sums[n][0] += lines[0]
            sums[n][1] += lines[1]
            cells.append(_ratio(lines))
        rows.append(f"{path:<{width}}  " + "  ".join(cells))
    rows.append(f"{'together':<{width}}  " + "  ".join(_ratio((sums[n][0], sums[n][1])) for n in names))
    return "\n".join(rows)


def finish(out: Path, files: list[FileCoverage]) -> str:
    """unreached.md beside a report (each line not reached, with its reason), and the text
    to print: per file, lines, branches and functions, and the functions never called."""
    trace = json.loads((out / "coverage.json").read_text())
    (out / "unreached.md").write_text(format_unreached(trace, REASONS))
    return format_summary(files) + "\n" + format_uncalled(trace)
