"""orchestrator.artifacts: reading the host's apt sources (the parts that need no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import artifacts
from orchestrator.artifacts import KEYRING, SUITES, _parse_deb822, _parse_one_line
from orchestrator.errors import SetupError

DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_deb822_debian_default() -> None:
    key = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert _parse_deb822(DEBIAN_SOURCES) == [
        ("http://deb.debian.org/debian", "bookworm", key),
        ("http://deb.debian.org/debian", "bookworm-updates", key),
        ("http://deb.debian.org/debian-security", "bookworm-security", key),
    ]


def test_deb822_uris_times_suites_and_details() -> None:
    text = (
        "# a comment before the stanza\n"
        "types: deb deb-src\n"  # keys are case-insensitive
        "URIs: http://a.example/debian http://b.example/debian\n"
        "Suites: trixie trixie-updates\n"
        "Components: main contrib\n"
        "\n"
        "   \n"
        "Types: deb-src\n"
        "URIs: http://src.example/debian\n"
        "Suites: trixie\n"
        "\n"
        "Types: deb\n"
        "Enabled: no\n"
        "URIs: http://disabled.example/debian\n"
        "Suites: trixie\n"
        "\n"
        "Types: deb\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: sid\n"
        "Signed-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
        " .\n"
        " mQINBFxxx\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n"
    )
    assert _parse_deb822(text) == [
        ("http://a.example/debian", "trixie", ""),
        ("http://a.example/debian", "trixie-updates", ""),
        ("http://b.example/debian", "trixie", ""),
        ("http://b.example/debian", "trixie-updates", ""),
        ("http://mirror.example/debian", "sid", ""),  # inline key: no file to point at
    ]


def test_deb822_empty() -> None:
    assert _parse_deb822("") == []
    assert _parse_deb822("# nothing here\n") == []


def test_one_line_sources() -> None:
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://deb.debian.org/debian bookworm main contrib  # trailing comment\n"
        "deb-src http://deb.debian.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://x.example/debian bookworm-updates main\n"
        "deb [ signed-by=/k.gpg ] http://y.example/debian bookworm-security main\n"
        "deb [trusted=yes] http://z.example/debian bookworm-backports main\n"
        "   deb http://indented.example/debian bookworm main\n"
        "deb http://broken.example/debian\n"
        "\n"
    )
    assert _parse_one_line(text) == [
        ("http://deb.debian.org/debian", "bookworm", ""),
        ("http://x.example/debian", "bookworm-updates", "/etc/apt/keyrings/x.gpg"),
        ("http://y.example/debian", "bookworm-security", "/k.gpg"),
        ("http://z.example/debian", "bookworm-backports", ""),
        ("http://indented.example/debian", "bookworm", ""),
    ]


def test_suites() -> None:
    assert SUITES["bookworm"].hypervisor_pkg == "xen-hypervisor-4.17-amd64"
    assert SUITES["bookworm"].utils_pkg == "xen-utils-4.17"
    assert SUITES["trixie"].hypervisor_pkg == "xen-hypervisor-4.20-amd64"


def fake_etc_apt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, codename: str) -> Path:
    etc_apt = tmp_path / "etc-apt"
    (etc_apt / "sources.list.d").mkdir(parents=True)
    real_path = Path

    def path(p: str) -> Path:
        return etc_apt if p == "/etc/apt" else real_path(p)

    monkeypatch.setattr(artifacts, "Path", path)
    monkeypatch.setattr(artifacts, "_host_codename", lambda: codename)
    return etc_apt


def test_host_sources_repoints_the_host_codename(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    etc_apt = fake_etc_apt(monkeypatch, tmp_path, "bookworm")
    (etc_apt / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    (etc_apt / "sources.list").write_text(
        "deb http://old.example/debian bookworm main\n"
        "deb http://other.example/ubuntu jammy main\n"  # not the host's codename
        "deb http://bookwormish.example/debian bookwormish main\n"
    )
    (etc_apt / "sources.list.d" / "extra.list").write_text(
        "deb [signed-by=/k.gpg] http://x.example/debian bookworm-backports main\n"
    )
    key = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert artifacts.host_sources("trixie") == sorted(
        [
            f"deb [signed-by={key}] http://deb.debian.org/debian trixie main",
            f"deb [signed-by={key}] http://deb.debian.org/debian trixie-updates main",
            f"deb [signed-by={key}] http://deb.debian.org/debian-security trixie-security main",
            f"deb [signed-by={KEYRING}] http://old.example/debian trixie main",
            "deb [signed-by=/k.gpg] http://x.example/debian trixie-backports main",
        ]
    )


def test_host_sources_without_a_matching_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    etc_apt = fake_etc_apt(monkeypatch, tmp_path, "noble")
    (etc_apt / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    with pytest.raises(SetupError, match="no Debian 'noble' entry"):
        artifacts.host_sources("bookworm")


def test_host_codename(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    real_path = Path

    def path(p: str) -> Path:
        return os_release if p == "/etc/os-release" else real_path(p)

    monkeypatch.setattr(artifacts, "Path", path)
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME="bookworm"\nID=debian\n')
    assert artifacts._host_codename() == "bookworm"
    os_release.write_text("ID=debian\n")
    with pytest.raises(SetupError, match="VERSION_CODENAME"):
        artifacts._host_codename()
