"""Hypervisors built here: a debug one (debug=y: assertions on) from Debian's own source
package, and one from a Xen source tree of the user's (`--xen src:<tree>`)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from . import log
from .artifacts import SUITES, Apt, fetch
from .errors import SetupError


def build_debug(suite: str, build: Path) -> Path:
    """Build (or reuse) the suite's hypervisor with CONFIG_DEBUG=y; the path of its ELF."""
    arts = fetch(suite, build)  # Debian's build config comes with the binary package
    top = build.resolve() / "xen-debug" / suite
    done = top / "done"
    if done.exists():
        xen = Path(done.read_text().strip())
        if xen.exists():
            log.info(f"debug hypervisor for {suite}: cached {xen}")
            return xen
    if top.exists():
        shutil.rmtree(top)
    apt = Apt(suite, top / "apt")
    with log.step(f"{suite}: downloading Debian's xen source package"):
        apt.update(source_packages=True)
        dsc = apt.source("xen", top / "dl")
    with log.step(f"{suite}: unpacking {dsc.name} with Debian's patches (dpkg-source -x)"):
        src = top / "src"
        run(["dpkg-source", "--no-check", "-x", str(dsc), str(src)], top)
    xen_dir = src / "xen"
    config = next((arts.xen.parent / "boot").glob("xen-*.config"), None)
    if config is None:
        raise SetupError(f"no Debian build config beside {arts.xen}")
    text = config.read_text()
    text = re.sub(r"^# CONFIG_DEBUG is not set$", "CONFIG_DEBUG=y", text, flags=re.M)
    (xen_dir / ".config").write_text(text)
    jobs = str(os.cpu_count() or 1)
    start = time.monotonic()
    with log.step(f"{suite}: building the hypervisor with CONFIG_DEBUG=y (make -j{jobs}; about 2 min on 2 cores)"):
        run(["make", "-C", str(xen_dir), "olddefconfig"], top)
        run(["make", "-C", str(xen_dir), f"-j{jobs}"], top)
    if "CONFIG_DEBUG=y" not in (xen_dir / ".config").read_text():
        raise SetupError(f"{xen_dir / '.config'}: CONFIG_DEBUG did not stick")
    xen = xen_dir / "xen"
    done.write_text(f"{xen}\n")
    took = time.monotonic() - start
    log.info(f"debug hypervisor (Xen {SUITES[suite].xen_series}, {dsc.name}): {xen}, built in {took:.0f} s")
    return xen


def run(cmd: list[str], top: Path) -> None:
    logfile = top / "build.log"
    with open(logfile, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(logfile.read_text().splitlines()[-25:])
        raise SetupError(f"`{' '.join(cmd)}` failed (log {logfile}):\n{tail}")


def tree_key(tree: Path) -> str:
    """What names a build of `tree`: its commit, and a hash of any local change; a content
    hash of xen/ when it is not a git checkout."""
    git = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        diff = subprocess.run(
            ["git", "-C", str(tree), "diff", "HEAD", "--", "xen"], capture_output=True, check=True
        ).stdout
        untracked = subprocess.run(
            ["git", "-C", str(tree), "ls-files", "--others", "--exclude-standard", "--", "xen"],
            capture_output=True,
            check=True,
        ).stdout
        local = hashlib.sha256(diff + untracked).hexdigest()[:12] if diff or untracked else ""
        return git.stdout.strip()[:12] + (f"-dirty-{local}" if local else "")
    h = hashlib.sha256()
    for f in sorted((tree / "xen").rglob("*")):
        if f.is_file() and not f.is_symlink():
            h.update(str(f.relative_to(tree)).encode() + b"\0" + f.read_bytes())
    return "content-" + h.hexdigest()[:16]


def build_tree(tree: Path, build: Path) -> Path:
    """The hypervisor of a Xen source tree, built out of the tree (make O=...) with its
    defconfig; cached by tree_key(), so a second run builds nothing. The ELF's path."""
    tree = tree.resolve()
    if not (tree / "xen" / "Makefile").exists():
        raise SetupError(f"src:{tree}: not a Xen source tree (no xen/Makefile)")
    key = tree_key(tree)
    top = build.resolve() / "src-xen" / key
    xen = top / "xen"
    if (top / "done").exists() and xen.exists():
        log.info(f"hypervisor of {tree} ({key}): cached {xen}")
        return xen
    if top.exists():
        shutil.rmtree(top)
    top.mkdir(parents=True)
    jobs = str(os.cpu_count() or 1)
    start = time.monotonic()
    with log.step(f"building the hypervisor of {tree} ({key}) out of the tree in {top} (make -j{jobs})"):
        run(["make", "-C", str(tree / "xen"), f"O={top}", "defconfig"], top)
        run(["make", "-C", str(tree / "xen"), f"O={top}", f"-j{jobs}"], top)
    if not xen.exists():
        raise SetupError(f"src:{tree}: the build left no {xen} (log {top / 'build.log'})")
    (top / "done").write_text(f"{key}\n")
    log.info(f"hypervisor of {tree}: {xen}, built in {time.monotonic() - start:.0f} s")
    return xen
