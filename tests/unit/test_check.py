"""`orchestrator check`: case files refused before any boot exactly where a guest would refuse them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestrator import lang
from orchestrator.cases.compile import compile_group
from orchestrator.cases.model import Case, Config, Step
from orchestrator.cases.parse import check_file, parse_file
from orchestrator.cases.plan import Group
from orchestrator.cli import main
from orchestrator.errors import CaseFileError

from .fakes import use_errno_h

HEAD = "case bad\ndomains A B\n"  # steps start on line 3
LONG = "v" * (lang.NAME_LEN - 1)


@pytest.fixture(autouse=True)
def no_headers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_errno_h(monkeypatch, tmp_path, "XEN_ERRNO(EPERM,\t 1)\nXEN_ERRNO(EINVAL,\t22)\n")


def write(tmp_path: Path, text: str | bytes, name: str = "t.evt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def many_vars(n: int) -> str:
    return "".join(f"A count 1 => v{i}\n" for i in range(n))


# Each was accepted before and refused by the guest only after Xen had booted.
REFUSED = [
    pytest.param(HEAD + "A send first\n", 3, "bad value `first`", id="keyword-for-a-number"),
    pytest.param(HEAD + "A pingpong 1 1 third 10\n", 3, "expected `first` or `second`, got `third`", id="role"),
    pytest.param(HEAD + "A close 1 => x\n", 3, "close has no value to save with `=>`", id="save-without-value"),
    pytest.param(HEAD + "A close 1 -> ok 5\n", 3, "close has no value to expect", id="value-without-value"),
    pytest.param(HEAD + "A send \u0663\n", 3, "bad value `\u0663`", id="arabic-digit"),
    pytest.param(HEAD + "A send \uff11\n", 3, "bad value `\uff11`", id="fullwidth-digit"),
    pytest.param(HEAD + "A send 18446744073709551616\n", 3, "out of range", id="over-64-bits"),
    pytest.param(HEAD + "A send 9223372036854775808\n", 3, "out of range", id="over-int64"),
    pytest.param(HEAD + "A send 0x8000000000000000\n", 3, "out of range", id="hex-over-int64"),
    pytest.param(HEAD + "A send -1\n", 3, "bad value `-1`", id="negative"),
    pytest.param(HEAD + "A send 1 -> ERR-0\n", 3, "bad expectation `ERR-0`", id="err-zero"),
    pytest.param(
        HEAD + "A status self 1 -> ok interdomain dom=1 dom=2 dom=3 dom=4 dom=5 dom=6\n",
        3,
        "status field `dom` given twice",
        id="repeated-status-field",
    ),
    pytest.param(HEAD + "A status self 1 -> ok closed vcpu=0\n", 3, "closed reports none", id="field-of-closed"),
    pytest.param(f"case {'c' * lang.NAME_LEN}\ndomains A\nA send 1\n", 1, "expected `case <name>`", id="case-name"),
    pytest.param(f"case x\ndomains A{'b' * 63}\n", 2, "expected `domains A [B ...]`", id="domain-name"),
    pytest.param(HEAD + f"A count 1 => {LONG}v\n", 3, "`=> <variable>` must end the step", id="variable-name"),
    pytest.param(
        "case x\ndomains A\n"
        + "".join(f"A count 1 => {c}{LONG[1:]}\n" for c in "abcde")
        + f"A wait $a{LONG[1:]} $b{LONG[1:]} $c{LONG[1:]} -> ok $d{LONG[1:]} => f{LONG[1:]}\n",
        8,
        "the guest would refuse A's script: line longer than 255 characters",
        id="compiled-line-too-long",
    ),
    pytest.param(
        "case x\ndomains A\n" + many_vars(lang.MAX_VARS + 1),
        3 + lang.MAX_VARS,
        f"more than {lang.MAX_VARS} variables in one case",
        id="too-many-variables",
    ),
    pytest.param(
        # B fetches A's variables: they count in B's script too.
        "case x\ndomains A B\n"
        + many_vars(lang.MAX_VARS)
        + "".join(f"B send $v{i}\n" for i in range(lang.MAX_VARS))
        + "B count 1 => w\n",
        3 + 2 * lang.MAX_VARS,
        "the guest would refuse B's script: more than",
        id="too-many-variables-fetched",
    ),
    pytest.param(HEAD + "A send 1 -> ENOSYS\n", 3, "ENOSYS is not an errno in Xen's", id="errno-from-headers"),
    pytest.param(
        HEAD + f"A rtt 1 {lang.RTT_MAX + 1} first 10\n",
        3,
        f"the guest would refuse A's script: more round trips than RTT_MAX: '{lang.RTT_MAX + 1}'",
        id="rtt-over-limit",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), REFUSED)
def test_refused_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, text)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:{line}: "), out
    assert fragment in out[0]


def test_within_the_limits_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        f"case {'c' * (lang.NAME_LEN - 1)}\ndomains A B{'b' * 62}\n"
        + many_vars(lang.MAX_VARS)
        + f"A count 1 -> ok {lang.INT64_MAX}\nA wait 1 1 0x7fffffffffffffff\nA send 1 -> ERR-5\n"
        + f"A rtt 1 {lang.RTT_MAX} first 10 -> ok {lang.RTT_MAX}\n"
        + f"B{'b' * 62} count 1 => {LONG}\nB{'b' * 62} status self 1 -> ok interdomain dom=@A port=2 vcpu=${LONG}\n",
    )
    assert main(["check", str(path)]) == 0
    assert "1 file(s), 1 case(s): ok" in capsys.readouterr().out


def test_every_problem_of_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, HEAD + "A send first\nA close 1 => x\nB send 1\nA frob\n", "a.evt")
    b = write(tmp_path, "case good\ndomains A\nA send 1\ncase other\ndomains A\nA send 1 -> ok 1\n", "b.evt")
    c = write(tmp_path, "case fine\ndomains A\nA send 1\n", "c.evt")
    assert main(["check", str(a), str(b), str(c)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(": ", 1)[0] for ln in out] == [f"{a}:3", f"{a}:4", f"{a}:6", f"{b}:6"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"case x\ndomains A\n\x00\x01\x02", ": a binary file, not a case file", id="binary"),
        pytest.param(b"case x\ndomains A\nA send 1 # caf\xe9\n", ":3: not UTF-8 text", id="latin-1"),
        pytest.param(
            b"\xef\xbb\xbfcase x\ndomains A\nA send 1\n",
            ":1: starts with a UTF-8 byte-order mark (bytes EF BB BF): save it as UTF-8 without one",
            id="bom",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, fragment: str) -> None:
    path = write(tmp_path, content)
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}{fragment}\n"
    assert check_file(path) == ([], [f"{path}{fragment}"])


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.evt"
    assert main(["check", str(missing), str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(
        [f"{missing}: cannot read: No such file or directory", f"{tmp_path}: cannot read: Is a directory"]
    )


def test_without_headers_errno_names_are_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVT_XEN_INCLUDE", "")
    monkeypatch.setattr("orchestrator.check.BUILD", tmp_path / "no-build")
    path = write(tmp_path, HEAD + "A send 1 -> ENOSYS\n")
    assert main(["check", str(path)]) == 0
    assert "errno names were not checked" in capsys.readouterr().err


def test_the_real_cases_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVT_XEN_INCLUDE", "")
    monkeypatch.setattr("orchestrator.check.BUILD", tmp_path / "no-build")
    repo = Path(__file__).resolve().parents[2]
    files = sorted((repo / "cases").glob("*.evt")) + sorted((repo / "tests" / "selftest").glob("*.evt"))
    assert main(["check", *map(str, files)]) == 0


def test_a_file_name_never_becomes_a_script_line(tmp_path: Path) -> None:
    path = write(tmp_path, "case x\ndomains A\nA send 1\n", "evil\n1 fault 0\n'$(reboot)'.evt")
    (case,) = parse_file(path)
    (script,) = compile_group(Group(1, case.config, (case,))).values()
    assert script.splitlines()[1:] == ["case x", "3 send 1 -> ok", "end"]
    assert script.splitlines()[0] == "# x: evil?1?fault?0????reboot??.evt:1"  # a comment, whatever it reads
    assert all(err is None for _, err in lang.check_script(script.encode()))


def test_config_of_a_case() -> None:
    assert Case("x", Path("x.evt"), 1, domains=("A",)).config == Config(("A",))


def test_the_docs_list_exactly_the_ops_of_the_header() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "guest-script.md").read_text()
    rows = set(re.findall(r"^\| `(\w+)` \|", docs, re.M)) - set(lang.LIMITS) - {"ok"}  # ok: an expectation
    assert rows == set(lang.OPS)


def test_a_file_name_with_a_newline_is_shown_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two\nlines.evt"
    path.write_text("case a\ndomains A\nA send first\n")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "two\\nlines.evt':3: bad value `first`" in out


def test_devices_and_fifos_are_refused_unread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `check /dev/zero` read without end; a FIFO hung the check. Both are named, nothing is read.
    fifo = tmp_path / "cases.evt"
    os.mkfifo(fifo)
    assert main(["check", "/dev/zero", str(fifo)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["/dev/zero: not a regular file (a character device)", f"{fifo}: not a regular file (a FIFO)"]


def test_a_case_file_past_its_size_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("orchestrator.cases.parse.MAX_CASE_FILE", 1 << 20)
    path = write(tmp_path, "case x\ndomains A\n" + "A send 1\n" * (1 << 17))
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}: too large: {path.stat().st_size} bytes, more than 1 MiB\n"


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What argparse says of a command line it refuses (exit 2, before anything is read or run)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("xen", "fragment"),
    [
        pytest.param("/etc/passwd", "/etc/passwd: not a hypervisor image: neither ELF nor gzip", id="text-file"),
        pytest.param("debug:nonsuite", "debug:nonsuite: debug:<suite> takes a Debian suite (bookworm", id="debug"),
        pytest.param("src:/nonexistent", "src:/nonexistent: not a Xen source tree", id="src-tree"),
        pytest.param("bookwrom", "bookwrom: neither a Debian suite", id="typo"),
        pytest.param("", "'': neither a Debian suite", id="empty"),
    ],
)
def test_check_refuses_a_bad_xen(tmp_path: Path, capsys: pytest.CaptureFixture[str], xen: str, fragment: str) -> None:
    # `check --xen /etc/passwd` checked the cases without errno names and exited 0.
    path = write(tmp_path, "case x\ndomains A\nA send 1\n")
    err = _usage_error(["--xen", xen, "check", str(path)], capsys)
    assert f"argument --xen: {fragment}" in err


def test_check_refuses_a_hypervisor_no_toolstack_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An image `run` would refuse before booting: `check` does not pass it either (ERROR, exit 4).
    xen = tmp_path / "xen"
    xen.write_bytes(b"\x7fELF and no version anywhere")
    path = write(tmp_path, "case x\ndomains A\nA send 1\n")
    assert main(["--xen", str(xen), "check", str(path)]) == 4
    assert f"set-up failed: cannot tell which Xen version {xen} is" in capsys.readouterr().err


def test_check_takes_a_good_xen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "case x\ndomains A\nA send 1\n")
    (tmp_path / "tree" / "xen").mkdir(parents=True)
    (tmp_path / "tree" / "xen" / "Makefile").write_text("")
    for xen in ("trixie", "debug:bookworm", f"src:{tmp_path / 'tree'}"):
        assert main(["--xen", xen, "check", str(path)]) == 0, xen
    assert capsys.readouterr().out.count("1 file(s), 1 case(s): ok") == 3


def test_matrix_refuses_a_bad_xen_before_it_runs_a_column(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["matrix", "--xens", "bookworm,debug:sid"], capsys)
    assert "argument --xens: debug:sid: debug:<suite> takes a Debian suite" in err


@pytest.mark.parametrize("where", ["/nonexistent", "{tmp}", "{tmp}/include/xen/errno.h", "/dev/zero"])
def test_a_bad_evt_xen_include_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # EVT_XEN_INCLUDE=/nonexistent was a FileNotFoundError traceback.
    value = where.format(tmp=tmp_path)
    monkeypatch.setenv("EVT_XEN_INCLUDE", value)
    path = write(tmp_path, "case x\ndomains A\nA send 1\n")
    assert main(["check", str(path)]) == 4
    err = capsys.readouterr().err
    assert f"set-up failed: EVT_XEN_INCLUDE={value}: no xen/errno.h there" in err and "Traceback" not in err


def test_headers_without_errno_names_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "include" / "xen" / "errno.h").write_text("/* not Xen's */\n")
    path = write(tmp_path, "case x\ndomains A\nA send 1 -> EINVAL\n")
    assert main(["check", str(path)]) == 4
    assert f"{tmp_path / 'include' / 'xen' / 'errno.h'}: no XEN_ERRNO(name, value) lines" in capsys.readouterr().err


def test_a_long_file_name_fits_the_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The comment line naming the file ran past MAX_LINE: check passed, and the run was refused
    # after the boot with no file or line. Check and run now compile the same lines, the
    # comment cut to fit.
    name = "n" * (lang.NAME_LEN - 1)
    path = write(tmp_path, f"case {name}\ndomains A B\nA count 1 => v\nB send $v\n", "f" * 251 + ".evt")
    assert main(["check", str(path)]) == 0
    (case,) = parse_file(path)
    for index in (1, 123_456_789):
        for script in compile_group(Group(index, case.config, (case,))).values():
            assert all(err is None for _, err in lang.check_script(script.encode()))
            first = script.splitlines()[0]
            assert len(first) == lang.MAX_LINE and first.startswith(f"# {name}: fff") and first.endswith("...:1")


def test_a_script_the_guest_would_refuse_names_its_case_file_and_line() -> None:
    # The guard behind the checks: were a line to slip past them, the run names where it came from.
    step = Step(7, "A", "send", ("9" * 300,), ("ok",), None, None, False, "")
    case = Case("x", Path("dir/x.evt"), 5, domains=("A",), steps=[step])
    with pytest.raises(CaseFileError) as info:
        compile_group(Group(3, case.config, (case,)))
    refused = "the guest would refuse A's script: line longer than 255 characters"
    assert info.value.detail == f"dir/x.evt:7: group 3: {refused}"


def test_fuzz_vcpus_past_the_guests_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["fuzz", "--vcpus", "9"], capsys)
    assert "argument --vcpus: 9: a guest runs on at most 8 vcpus" in err
