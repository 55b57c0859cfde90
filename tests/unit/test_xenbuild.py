"""Hypervisors from a source tree (`--xen src:<tree>`) and the bisect step's exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.artifacts import Artifacts
from orchestrator.errors import SetupError
from orchestrator.xenbuild import build_tree, tree_key, with_toolstack


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


def test_bisect_step_skips_a_tree_that_does_not_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(xen: str) -> None:
        raise SetupError("`make -C xen` failed")

    (tmp_path / "xen").mkdir()
    (tmp_path / "xen" / "Makefile").write_text("all:\n\tfalse\n")
    monkeypatch.setattr(cli, "prepare", broken)
    assert cli.main(["--xen", f"src:{tmp_path}", "bisect-step"]) == cli.BISECT_SKIP == 125


def test_a_trees_toolstack_takes_the_place_of_debians_in_dom0(tmp_path: Path) -> None:
    debian = tmp_path / "debian-root"
    for f in ("usr/lib/xen-4.17/bin/xl", "usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17", "usr/sbin/xl",
              "usr/bin/xenstore-read", "usr/lib/x86_64-linux-gnu/libc.so.6", "bin/busybox"):  # fmt: skip
        (debian / f).parent.mkdir(parents=True, exist_ok=True)
        (debian / f).write_text("debian")
    tools = tmp_path / "key-tools" / "tools-dest"
    for f in ("usr/sbin/xl", "usr/lib/libxenctrl.so.4.21.0", "usr/include/xen/xen.h", "usr/lib/libxenctrl.a",
              "usr/lib/pkgconfig/xencontrol.pc", "usr/lib/xen/bin/xen-init-dom0"):  # fmt: skip
        (tools / f).parent.mkdir(parents=True, exist_ok=True)
        (tools / f).write_text("tree")
    p = tmp_path / "x"
    arts = with_toolstack(Artifacts("bookworm", p, p, p, p, debian, {"xen-utils": "4.17"}), tools, tmp_path)
    root = arts.dom0_root
    assert (root / "usr/sbin/xl").read_text() == "tree"
    assert (root / "usr/lib/xen/bin/xen-init-dom0").exists() and (root / "usr/lib/libxenctrl.so.4.21.0").exists()
    assert not list(root.glob("usr/lib/xen-4.17")) and not (root / "usr/bin/xenstore-read").exists()
    assert not (root / "usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17").exists()
    assert (root / "usr/lib/x86_64-linux-gnu/libc.so.6").exists() and (root / "bin/busybox").exists()
    # Headers and static libraries are the guest's build's, not dom0's.
    assert not (root / "usr/include").exists() and not (root / "usr/lib/libxenctrl.a").exists()
    assert arts.include == tools / "usr" / "include"
    assert arts.versions["xen-utils"].startswith(f"built from {tmp_path}")
    assert (debian / "usr/sbin/xl").read_text() == "debian"  # the suite's own root is untouched
