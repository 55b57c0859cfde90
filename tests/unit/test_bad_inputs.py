"""Bad inputs kept as files (data/bad-inputs/, issue 18): each is refused before any boot, its
file and line (or the option) named; never a traceback, never a silent pass.

cases/*.evt and logs/*.log say what is expected of them in a line of their own,
`# expect: <line>: <fragment>` (a comment to the case parser, no guest line to the log's);
baselines/*.txt likewise (a comment to the baseline reader); xen/ holds files given as
--xen, whose expectations are in XEN below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestrator import baseline
from orchestrator.baseline import BaselineError
from orchestrator.cli import main

from .fakes import use_errno_h

CORPUS = Path(__file__).parent / "data" / "bad-inputs"
GOOD = Path(__file__).parent / "data" / "interdomain.evt"
EXPECT = re.compile(rb"^(?:\xef\xbb\xbf)?# expect: (\d+): (.+?)\r*$", re.M)


def expectation(path: Path) -> tuple[int, str]:
    found = EXPECT.findall(path.read_bytes())
    assert len(found) == 1, f"{path}: needs one `# expect: <line>: <fragment>` line"
    line, fragment = found[0]
    return int(line), fragment.decode()


def corpus(folder: str, pattern: str) -> list[Path]:
    files = sorted((CORPUS / folder).glob(pattern))
    assert files, f"no {pattern} in {CORPUS / folder}"
    return files


@pytest.fixture(autouse=True)
def headers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_errno_h(monkeypatch, tmp_path, "XEN_ERRNO(EPERM,\t 1)\nXEN_ERRNO(ESRCH,\t 3)\nXEN_ERRNO(EINVAL,\t22)\n")


@pytest.mark.parametrize("path", corpus("logs", "*.log"), ids=lambda p: p.name)
def test_a_bad_log_line_is_named_by_its_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, fragment = expectation(path)
    assert main(["parse", str(path)]) == 4  # ERROR: a line that cannot be read
    err = capsys.readouterr().err.splitlines()
    assert any(e.startswith(f"{path}:{line}: ERROR: {fragment}") for e in err), err


# xen/<file>: what `--xen <file>` is told (a usage error, exit 2, before anything is read but it).
XEN = {
    "xen": "not a hypervisor image: neither ELF nor gzip (it begins b'This is ')",
    "xen-text.gz": "not a hypervisor image: neither ELF nor gzip (it begins b'#!/bin/s')",
    "xen-truncated.gz": "a truncated gzip file (it ends before its end), not a hypervisor image",
}


def test_every_xen_file_has_its_expectation() -> None:
    assert sorted(p.name for p in corpus("xen", "*")) == sorted(XEN)


@pytest.mark.parametrize("name", sorted(XEN))
def test_a_bad_xen_file_is_a_usage_error(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "xen" / name
    for argv in (["--xen", str(path), "check", str(GOOD)], ["--xen", str(path), "run"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert f"error: argument --xen: {path}: {XEN[name]}" in capsys.readouterr().err


@pytest.mark.parametrize("path", corpus("baselines", "*.txt"), ids=lambda p: p.name)
def test_a_bad_baseline_is_named_by_its_line(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """baselines/*.txt are read before any boot (a run's Session, and check): a bad one is
    named with its line, not met as a traceback once the machine is up."""
    line, fragment = expectation(path)
    folder = tmp_path / "baselines"
    folder.mkdir()
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    monkeypatch.setattr(baseline, "BASELINES", folder)
    with pytest.raises(BaselineError, match=re.escape(f"{copy}:{line}: {fragment}")):
        baseline.read_all()
    assert main(["check", str(GOOD)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{copy}:{line}: {fragment}"), out


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling symlink"])
def test_a_baseline_that_is_no_file_is_refused(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "4.17.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / "gone.txt")
    monkeypatch.setattr(baseline, "BASELINES", tmp_path)
    with pytest.raises(BaselineError, match=re.escape(f"{path}: ")):
        baseline.read_all()
    assert main(["check", str(GOOD)]) == 1
    assert capsys.readouterr().out.startswith(f"{path}: ")


@pytest.mark.parametrize("path", corpus("cases", "*.evt"), ids=lambda p: p.name)
def test_a_bad_case_file_is_refused_at_its_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, fragment = expectation(path)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}:{line}: {fragment}"), out


def _steps(roles: list[str], n: int) -> str:
    """`n` steps taken in turn by `roles`: each turn a barrier in every script."""
    return "".join(f"{roles[i % len(roles)]} send 1\n" for i in range(n))


@pytest.mark.parametrize(
    ("domains", "steps", "fragment"),
    [
        # A guest's script is its ramdisk: it must fit in its memory (half a million steps in turns).
        ("A B", 180_000, "case huge: A's script would take 9982434 bytes, more than a guest holds (8 MiB"),
        # Each fits its guest, but together they do not fit the run disk.
        ("A B C", 140_000, "case huge: its scripts would take"),
    ],
)
def test_a_case_whose_scripts_would_not_fit_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domains: str, steps: int, fragment: str
) -> None:
    path = tmp_path / "huge.evt"
    path.write_text(
        f"case small\ndomains A\nA close 1 -> EINVAL\n\ncase huge\ndomains {domains}\n" + _steps(domains.split(), steps)
    )
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}:5: {fragment}"), out
    assert out[0].endswith(": split the case"), out
