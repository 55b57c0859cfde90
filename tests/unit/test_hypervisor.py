"""orchestrator.hypervisor: which toolstack a hypervisor needs, decided before any boot."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import SetupError
from orchestrator.hypervisor import hypervisor_version, resolve


def _build_tree(tmp_path: Path, major: int, minor: int) -> Path:
    (tmp_path / "include" / "xen").mkdir(parents=True)
    (tmp_path / "include" / "xen" / "compile.h").write_text(
        f'#define XEN_VERSION\t\t{major}\n#define XEN_SUBVERSION\t\t{minor}\n#define XEN_EXTRAVERSION\t".0"\n'
    )
    xen = tmp_path / "xen"
    xen.write_bytes(b"\x7fELF not really")
    return xen


def test_suites_resolve_to_themselves() -> None:
    assert resolve("bookworm") == ("bookworm", None)
    assert resolve("trixie") == ("trixie", None)


def test_a_build_tree_hypervisor_gets_the_matching_toolstack(tmp_path: Path) -> None:
    xen = _build_tree(tmp_path, 4, 20)
    assert hypervisor_version(xen) == "4.20"
    assert resolve(str(xen)) == ("trixie", xen)


def test_a_mismatched_hypervisor_is_refused_naming_both_versions(tmp_path: Path) -> None:
    xen = _build_tree(tmp_path, 4, 18)
    with pytest.raises(SetupError) as info:
        resolve(str(xen))
    msg = str(info.value)
    assert "Xen 4.18" in msg and "bookworm has 4.17" in msg and "trixie has 4.20" in msg
    assert "refused before boot" in msg
    assert "XEN=src:<tree>" in msg  # what to do instead


def test_the_command_line_refuses_it_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xen = _build_tree(tmp_path, 4, 18)
    # A set-up error: the harness's ERROR (exit 4), not a verdict on any Xen.
    assert main(["--xen", str(xen), "run"]) == 4
    assert "Xen 4.18" in capsys.readouterr().err


def test_debian_version_string_inside_a_gzipped_image(tmp_path: Path) -> None:
    xen = tmp_path / "sub" / "xen.gz"
    xen.parent.mkdir()
    xen.write_bytes(gzip.compress(b"\x7fELF junk\x004.17.7+13-g2445b30a44-0+deb12u1\x00more"))
    assert hypervisor_version(xen) == "4.17"


def test_unknown_version_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    xen = tmp_path / "xen"
    xen.write_bytes(b"\x7fELF, but no version here")
    with pytest.raises(SetupError, match="cannot tell which Xen version"):
        hypervisor_version(xen)
    with pytest.raises(SetupError, match="neither a Debian suite"):
        resolve(str(tmp_path / "nope"))


def _gzip_of_elf() -> bytes:
    return gzip.compress(b"\x7fELF" + bytes(range(256)) * 64 + b"\x004.17.7+13-g2445b30a44-0+deb12u1\x00")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(_gzip_of_elf()[:-100], "a truncated gzip file", id="truncated-gz"),
        pytest.param(_gzip_of_elf()[:5] + b"\xff" * 40, "a damaged gzip file", id="damaged-gz"),
        pytest.param(gzip.compress(b"#!/bin/sh\necho xen\n"), "not a hypervisor image: neither ELF", id="gz-text"),
        pytest.param(b"root:x:0:0:root:/root:/bin/bash\n", "not a hypervisor image: neither ELF", id="text"),
        pytest.param(b"", "not a hypervisor image", id="empty"),
    ],
)
def test_what_is_no_hypervisor_image_is_named_as_such(tmp_path: Path, content: bytes, fragment: str) -> None:
    # A truncated xen.gz was an EOFError traceback; a text file "of unknown Xen version".
    xen = tmp_path / "xen.gz"
    xen.write_bytes(content)
    with pytest.raises(SetupError) as info:
        resolve(str(xen))
    assert info.value.detail.startswith(f"{xen}: ") and fragment in info.value.detail


def test_a_whole_gzipped_image_still_reads(tmp_path: Path) -> None:
    xen = tmp_path / "xen.gz"
    xen.write_bytes(_gzip_of_elf())
    assert resolve(str(xen)) == ("bookworm", xen)


def test_a_device_is_no_hypervisor_image() -> None:
    with pytest.raises(SetupError, match=r"^set-up failed: /dev/zero: not a regular file \(a character device\)$"):
        resolve("/dev/zero")
