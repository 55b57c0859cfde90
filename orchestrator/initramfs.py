"""The dom0 initramfs: Debian's toolstack closure, busybox, the Xen modules, our /init.

The initramfs is built once per suite and is the same for every run: with it the
guest's kernel, the Linux peer's and what the domains that stand by in the saved
machine need. What a run brings (its scripts, the xl configs, evtchn-op) reaches dom0
on a small raw disk instead, so one booted dom0 can be saved and serve every run.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

from . import log
from .artifacts import Artifacts
from .errors import SetupError

# The dom0 kernel's Xen drivers that the toolstack needs, in the order given;
# their own dependencies are found from each module's .modinfo.
DOM0_MODULES = (
    "xen-evtchn",
    "xen-privcmd",
    "xenfs",
    "xen-gntdev",
    "xen-gntalloc",
    "virtio-pci",
    "virtio-blk",
    "virtio-console",
)

# Documentation and translations are the bulk of a Debian closure; dom0 needs none.
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian")


def _module_name(ko: Path) -> str:
    return ko.name.split(".ko")[0].replace("_", "-")


def module_bytes(ko: Path) -> bytes:
    """A module's ELF image; trixie's are xz-compressed, which busybox insmod cannot load."""
    data = ko.read_bytes()
    return lzma.decompress(data) if ko.name.endswith(".xz") else data


def module_order(modules: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The .ko files for `wanted`, each after the modules it depends on.

    A module the kernel has built in (its modules.builtin) needs no loading: trixie's
    kernel has virtio_pci built in, bookworm's has it as a module."""
    by_name = {_module_name(ko): ko for ko in [*modules.rglob("*.ko"), *modules.rglob("*.ko.xz")]}
    listed = modules / "modules.builtin"
    builtin = {_module_name(Path(p)) for p in listed.read_text().split()} if listed.exists() else set()
    order: list[Path] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        key = name.replace("_", "-")
        if key not in by_name and key in builtin:
            return
        if key not in by_name:
            raise SetupError(f"dom0 kernel module {name} not found under {modules}")
        ko = by_name[key]
        if ko in order:
            return
        if key in chain:
            raise SetupError(f"module dependency loop: {' -> '.join((*chain, key))}")
        m = re.search(rb"depends=([^\0]*)\0", module_bytes(ko))
        for dep in m.group(1).decode().split(",") if m else []:
            if dep:
                visit(dep, (*chain, key))
        order.append(ko)

    for name in wanted:
        visit(name, ())
    return order


def _merge_usr(root: Path) -> None:
    # trixie's packages ship /usr only; bookworm's ship both. Make either look usual.
    for d in ("bin", "sbin", "lib", "lib64"):
        if not (root / d).exists() and (root / "usr" / d).exists():
            (root / d).symlink_to(f"usr/{d}")


# Every file's time in the archives write_cpio makes (2026-01-01): any fixed one will do.
SOURCE_TIME = 1767225600


def write_cpio(src: Path, out: Path) -> None:
    """`src` (a scratch folder: its times are changed) as a newc archive, the same bytes for
    the same files: a saved machine is keyed by its initramfs's bytes (snapshot.key), and
    runs against another Xen in between rebuild it. So its names go in sorted, every time
    is one, and cpio numbers the inodes itself (--reproducible)."""
    names = sorted(str(p.relative_to(src)) for p in src.rglob("*"))
    for name in names:
        os.utime(src / name, (SOURCE_TIME, SOURCE_TIME), follow_symlinks=False)
    with open(out, "wb") as f:
        subprocess.run(
            ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0", "--reproducible"],
            cwd=src, input="".join(f"{n}\n" for n in names).encode(), stdout=f, check=True,
        )  # fmt: skip


def stage_files(files: dict[str, Path | str], stage: Path) -> None:
    """Each of `files` (path in dom0 -> host file or text) at its path under `stage`."""
    for dest, src in files.items():
        target = stage / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, Path):
            shutil.copy2(src, target)
        else:
            target.write_text(src)


