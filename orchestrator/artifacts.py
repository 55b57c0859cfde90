"""Xen, the dom0 kernel and the dom0 toolstack, taken from Debian's packages.

apt does all dependency resolution: it runs with its own state folders and an
empty dpkg status, so it downloads the whole closure of what the dom0 needs
without looking at (or touching) what the host has installed.  Everything is
cached under ``build/debian/<suite>``; a second run downloads nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from . import log
from .errors import SetupError

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class Suite:
    """A Debian suite and the Xen series it ships."""

    name: str
    xen_series: str

    @property
    def hypervisor_pkg(self) -> str:
        return f"xen-hypervisor-{self.xen_series}-amd64"

    @property
    def utils_pkg(self) -> str:
        return f"xen-utils-{self.xen_series}"


SUITES = {s.name: s for s in (Suite("bookworm", "4.17"), Suite("trixie", "4.20"))}

# What dom0 runs: the toolstack, the xenstore command-line tools and a shell.
# libgcc-s1 is dlopen()ed by glibc for pthread_cancel, which xl uses.
DOM0_PACKAGES = ("{utils}", "xenstore-utils", "busybox-static", "libgcc-s1")


@dataclass(frozen=True)
class Artifacts:
    """Paths and exact versions of what a suite provides."""

    suite: str
    xen: Path  # gunzipped hypervisor ELF, what QEMU's -kernel takes
    vmlinuz: Path
    modules: Path  # lib/modules/<version>
    include: Path  # Xen's public headers (libxen-dev)
    dom0_root: Path  # the extracted dom0 userspace closure
    versions: dict[str, str]

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.versions.items())

    def header(self) -> dict[str, str]:
        """The versions as a report's header names them."""
        return {f"debian {k}": v for k, v in self.versions.items()}


def host_sources(suite: str) -> list[str]:
    """One-line apt sources for `suite`, built from the host's own mirrors.

    The host's entries for its own codename (``bookworm``, ``bookworm-updates``,
    ``bookworm-security``) are re-pointed at `suite`; the mirrors stay the host's.
    """
    codename = _host_codename()
    entries: list[tuple[str, str, str]] = []  # (uri, suite, signed-by)
    apt_dir = Path("/etc/apt")
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        entries += _parse_deb822(path.read_text())
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        if path.exists():
            entries += _parse_one_line(path.read_text())
    lines = []
    for uri, host_suite, signed_by in entries:
        if host_suite == codename or host_suite.startswith(codename + "-"):
            target = suite + host_suite[len(codename) :]
            lines.append(f"deb [signed-by={signed_by or KEYRING}] {uri} {target} main")
    if not lines:
        raise SetupError(f"no Debian '{codename}' entry in the host's apt sources to take mirrors from")
    return sorted(set(lines))


def _host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise SetupError("/etc/os-release has no VERSION_CODENAME")


def _parse_deb822(text: str) -> list[tuple[str, str, str]]:
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        disabled = fields.get("enabled", "yes").lower() in ("no", "false", "off", "0")
        if "deb" not in fields.get("types", "").split() or disabled:
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                out.append((uri, suite, fields.get("signed-by", "")))
    return out


def _parse_one_line(text: str) -> list[tuple[str, str, str]]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        signed_by = ""
        m = re.match(r"deb\s+\[([^\]]*)\]\s+(.*)", line)
        rest = line[4:]
        if m:
            for opt in m.group(1).split():
                if opt.startswith("signed-by="):
                    signed_by = opt.split("=", 1)[1]
            rest = m.group(2)
        parts = rest.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1], signed_by))
    return out


