"""Saved machines: orchestrator.snapshot's key and the run disk that keeps runs out of the state."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator import snapshot
from orchestrator.initramfs import RUN_DISK_BYTES, build_run_disk
from orchestrator.machine import BootImages, QemuConfig


@pytest.fixture(autouse=True)
def no_qemu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "qemu_version", lambda binary: "7.2.22")


def boot(tmp: Path, run: str = "run1", xen: bytes = b"xen") -> BootImages:
    for name, data in (("xen", xen), ("vmlinuz", b"linux"), ("initrd.cpio", b"cpio")):
        (tmp / name).write_bytes(data)
    (tmp / run).mkdir(exist_ok=True)
    return BootImages(
        tmp / "xen", "console=com1", tmp / "vmlinuz", "console=hvc0", tmp / "initrd.cpio", tmp / run / "d"
    )


def test_key_ignores_where_a_run_keeps_its_files(tmp_path: Path) -> None:
    a = snapshot.key(QemuConfig(), boot(tmp_path, "run1"))
    assert snapshot.key(QemuConfig(), boot(tmp_path, "run2")) == a


def test_key_changes_with_anything_the_machine_depends_on(tmp_path: Path) -> None:
    a = snapshot.key(QemuConfig(), boot(tmp_path))
    assert snapshot.key(QemuConfig(), boot(tmp_path, xen=b"another build")) != a
    assert snapshot.key(QemuConfig(memory_mb=2048), boot(tmp_path)) != a
    b = boot(tmp_path)
    other = BootImages(b.xen, "console=com1 loglvl=all", b.dom0_kernel, b.dom0_cmdline, b.initrd, b.run_disk)
    assert snapshot.key(QemuConfig(), other) != a


def test_find_keeps_the_newest_few(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for i in range(snapshot.KEEP + 2):
        (store / f"old{i}").mkdir(parents=True)
    snap = snapshot.find(store, QemuConfig(), boot(tmp_path))
    assert snap.dir.is_dir() and not snap.exists()
    assert len(list(store.iterdir())) == snapshot.KEEP and snap.dir in list(store.iterdir())


def test_run_disk_is_a_fixed_size_cpio_of_the_files(tmp_path: Path) -> None:
    src = tmp_path / "guest"
    src.write_bytes(b"\x7fELF...")
    disk = build_run_disk(
        {"/evt/evtchn-guest": src, "/evt/g1/A.script": "case x\nend\n"}, tmp_path / "s", tmp_path / "d"
    )
    assert disk.stat().st_size == RUN_DISK_BYTES
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["cpio", "--quiet", "-idm"], cwd=out, stdin=open(disk, "rb"), check=True)
    assert (out / "evt" / "evtchn-guest").read_bytes() == b"\x7fELF..."
    assert (out / "evt" / "g1" / "A.script").read_text() == "case x\nend\n"


def test_a_state_without_whole_notes_does_not_count(tmp_path: Path) -> None:
    snap = snapshot.Snapshot(tmp_path)
    snap.state.write_bytes(b"QEVM")
    assert not snap.exists()  # stopped between the state and its notes
    snap.meta_path.write_text("{not json")
    assert not snap.exists()
    snap.write_meta({"debug": "n"})
    assert snap.exists() and snap.meta() == {"debug": "n"}
    snap.drop()
    assert not snap.exists() and not snap.state.exists()
