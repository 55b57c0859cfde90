"""A debug hypervisor (debug=y: assertions on) built from Debian's own source package."""

from __future__ import annotations

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