class Apt:
    """apt-get for one suite, with its own lists, cache and an empty dpkg status."""

    def __init__(self, suite: str, state: Path) -> None:
        self.suite = suite
        self.state = state.resolve()
        self.archives = state / "cache" / "archives"

    def _opts(self) -> list[str]:
        s = self.state
        return [
            "-o", f"Dir::Etc::sourcelist={s / 'sources.list'}",
            "-o", f"Dir::Etc::sourceparts={s / 'sources.list.d'}",
            "-o", f"Dir::State={s / 'state'}",
            "-o", f"Dir::State::Lists={s / 'lists'}",
            "-o", f"Dir::State::status={s / 'status'}",
            "-o", f"Dir::Cache={s / 'cache'}",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Architecture=amd64",
            "-o", "APT::Sandbox::User=root",
            "-q",
        ]  # fmt: skip

    def _run(self, *args: str, cwd: Path | None = None) -> str:
        cmd = ["apt-get", *self._opts(), *args]
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SetupError(f"{' '.join(cmd[:1] + list(args))} failed:\n{proc.stderr.strip()}")
        return proc.stdout

    def update(self, source_packages: bool = False) -> None:
        for d in ("lists/partial", "cache/archives/partial", "state", "sources.list.d"):
            (self.state / d).mkdir(parents=True, exist_ok=True)
        (self.state / "status").touch()
        lines = host_sources(self.suite)
        if source_packages:
            lines = [ln.replace("deb ", "deb-src ", 1) for ln in lines]
        (self.state / "sources.list").write_text("\n".join(lines) + "\n")
        self._run("update")

    def source(self, package: str, dest: Path) -> Path:
        """Download a source package (newest version the mirror really has); its .dsc."""
        dest.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["apt-cache", *self._opts(), "showsrc", "--only-source", package], capture_output=True, text=True
        ).stdout
        versions = sorted(set(re.findall(r"^Version: (\S+)", out, re.M)), key=_debian_version_key, reverse=True)
        errors = []
        for v in versions:
            try:
                self._run("source", "--download-only", f"{package}={v}", cwd=dest)
            except SetupError as e:  # a suite's security update may have no source on the mirror
                errors.append(f"{v}: {e.detail.splitlines()[-1]}")
                continue
            return next(dest.glob(f"{package}_{v.split(':')[-1]}.dsc"))
        raise SetupError(f"no source of {package} could be downloaded:\n" + "\n".join(errors))

    def closure(self, packages: list[str]) -> list[Path]:
        """Download `packages` and everything they depend on; return the .debs."""
        self._run("install", "--download-only", "--no-install-recommends", "-y", *packages)
        return sorted(self.archives.glob("*.deb"))

    def download(self, package: str, dest: Path) -> Path:
        """Download one package alone (no dependencies) into `dest`."""
        dest.mkdir(parents=True, exist_ok=True)
        self._run("download", package, cwd=dest)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if not debs:
            raise SetupError(f"apt-get download {package} produced no .deb")
        return debs[-1]

    def depends(self, package: str) -> str:
        """The first hard dependency of a metapackage (linux-image-amd64 -> the real image)."""
        out = subprocess.run(["apt-cache", *self._opts(), "depends", package], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.strip().startswith("Depends:"):
                return line.split(":", 1)[1].strip()
        raise SetupError(f"apt-cache depends {package}: no dependency found")


def _debian_version_key(v: str) -> tuple[int, ...]:
    # Good enough to order one package's versions: the numbers in it, in order.
    return tuple(int(n) for n in re.findall(r"\d+", v))


def deb_version(deb: Path) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def extract(deb: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)


def elf_build_id(path: Path) -> str:
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True).stdout
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    return m.group(1) if m else "unknown"


def fetch(suite_name: str, build: Path) -> Artifacts:
    """Bring the suite's Xen, dom0 kernel and toolstack into the cache; return them."""
    if suite_name not in SUITES:
        raise SetupError(f"unknown suite {suite_name!r}; known: {', '.join(SUITES)}")
    suite = SUITES[suite_name]
    top = build.resolve() / "debian" / suite.name
    manifest = top / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        paths = {k: Path(v) for k, v in data.items() if k not in ("suite", "versions")}
        arts = Artifacts(suite=data["suite"], versions=data["versions"], **paths)
        if all(p.exists() for p in (arts.xen, arts.vmlinuz, arts.modules, arts.include, arts.dom0_root)):
            log.info(f"{suite.name}: cached: {arts.describe()}")
            return arts
    if top.exists():
        shutil.rmtree(top)
    apt = Apt(suite.name, top / "apt")
    with log.step(f"{suite.name}: apt-get update (mirrors from the host's apt sources)"):
        apt.update()

    with log.step(f"{suite.name}: downloading {suite.hypervisor_pkg}, the dom0 kernel, libxen-dev"):
        kernel_pkg = apt.depends("linux-image-amd64")
        debs = {p: apt.download(p, top / "debs") for p in (suite.hypervisor_pkg, kernel_pkg, "libxen-dev")}

    with log.step(f"{suite.name}: unpacking the hypervisor, kernel and headers"):
        boot = top / "boot"
        extract(debs[suite.hypervisor_pkg], boot)
        gz = next((boot / "boot").glob("xen-*.gz"))
        xen = boot / gz.name.removesuffix(".gz")
        with open(xen, "wb") as out:
            subprocess.run(["gunzip", "-c", str(gz)], stdout=out, check=True)
        kernel_root = top / "kernel"
        extract(debs[kernel_pkg], kernel_root)
        vmlinuz = next((kernel_root / "boot").glob("vmlinuz-*"))
        # bookworm ships /lib/modules, trixie (merged /usr) /usr/lib/modules.
        mod_tops = (kernel_root / "lib" / "modules", kernel_root / "usr" / "lib" / "modules")
        mod_top = next(p for p in mod_tops if p.is_dir())
        modules = next(mod_top.iterdir())
        extract(debs["libxen-dev"], top / "dev")

    with log.step(f"{suite.name}: downloading the dom0 userspace closure (apt resolves it)"):
        wanted = [p.format(utils=suite.utils_pkg) for p in DOM0_PACKAGES]
        closure = apt.closure(wanted)
    with log.step(f"{suite.name}: unpacking {len(closure)} dom0 packages"):
        dom0_root = top / "dom0-root"
        for deb in closure:
            extract(deb, dom0_root)

    utils_deb = next(d for d in closure if d.name.startswith(suite.utils_pkg + "_"))
    arts = Artifacts(
        suite=suite.name,
        xen=xen,
        vmlinuz=vmlinuz,
        modules=modules,
        include=top / "dev" / "usr" / "include",
        dom0_root=dom0_root,
        versions={
            "xen-hypervisor": deb_version(debs[suite.hypervisor_pkg]),
            "xen-build-id": elf_build_id(xen),
            "dom0-kernel": f"{modules.name} ({deb_version(debs[kernel_pkg])})",
            "xen-utils": deb_version(utils_deb),
            "dom0-packages": str(len(closure)),
        },
    )
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(arts).items()}
    manifest.write_text(json.dumps(data, indent=2) + "\n")
    log.info(f"{suite.name}: fetched: {arts.describe()}")
    return arts
