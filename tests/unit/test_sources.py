"""orchestrator.sources: which source a --xen value names, and what each says of itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import sources
from orchestrator.errors import SetupError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("spec", "form"),
    [
        ("bookworm", "a Debian suite (bookworm, trixie)"),
        ("debug:trixie", "debug:<suite>"),
        ("src:/some/tree", "src:<tree>"),
        ("/boot/xen.gz", "a hypervisor file"),
        ("bookwrom", "a hypervisor file"),  # any other value is a file, which check() then refuses
    ],
)
def test_each_value_names_one_source(spec: str, form: str) -> None:
    assert sources.find(spec).form == form


def test_checks_refuse_what_can_be_no_xen(tmp_path: Path) -> None:
    (tmp_path / "xen").mkdir()
    (tmp_path / "xen" / "Makefile").write_text("")
    sources.check(f"src:{tmp_path}")
    with pytest.raises(SetupError, match="not a Xen source tree"):
        sources.check(f"src:{tmp_path / 'nope'}")
    with pytest.raises(SetupError, match="debug:<suite> takes a Debian suite"):
        sources.check("debug:sid")
    forms = "neither a Debian suite .*, debug:<suite>, src:<tree>, ci:<binaries> nor a hypervisor file"
    with pytest.raises(SetupError, match=forms):
        sources.check("bookwrom")


def test_only_a_tree_counts_coverage() -> None:
    assert [s.form for s in sources._registry() if s.coverage] == ["src:<tree>"]
    assert sources.require("src:/t", coverage=True).form == "src:<tree>"
    with pytest.raises(SetupError, match=r"--coverage needs XEN=src:<tree> .*not 'bookworm'"):
        sources.require("bookworm", coverage=True)


def test_help_names_every_source() -> None:
    text = sources.help_text()
    assert all(s.form in text for s in sources._registry())


def test_the_makefile_asks_for_host_packages_without_the_venv() -> None:
    # Run by the host's python3, from the checkout, before `make venv` made one.
    host = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

    def deps(spec: str) -> list[str]:
        out = subprocess.run(
            [host, "-E", "-s", "-m", "orchestrator.sources", "host-deps", spec],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return out.split()

    assert deps("bookworm") == []
    assert deps("debug:bookworm") == ["flex", "bison", "dpkg-dev"]
    both = deps("debug:bookworm,src:/t")
    assert both[:3] == ["flex", "bison", "dpkg-dev"] and "autoconf" in both and len(both) == len(set(both))


def test_ci_artifacts_are_checked_before_anything_is_fetched(tmp_path: Path) -> None:
    assert sources.find(f"ci:{tmp_path}").form == "ci:<binaries>"
    with pytest.raises(SetupError, match="no hypervisor"):
        sources.check(f"ci:{tmp_path}")
    (tmp_path / "xen.gz").write_bytes(b"")
    with pytest.raises(SetupError, match=r"no toolstack \(dist/install/ or xen-tools.cpio.gz\)"):
        sources.check(f"ci:{tmp_path}")
    (tmp_path / "dist" / "install").mkdir(parents=True)
    sources.check(f"ci:{tmp_path}")
    with pytest.raises(SetupError, match="not a folder"):
        sources.check(f"ci:{tmp_path / 'nope'}")


def test_a_toolstack_built_against_musl_is_refused(tmp_path: Path) -> None:
    from orchestrator.sources import ci

    tools = tmp_path / "install"
    for need in ci.NEEDED:
        (tools / need).parent.mkdir(parents=True, exist_ok=True)
        (tools / need).write_text("")
    with pytest.raises(SetupError, match="musl"):
        # An ELF whose interpreter is musl's, as an Alpine build job leaves xl.
        elf = subprocess.run(["readelf", "-l", "/bin/true"], capture_output=True, text=True).stdout
        assert "ld-linux" in elf
        data = Path("/bin/true").read_bytes().replace(b"/lib64/ld-linux-x86-64.so.2", b"/lib/ld-musl-x86_64.so.1\0\0\0")
        (tools / "usr/sbin/xl").write_bytes(data)
        ci._check_tools("ci:x", tools)
    with pytest.raises(SetupError, match="has no usr/sbin/xenstored"):
        (tools / "usr/sbin/xenstored").unlink()
        ci._check_tools("ci:x", tools)