def build_base(arts: Artifacts, init_script: Path, agent: Path, out: Path, files: dict[str, Path | str]) -> Path:
    """The suite's base initramfs, rebuilt only when its inputs change. `agent` (dom0/agent.c)
    is in it, not on the run disk: it serves the commands that read the run disk. So are
    `files` (path in dom0 -> host file or text): what the saved machine uses before any
    run's files arrive, the domains that stand by in it (runner.Session._stand_by)."""
    stamp = out.with_suffix(".inputs")
    agent_hash = hashlib.sha256(agent.read_bytes()).hexdigest()
    listed = []
    for path, src in sorted(files.items()):
        if isinstance(src, Path):  # by where it is, its size and time, as make decides: the peer's kernel is 62 MiB
            st = src.stat()
            listed.append(f"{path} {src.resolve()} {st.st_size} {st.st_mtime_ns}")
        else:
            listed.append(f"{path} {hashlib.sha256(src.encode()).hexdigest()}")
    inputs = (
        f"{arts.describe()}\n{' '.join(DOM0_MODULES)}\nagent {agent_hash}\n"
        + "".join(f"{line}\n" for line in listed)
        + init_script.read_text()
    )
    if out.exists() and stamp.exists() and stamp.read_text() == inputs:
        return out
    with log.step(f"building the dom0 initramfs for {arts.suite}"):
        stage = out.parent / "dom0-stage"
        if stage.exists():
            shutil.rmtree(stage)
        shutil.copytree(arts.dom0_root, stage, symlinks=True)
        for p in PRUNE:
            shutil.rmtree(stage / p, ignore_errors=True)
        _merge_usr(stage)
        busybox = stage / "bin" / "busybox"
        applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
        for applet in applets.stdout.split():
            link = stage / "bin" / applet
            if not link.exists() and not (stage / "usr" / "bin" / applet).exists() and not link.is_symlink():
                link.symlink_to("busybox")
        mod_dir = stage / "lib" / "modules" / arts.modules.name
        mod_dir.mkdir(parents=True, exist_ok=True)
        names = []
        for ko in module_order(arts.modules, DOM0_MODULES):
            name = _module_name(ko) + ".ko"
            (mod_dir / name).write_bytes(module_bytes(ko))
            names.append(name)
        (mod_dir / "load-order").write_text("\n".join(names) + "\n")
        etc_xen = stage / "etc" / "xen"
        etc_xen.mkdir(parents=True, exist_ok=True)
        (etc_xen / "xl.conf").write_text("# empty: xl's defaults\n")
        shutil.copy2(agent, stage / "bin" / "evt-agent")
        stage_files(files, stage)
        shutil.copy2(init_script, stage / "init")
        os.chmod(stage / "init", 0o755)
        write_cpio(stage, out)
        shutil.rmtree(stage)
        stamp.write_text(inputs)
    return out


# The Linux peer's kernel modules: /dev/xen/evtchn and /dev/xen/privcmd (xenbus is built in).
PEER_MODULES = ("xen-evtchn", "xen-privcmd")


