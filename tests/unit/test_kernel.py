"""KERNEL=/MODULES=: a user's kernel is checked before anything boots (orchestrator/kernel.py)."""

from __future__ import annotations

import lzma
import os
import re
import struct
from pathlib import Path

import pytest

from orchestrator.artifacts import Artifacts
from orchestrator.errors import SetupError
from orchestrator.initramfs import peer_kernel
from orchestrator.kernel import REQUIRED, from_environment, image_version, missing_options, with_kernel

DEBIAN = Path(__file__).resolve().parents[2] / "build" / "debian"  # `make setup`'s suites, if fetched
GOOD = "\n".join(f"{name}={want[0]}" for name, want in REQUIRED.items()) + "\n"


def _bzimage(payload: bytes, version: bytes | None = b"6.99.0-test (me@here) #1 SMP", protocol: int = 0x20F) -> bytes:
    """A bzImage as far as the checks and peer_kernel() read one: setup sectors, header
    (magic, protocol, kernel_version pointing at `version`), payload."""
    head = bytearray(5 * 512)
    head[0x1F1] = 4  # setup_sects
    head[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", head, 0x206, protocol)
    if version is not None:
        struct.pack_into("<H", head, 0x20E, 0x300)  # the string at 0x500
        head[0x500 : 0x500 + len(version) + 1] = version + b"\0"
    struct.pack_into("<II", head, 0x248, 0, len(payload))  # payload_offset, payload_length
    return bytes(head) + payload


def _kernel(tmp_path: Path, config: str | None) -> tuple[Path, Path]:
    boot = tmp_path / "boot"
    boot.mkdir()
    vmlinuz = boot / "vmlinuz-6.99.0-test"
    vmlinuz.write_bytes(_bzimage(b"payload"))
    modules = tmp_path / "lib" / "modules" / "6.99.0-test"
    modules.mkdir(parents=True)
    (modules / "modules.builtin").write_text("")
    if config is not None:
        (boot / "config-6.99.0-test").write_text(config)
    return vmlinuz, modules


def _arts(tmp_path: Path) -> Artifacts:
    p = tmp_path / "x"
    return Artifacts("bookworm", p, p, p, p, p, {"dom0-kernel": "6.1.0-56-amd64"})


def test_a_complete_config_misses_nothing() -> None:
    assert missing_options(GOOD) == []


def test_each_missing_option_is_named_with_what_it_needs() -> None:
    text = GOOD.replace("CONFIG_XEN_DEV_EVTCHN=y\n", "# CONFIG_XEN_DEV_EVTCHN is not set\n").replace(
        "CONFIG_XEN_PV=y", "CONFIG_XEN_PV=m"
    )
    assert missing_options(text) == [
        "CONFIG_XEN_PV (want y, has m)",
        "CONFIG_XEN_DEV_EVTCHN (want y or m, has not set)",
    ]


def test_a_kernel_lacking_options_is_refused_before_boot(tmp_path: Path) -> None:
    vmlinuz, modules = _kernel(tmp_path, GOOD.replace("CONFIG_HVC_XEN=y\n", ""))
    with pytest.raises(SetupError, match=r"lacks what dom0 and the Linux peer need:\n  CONFIG_HVC_XEN"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)


def test_a_kernel_without_a_config_is_refused(tmp_path: Path) -> None:
    vmlinuz, modules = _kernel(tmp_path, None)
    with pytest.raises(SetupError, match="its config was not found"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)


def test_a_good_kernel_replaces_the_suites_and_is_named(tmp_path: Path) -> None:
    vmlinuz, modules = _kernel(tmp_path, GOOD)
    arts = with_kernel(_arts(tmp_path), vmlinuz, modules.parent)  # lib/modules with one version will do
    assert (arts.vmlinuz, arts.modules) == (vmlinuz, modules)
    assert arts.versions["dom0-kernel"].startswith("6.99.0-test (KERNEL=")


def test_a_file_of_garbage_is_refused_naming_the_variable_and_the_file(tmp_path: Path) -> None:
    """A real config and real modules beside it: it was accepted up to starting QEMU."""
    vmlinuz, modules = _kernel(tmp_path, GOOD)
    vmlinuz.write_bytes(os.urandom(64 << 10).replace(b"HdrS", b"...."))
    with pytest.raises(SetupError, match=rf"KERNEL={re.escape(str(vmlinuz))}: not an x86 bzImage \(no 'HdrS'"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)
    vmlinuz.write_bytes(b"")
    with pytest.raises(SetupError, match="not an x86 bzImage"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)


def test_a_kernel_of_another_version_than_its_modules_is_refused(tmp_path: Path) -> None:
    vmlinuz, modules = _kernel(tmp_path, GOOD)
    vmlinuz.write_bytes(_bzimage(b"payload", b"6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP"))
    with pytest.raises(SetupError) as info:
        with_kernel(_arts(tmp_path), vmlinuz, modules)
    assert info.value.detail == (
        f"KERNEL={vmlinuz} is Linux 6.1.0-57-amd64, but MODULES={modules} are 6.99.0-test's: "
        "give the kernel's own lib/modules/<version>"
    )


def test_a_bzimage_xen_would_not_load_or_without_its_version_string_is_refused(tmp_path: Path) -> None:
    vmlinuz, modules = _kernel(tmp_path, GOOD)
    vmlinuz.write_bytes(_bzimage(b"payload", protocol=0x207))
    with pytest.raises(SetupError, match=r"boot protocol 2\.07; Xen loads a bzImage of 2\.08 or later"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)
    vmlinuz.write_bytes(_bzimage(b"payload", b"\xff\xfe"))
    with pytest.raises(SetupError, match=r"kernel_version \(0x20e\) points at no version string"):
        with_kernel(_arts(tmp_path), vmlinuz, modules)
    # A header without the pointer cannot be matched to its modules here; the rest is checked.
    vmlinuz.write_bytes(_bzimage(b"payload", None))
    assert image_version(vmlinuz) is None
    assert with_kernel(_arts(tmp_path), vmlinuz, modules).vmlinuz == vmlinuz


@pytest.mark.parametrize("image", sorted(DEBIAN.glob("*/kernel/boot/vmlinuz-*")), ids=lambda p: p.name)
def test_debians_kernels_say_their_version(image: Path) -> None:
    assert image_version(image) == image.name.removeprefix("vmlinuz-")


def test_kernel_and_modules_go_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNEL", str(tmp_path / "vmlinuz"))
    monkeypatch.delenv("MODULES", raising=False)
    with pytest.raises(SetupError, match="go together"):
        from_environment(_arts(tmp_path))
    monkeypatch.delenv("KERNEL")
    arts = _arts(tmp_path)
    assert from_environment(arts) is arts


def test_the_peer_gets_an_xz_kernel_as_its_elf(tmp_path: Path) -> None:
    elf = b"\x7fELF" + b"kernel" * 1000
    vmlinuz = tmp_path / "vmlinuz-x"
    vmlinuz.write_bytes(_bzimage(lzma.compress(elf, format=lzma.FORMAT_XZ)))
    out = peer_kernel(vmlinuz, tmp_path / "cache")
    assert out != vmlinuz and out.read_bytes() == elf
    assert peer_kernel(vmlinuz, tmp_path / "cache") == out  # kept


def test_any_other_kernel_goes_to_the_peer_as_it_is(tmp_path: Path) -> None:
    vmlinuz = tmp_path / "vmlinuz-y"
    vmlinuz.write_bytes(_bzimage(b"\x28\xb5\x2f\xfd" + b"zstd, say"))
    assert peer_kernel(vmlinuz, tmp_path / "cache") == vmlinuz
    vmlinuz.write_bytes(b"not a bzImage")
    assert peer_kernel(vmlinuz, tmp_path / "cache2") == vmlinuz
