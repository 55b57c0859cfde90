"""orchestrator.initramfs.module_order: the dom0 modules, each after its dependencies."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator import initramfs
from orchestrator.errors import SetupError
from orchestrator.initramfs import DOM0_MODULES, module_order


def ko(root: Path, rel: str, depends: str | None) -> Path:
    """A fake module: some ELF-ish bytes around a .modinfo-like block."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    info = b"license=GPL\0"
    if depends is not None:
        info += b"depends=" + depends.encode() + b"\0"
    info += b"intree=Y\0vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions \0"
    path.write_bytes(b"\x7fELF\x02\x01\x01\0" + b"\0" * 32 + info + b"\0\0more data")
    return path


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_dependencies_come_first(tmp_path: Path) -> None:
    ko(tmp_path, "kernel/drivers/xen/xen-evtchn.ko", "xen-common,base")
    ko(tmp_path, "kernel/drivers/xen/xen_common.ko", "base")
    ko(tmp_path, "kernel/lib/base.ko", "")
    ko(tmp_path, "kernel/drivers/xen/xenfs.ko", "xen-common")
    ko(tmp_path, "kernel/drivers/xen/unrelated.ko", None)
    order = module_order(tmp_path, ("xen-evtchn", "xenfs"))
    assert names(order) == ["base.ko", "xen_common.ko", "xen-evtchn.ko", "xenfs.ko"]
    assert order[0] == tmp_path / "kernel/lib/base.ko"


def test_each_module_once_in_wanted_order(tmp_path: Path) -> None:
    ko(tmp_path, "a.ko", "")
    ko(tmp_path, "b.ko", "a")
    ko(tmp_path, "c.ko", "a,b")
    assert names(module_order(tmp_path, ("c", "b", "a", "c"))) == ["a.ko", "b.ko", "c.ko"]
    assert names(module_order(tmp_path, ("a",))) == ["a.ko"]
    assert module_order(tmp_path, ()) == []


def test_dash_and_underscore_are_the_same(tmp_path: Path) -> None:
    ko(tmp_path, "xen_gntdev.ko", "xen-base")
    ko(tmp_path, "xen-base.ko", None)
    assert names(module_order(tmp_path, ("xen-gntdev",))) == ["xen-base.ko", "xen_gntdev.ko"]
    assert names(module_order(tmp_path, ("xen_gntdev",))) == ["xen-base.ko", "xen_gntdev.ko"]


def test_missing_module(tmp_path: Path) -> None:
    ko(tmp_path, "a.ko", "")
    with pytest.raises(SetupError) as exc:
        module_order(tmp_path, ("a", "xen-privcmd"))
    assert exc.value.detail == f"dom0 kernel module xen-privcmd not found under {tmp_path}"


def test_built_in_modules_need_no_loading(tmp_path: Path) -> None:
    ko(tmp_path, "virtio_blk.ko", "virtio,virtio_ring")
    (tmp_path / "modules.builtin").write_text(
        "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio_pci.ko\n"
    )
    assert names(module_order(tmp_path, ("virtio-pci", "virtio-blk"))) == ["virtio_blk.ko"]


def test_missing_dependency(tmp_path: Path) -> None:
    ko(tmp_path, "a.ko", "gone")
    with pytest.raises(SetupError, match="dom0 kernel module gone not found"):
        module_order(tmp_path, ("a",))


def test_dependency_loop(tmp_path: Path) -> None:
    ko(tmp_path, "a.ko", "b")
    ko(tmp_path, "b.ko", "c")
    ko(tmp_path, "c.ko", "a")
    with pytest.raises(SetupError) as exc:
        module_order(tmp_path, ("a",))
    assert exc.value.detail == "module dependency loop: a -> b -> c -> a"


def test_real_dom0_modules_if_fetched() -> None:
    modules = Path(__file__).resolve().parents[2] / "build/debian/bookworm/kernel/lib/modules"
    trees = sorted(modules.glob("*")) if modules.is_dir() else []
    if not trees:
        pytest.skip("bookworm's dom0 kernel not fetched")
    order = module_order(trees[0], DOM0_MODULES)
    found = [p.stem.replace("_", "-") for p in order]
    for name in DOM0_MODULES:
        assert name in found
    assert len(found) == len(set(found))


def test_a_run_disk_too_small_names_its_largest_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initramfs, "RUN_DISK_BYTES", 64 << 10)
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"k" * (50 << 10))
    files: dict[str, Path | str] = {"/evt/linux-vmlinuz": kernel, "/evt/g1/A.script": "1 send 1\n" * 3000}
    with pytest.raises(SetupError) as info:
        initramfs.build_run_disk(files, tmp_path / "stage", tmp_path / "disk.img")
    assert "more than the run disk's 65536; the largest: /evt/linux-vmlinuz (51200 bytes), /evt/g1/A.script (27000" in (
        info.value.detail
    )


def _stage(root: Path, order: list[str], when: int) -> Path:
    """A folder of the same files, made in `order` at time `when`."""
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("link"):
            path.symlink_to("x")
        else:
            path.write_text(f"{name}\n")
        os.utime(path, (when, when), follow_symlinks=False)
    return root


def test_an_archive_of_the_same_files_is_the_same_bytes(tmp_path: Path) -> None:
    """A saved machine is keyed by its initramfs's bytes: rebuilt from the same files (another
    Xen's run in between), it must name the same machine, whatever order and times they had."""
    names = ["usr/bin/x", "usr/lib/evt/a", "init", "usr/lib/evt/link"]
    one, two = tmp_path / "one.cpio", tmp_path / "two.cpio"
    initramfs.write_cpio(_stage(tmp_path / "a", names, 1_000_000), one)
    initramfs.write_cpio(_stage(tmp_path / "b", names[::-1], 2_000_000), two)
    assert one.read_bytes() == two.read_bytes()
    listed = subprocess.run(["cpio", "-it", "--quiet"], stdin=one.open("rb"), capture_output=True, text=True).stdout
    dirs = ["usr", "usr/bin", "usr/lib", "usr/lib/evt"]
    assert listed.split() == sorted([*dirs, *names])  # each folder before what is in it
    initramfs.write_cpio(_stage(tmp_path / "c", [*names, "usr/lib/evt/b"], 1_000_000), two)
    assert one.read_bytes() != two.read_bytes()
