"""Hypervisors built here: a debug one (debug=y: assertions on) from Debian's own source
package, and one from a Xen source tree of the user's (`--xen src:<tree>`)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from . import log
from .artifacts import SUITES, Apt, Artifacts, fetch
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
    run_logged(cmd, top / "build.log")


def run_logged(cmd: list[str], logfile: Path) -> None:
    """`cmd` with its output appended to `logfile`; a failure names both, with the log's tail."""
    with open(logfile, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(logfile.read_text().splitlines()[-25:])
        raise SetupError(f"`{' '.join(cmd)}` failed (log {logfile}):\n{tail}")


def tree_key(tree: Path, part: str = "xen") -> str:
    """What names a build of `tree`'s `part` (xen/: the hypervisor; `.`: the tools, which
    take the public headers from xen/ too): its commit, and a hash of any local change
    there; a content hash of xen/ when it is not a git checkout."""
    git = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        diff = subprocess.run(
            ["git", "-C", str(tree), "diff", "HEAD", "--", part], capture_output=True, check=True
        ).stdout
        untracked = subprocess.run(
            ["git", "-C", str(tree), "ls-files", "--others", "--exclude-standard", "--", part],
            capture_output=True,
            check=True,
        ).stdout
        local = hashlib.sha256(diff + untracked).hexdigest()[:12] if diff or untracked else ""
        return git.stdout.strip()[:12] + (f"-dirty-{local}" if local else "") + ("-tools" if part != "xen" else "")
    h = hashlib.sha256()
    for f in sorted((tree / "xen").rglob("*")):
        if f.is_file() and not f.is_symlink():
            h.update(str(f.relative_to(tree)).encode() + b"\0" + f.read_bytes())
    return "content-" + h.hexdigest()[:16]


# A coverage build (`run --coverage`): its own cache folder, so that it never stands in for
# a normal build of the same tree, nor a normal one for it.
COVERAGE_SUFFIX = "-cov"
# CONFIG_COVERAGE sits in Kconfig.debug under `if DEBUG || EXPERT` and needs LIVEPATCH off;
# without EXPERT (or DEBUG) olddefconfig drops it without a word.
COVERAGE_CONFIG = {"CONFIG_EXPERT": "y", "CONFIG_LIVEPATCH": "n", "CONFIG_COVERAGE": "y"}


def variant_key(key: str, coverage: bool) -> str:
    """The cache key of a build of a tree whose plain key is `key`."""
    return key + COVERAGE_SUFFIX if coverage else key


def with_config(text: str, settings: dict[str, str]) -> str:
    """A Kconfig .config with each of `settings` set ("n": `# CONFIG_X is not set`), in
    place of whatever line the file had for it, or appended."""
    lines = text.splitlines()
    for name, value in settings.items():
        line = f"# {name} is not set" if value == "n" else f"{name}={value}"
        pattern = re.compile(rf"^(# )?{re.escape(name)}(=.*| is not set)$")
        found = [i for i, ln in enumerate(lines) if pattern.match(ln)]
        for i in reversed(found[1:]):
            del lines[i]
        if found:
            lines[found[0]] = line
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def config_missing(text: str, settings: dict[str, str]) -> list[str]:
    """Which of `settings` the .config `text` does not have as asked (an unset or absent
    option counts as "n")."""
    have = dict(re.findall(r"^(CONFIG_\w+)=(.*)$", text, re.M))
    return [f"{k}={v}" for k, v in settings.items() if have.get(k, "n") != v]


def build_tree(tree: Path, build: Path, coverage: bool = False) -> Path:
    """The hypervisor of a Xen source tree, built out of the tree (make O=...) with its
    defconfig (plus COVERAGE_CONFIG with `coverage`: the .gcno files stay in the build
    folder, which is the ELF's); cached by tree_key(), so a second run builds nothing. The
    ELF's path."""
    tree = tree.resolve()
    if not (tree / "xen" / "Makefile").exists():
        raise SetupError(f"src:{tree}: not a Xen source tree (no xen/Makefile)")
    key = variant_key(tree_key(tree), coverage)
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
    what = "with CONFIG_COVERAGE=y " if coverage else ""
    with log.step(f"building the hypervisor of {tree} ({key}) {what}out of the tree in {top} (make -j{jobs})"):
        run(["make", "-C", str(tree / "xen"), f"O={top}", "defconfig"], top)
        if coverage:
            config = top / ".config"
            config.write_text(with_config(config.read_text(), COVERAGE_CONFIG))
            run(["make", "-C", str(tree / "xen"), f"O={top}", "olddefconfig"], top)
            missing = config_missing(config.read_text(), COVERAGE_CONFIG)
            if missing:
                raise SetupError(
                    f"src:{tree}: {', '.join(missing)} did not stick in {config} after olddefconfig "
                    "(does this tree's Kconfig offer COVERAGE, and can its compiler do it?)"
                )
        run(["make", "-C", str(tree / "xen"), f"O={top}", f"-j{jobs}"], top)
    if not xen.exists():
        raise SetupError(f"src:{tree}: the build left no {xen} (log {top / 'build.log'})")
    (top / "done").write_text(f"{key}\n")
    log.info(f"hypervisor of {tree}: {xen}, built in {time.monotonic() - start:.0f} s")
    return xen


# What dom0 needs of a tree's tools (tools/<dir>, those the tree has): libraries, xl,
# xenstored and its clients, xenconsoled, xen-init-dom0. No qemu, stubdoms, firmware,
# ocaml, python or docs.
TOOL_DIRS = ("xs-clients", "xenstore", "xenstored", "console", "helpers", "xl")
CONFIGURE = (
    "--prefix=/usr", "--disable-stubdom", "--disable-docs", "--disable-qemu-traditional",
    "--with-system-qemu=/bin/false", "--disable-seabios", "--disable-rombios", "--disable-ipxe",
    "--disable-ovmf", "--disable-pvshim", "--disable-ocamltools", "--disable-xsmpolicy",
    "--disable-golang", "--disable-systemd",
)  # fmt: skip


def build_tree_tools(tree: Path, build: Path, coverage: bool = False) -> Path:
    """The tools dom0 needs, built from a copy of `tree` (tools cannot build out of their
    tree) and installed into a folder of their own; cached by tree_key(). That folder.
    With `coverage`, also tools/misc's `xencov` (reads and resets Xen's coverage counters),
    in a folder of its own."""
    tree = tree.resolve()
    key = variant_key(tree_key(tree, "."), coverage)
    top = build.resolve() / "src-xen" / key
    dest = top / "tools-dest"
    if (top / "tools-done").exists() and dest.exists():
        log.info(f"toolstack of {tree} ({key}): cached {dest}")
        return dest
    src = top / "tools-src"
    for old in (src, dest):
        if old.exists():
            shutil.rmtree(old)
    top.mkdir(parents=True, exist_ok=True)
    jobs = f"-j{os.cpu_count() or 1}"
    start = time.monotonic()
    with log.step(f"building the toolstack of {tree} ({key}) in a copy, {src} (make {jobs})"):
        files = subprocess.run(
            ["git", "-C", str(tree), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
        )
        if files.returncode == 0:
            src.mkdir(parents=True)
            packed = subprocess.run(
                ["tar", "-C", str(tree), "--null", "-T", "-", "-cf", "-"], input=files.stdout, capture_output=True,
                check=True,
            )  # fmt: skip
            subprocess.run(["tar", "-C", str(src), "-xf", "-"], input=packed.stdout, check=True)
        else:
            shutil.copytree(tree, src, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        if not (src / "configure").exists():  # a Debian source package: generated at build time
            for aux in ("config.guess", "config.sub"):
                shutil.copy2(Path("/usr/share/misc") / aux, src / aux)
            run(["sh", "-c", f"cd {shlex.quote(str(src))} && ./autogen.sh"], top)
        run(["sh", "-c", f"cd {shlex.quote(str(src))} && ./configure {' '.join(CONFIGURE)}"], top)
        dirs = [d for d in TOOL_DIRS if (src / "tools" / d / "Makefile").exists()]
        run(["make", "-C", str(src / "tools" / "include"), jobs], top)
        run(["make", "-C", str(src / "tools"), jobs, "subdir-all-libs"], top)
        run(["make", "-C", str(src / "tools"), jobs, *(f"subdir-all-{d}" for d in dirs)], top)
        run(["make", "-C", str(src / "tools" / "include"), "install", f"DESTDIR={dest}"], top)
        run(["make", "-C", str(src / "tools"), f"DESTDIR={dest}", "subdir-install-libs",
             *(f"subdir-install-{d}" for d in dirs)], top)  # fmt: skip
        if coverage:  # only it of tools/misc: the rest needs nothing here
            run(["make", "-C", str(src / "tools" / "misc"), jobs, "xencov"], top)
            (dest / "usr" / "sbin").mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / "tools" / "misc" / "xencov", dest / "usr" / "sbin" / "xencov")
    needed = ("usr/sbin/xl", "usr/sbin/xenstored", "usr/sbin/xenconsoled", "usr/include/xen/xen.h")
    for need in (*needed, *(["usr/sbin/xencov"] if coverage else [])):
        if not (dest / need).exists():
            raise SetupError(f"src:{tree}: the toolstack build installed no {need} (log {top / 'build.log'})")
    (top / "tools-done").write_text(f"{key}\n")
    log.info(f"toolstack of {tree}: {dest}, built in {time.monotonic() - start:.0f} s")
    shutil.rmtree(src)
    return dest


# Debian's own Xen tools in a dom0 closure (xen-utils-<x.y>, libxen*, xenstore-utils):
# out of the way of a tree's, which install under /usr (configure --prefix=/usr).
DEBIAN_TOOLS = ("usr/lib/xen-*", "usr/lib/x86_64-linux-gnu/libxen*", "usr/lib/x86_64-linux-gnu/libxl*",
                "usr/sbin/xl", "usr/sbin/xen*", "usr/sbin/oxenstored", "usr/bin/xenstore*")  # fmt: skip


def with_toolstack(arts: Artifacts, tools: Path, tree: Path, work: Path | None = None) -> Artifacts:
    """`arts` with dom0's toolstack and the guest's headers from a tree's build (`tools`,
    build_tree_tools(), or another install tree): a dom0 root of the suite's userspace
    with the tree's tools in place of Debian's, made in `work` (default: beside `tools`)."""
    root = (work or tools.parent) / f"dom0-root-{arts.suite}"
    stamp = root.with_suffix(".from")  # which suite root it was made from
    if not (stamp.exists() and stamp.read_text() == f"{arts.dom0_root}\n"):
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(arts.dom0_root, root, symlinks=True)
        for pattern in DEBIAN_TOOLS:
            for p in root.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        for f in tools.rglob("*"):
            rel = f.relative_to(tools)
            if rel.parts[:2] == ("usr", "include") or f.suffix == ".a" or "pkgconfig" in rel.parts:
                continue
            target = root / rel
            if f.is_dir() and not f.is_symlink():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists() or target.is_symlink():
                    target.unlink()
                shutil.copy2(f, target, follow_symlinks=False)
        stamp.write_text(f"{arts.dom0_root}\n")
    # build_tree_tools() put them in src-xen/<key>/: no second pass over the tree for it.
    versions = {**arts.versions, "xen-utils": f"built from {tree} ({(work or tools.parent).name})"}
    return replace(arts, dom0_root=root, include=tools / "usr" / "include", versions=versions)