def build_linux_peer(tools: Path, modules: Path, cache: Path) -> Path:
    """The Linux peer's initramfs: dom0/peer-init as /init, evtchn-op, and the kernel's
    Xen modules in /modules with their load-order. xen-config/create.sh appends each
    group's script as /script, but for the peer that stands by, which has none. Kept in
    `cache` by a hash of what goes in (xz takes 0.6 s).

    Compressed with xz (CRC32: the kernel checks no other): not gzip, which libxc tries
    to unpack itself ("xc_dom_do_gunzip: inflate failed", with the script appended), and
    whose message, printed without a newline, ran into a relayed result line."""
    kos = module_order(modules, PEER_MODULES)
    h = hashlib.sha256()
    for part in [tools / "peer-init", tools / "evtchn-op", *kos]:
        h.update(part.name.encode() + b"\0" + part.read_bytes())
    out = cache / f"linux-peer-{h.hexdigest()[:16]}.cpio.xz"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    stage = out.with_suffix(".stage")
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "modules").mkdir(parents=True)
    for tool, dest in (("peer-init", "init"), ("evtchn-op", "evtchn-op")):
        shutil.copy2(tools / tool, stage / dest)
        os.chmod(stage / dest, 0o755)
    names = []
    for ko in kos:
        name = _module_name(ko) + ".ko"
        (stage / "modules" / name).write_bytes(module_bytes(ko))
        names.append(name)
    (stage / "modules" / "load-order").write_text("\n".join(names) + "\n")
    plain = out.with_suffix("")
    write_cpio(stage, plain)
    packed = lzma.compress(plain.read_bytes(), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    # The script's cpio is appended: the kernel reads an uncompressed archive only at a
    # 4-byte boundary (init/initramfs.c unpack_to_rootfs()), and skips zeros before it.
    partial = out.with_suffix(".part")  # no half-written file under the cache's name
    partial.write_bytes(packed + b"\0" * (-len(packed) % 4))
    partial.rename(out)
    plain.unlink()
    shutil.rmtree(stage)
    return out


# What dom0's initramfs holds for the harness (build_base): all of it is in the saved
# machine, as a run's own files (GUEST_DIR, on the run disk) are not.
BASE_DIR = "/usr/lib/evt"
PEER_KERNEL = f"{BASE_DIR}/linux-peer-kernel"  # peer_kernel()
PEER_INITRAMFS = f"{BASE_DIR}/linux-peer.cpio.xz"  # build_linux_peer()


def peer_kernel(vmlinuz: Path, cache: Path) -> Path:
    """The Linux peer's kernel as `xl create` loads it fastest: its ELF, unpacked here once
    (kept in `cache`, by the kernel's name, size and time).

    libxc unpacks a kernel in dom0, under TCG: Debian's xz payload cost `xl create` 5.6 s,
    its ELF gzip -1 2.4 s, the ELF itself (66 MB) 0.9-1.0 s. It is in dom0's initramfs
    (build_base), so it is part of the saved machine: no run carries it on its disk or
    unpacks it. A bzImage whose payload is not xz is used as it is."""
    st = vmlinuz.stat()
    out = cache / f"peer-{vmlinuz.name}-{st.st_size}-{int(st.st_mtime)}.elf"
    if out.exists():
        return out
    data = vmlinuz.read_bytes()
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return vmlinuz
    setup_sects = data[0x1F1] or 4
    offset, length = struct.unpack_from("<II", data, 0x248)  # payload_offset, payload_length
    start = (setup_sects + 1) * 512 + offset
    payload = data[start : start + length]
    if not payload.startswith(b"\xfd7zXZ\x00"):
        return vmlinuz
    elf = lzma.LZMADecompressor().decompress(payload)
    if not elf.startswith(b"\x7fELF"):
        return vmlinuz
    cache.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".part")  # no half-written file under the cache's name
    partial.write_bytes(elf)
    partial.rename(out)
    return out


# The run disk's size never changes: a saved dom0 knows the disk it saw.
RUN_DISK_BYTES = 16 << 20


def build_run_disk(files: dict[str, Path | str], stage: Path, out: Path) -> Path:
    """A raw disk holding `files` (path in dom0 -> host file or text) as a cpio archive.

    dom0 unpacks it with `cpio -i < /dev/vda` once it is up (runner.Session), so the
    same booted dom0, saved once, serves runs with other guests, scripts and configs.
    """
    if stage.exists():
        shutil.rmtree(stage)
    stage_files(files, stage)
    write_cpio(stage, out)
    size = out.stat().st_size
    if size > RUN_DISK_BYTES:
        # What to cut: a group's script names its group and domain (g3/A.script).
        largest = sorted(files, key=lambda dest: (stage / dest.lstrip("/")).stat().st_size, reverse=True)[:4]
        each = ", ".join(f"{dest} ({(stage / dest.lstrip('/')).stat().st_size} bytes)" for dest in largest)
        raise SetupError(
            f"the run's files take {size} bytes, more than the run disk's {RUN_DISK_BYTES}; the largest: {each}"
        )
    os.truncate(out, RUN_DISK_BYTES)
    return out
