"""Hypervisors from a source tree (`--xen src:<tree>`) and the bisect step's exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.errors import SetupError
from orchestrator.xenbuild import build_tree, tree_key


def _git(tree: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)  # fmt: skip


def test_a_tree_is_named_by_its_commit_and_its_local_changes(tmp_path: Path) -> None:
    (tmp_path / "xen").mkdir()
    (tmp_path / "xen" / "Makefile").write_text("all:\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    clean = tree_key(tmp_path)
    assert "dirty" not in clean and len(clean) == 12
    (tmp_path / "xen" / "Makefile").write_text("all:\n\ttrue\n")
    dirty = tree_key(tmp_path)
    assert dirty.startswith(clean + "-dirty-")
    (tmp_path / "xen" / "new.c").write_text("int x;\n")
    assert tree_key(tmp_path) not in (clean, dirty)  # an untracked file counts too


def test_a_tree_that_is_no_git_checkout_is_named_by_its_contents(tmp_path: Path) -> None:
    (tmp_path / "xen").mkdir()
    (tmp_path / "xen" / "a.c").write_text("1")
    first = tree_key(tmp_path)
    (tmp_path / "xen" / "a.c").write_text("2")
    assert first.startswith("content-") and tree_key(tmp_path) != first


def test_something_else_is_refused_before_any_build(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="not a Xen source tree"):
        build_tree(tmp_path, tmp_path / "build")


def test_bisect_step_skips_a_tree_that_does_not_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(xen: str) -> None:
        raise SetupError("`make -C xen` failed")

    monkeypatch.setattr(cli, "prepare", broken)
    assert cli.main(["--xen", "src:/nowhere", "bisect-step"]) == cli.BISECT_SKIP == 125
