"""Known results per Xen: steps whose answer on a given Xen is known to differ from what
the case expects (a deliberate change, a found bug), so that a run on that Xen is green on
what is known and red on anything new.

One file per Xen major.minor, `baselines/<major>.<minor>.txt`, one step a line:

    vcpu_info.evt:25 A expected=EINVAL got=EBUSY  # 295514ff75: -EBUSY for a second registration

The file named is the project's own `cases/<name>`: a case file elsewhere (a user's own
fifo.evt) is another case, whatever its name, and no line here matches its steps.

A step that fails as its line says is KNOWN, not FAIL: its case passes, and every report
lists it apart. The same step failing otherwise, or any other failure, is new. A line no
step matched any more is stale (the Xen changed, or the case did): reported, never silent.
`--update-baseline` writes the file from a run, keeping the reasons of lines it keeps.

Every baseline file is read and checked before the boot (read_all): one that cannot be
read, is not UTF-8 or has a malformed line is refused with its file and line, never met
after the machine is up; the Xen's own is then looked up by its version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from .cases.model import Case, shown
from .errors import SetupError
from .results import CaseResult, StepResult
from .userfile import MiB, UserFileError, read_bytes

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "baselines"
CASES = ROOT / "cases"  # the only case files a baseline line names
KNOWN = "KNOWN"
LINE = re.compile(
    r"^(?P<where>\S+:\d+) (?P<domain>\w+) expected=(?P<expected>\S+) got=(?P<got>\S+)\s*(?:#\s*(?P<why>.*))?$"
)
NEW_REASON = "why: TODO (a deliberate change? a bug? cite the commit or the advisory)"


class BaselineError(SetupError):
    what = "malformed baseline"


MAX_FILE = MiB  # a few hundred bytes today


@dataclass(frozen=True)
class Known:
    where: str  # case file:line
    domain: str  # the role the case names (A, B, Dom0)
    expected: str
    got: str
    why: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.where, self.domain, self.expected, self.got)

    def line(self) -> str:
        return f"{self.where} {self.domain} expected={self.expected} got={self.got}  # {self.why or NEW_REASON}"


def path_for(xen_version: str) -> Path | None:
    """baselines/<major>.<minor>.txt for a version as `xl info` spells it (4.20.5-pre)."""
    m = re.match(r"^(\d+)\.(\d+)", xen_version)
    return BASELINES / f"{m[1]}.{m[2]}.txt" if m else None


def read(path: Path | None) -> list[Known]:
    """A baseline's entries; none if there is no such file; BaselineError (file:line) if it is bad."""
    if path is None or not (path.exists() or path.is_symlink()):  # a dangling link is refused, not skipped
        return []
    try:
        data = read_bytes(path, MAX_FILE)
    except UserFileError as e:
        raise BaselineError(f"{shown(path)}: {e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = data[: e.start].count(b"\n") + 1
        raise BaselineError(f"{shown(path)}:{where}: not UTF-8 text") from None
    out = []
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = LINE.match(line.strip())
        if m is None:
            raise BaselineError(f"{shown(path)}:{n}: expected `<file>:<line> <domain> expected=<X> got=<Y>  # why`")
        name = m["where"].rsplit(":", 1)[0]
        if Path(name).name != name or not (CASES / name).is_file():
            # It could never match: lines name the project's own case files only (case_file()).
            raise BaselineError(
                f"{shown(path)}:{n}: {name}: not a case file of the project's cases/ ({shown(CASES)}): "
                "no step could match it"
            )
        out.append(Known(m["where"], m["domain"], m["expected"], m["got"], (m["why"] or "").strip()))
    return out


def read_all(folder: Path | None = None) -> dict[Path, list[Known]]:
    """Every baselines/*.txt, read and checked (read()): called before the boot, so a bad
    one is refused then; path_for() picks the Xen's own once its version is known."""
    folder = BASELINES if folder is None else folder
    return {path: read(path) for path in sorted(folder.glob("*.txt"))}


def _role(res: CaseResult, step: StepResult) -> str:
    """The role a step's domain plays in its case (A), from the case file."""
    found = next((s for s in res.case.steps if s.line == step.line and s.op == step.op), None)
    return found.domain if found is not None else step.domain


def step_key(case_file: str, step: StepResult, role: str) -> tuple[str, str, str, str]:
    """What a baseline line names: (case file:line, role, expected, got)."""
    return (f"{case_file}:{step.line}", role, step.expect, step.got)


def case_file(case: Case) -> str | None:
    """The name baseline lines give the case's file, if it is the project's own
    cases/<name> (resolved: a symlink or `../` elsewhere is not); None for any other file."""
    path = (case.copied_from or case.path).resolve()
    return path.name if path.parent == CASES.resolve() else None


def _key(res: CaseResult, step: StepResult) -> tuple[str, str, str, str] | None:
    name = case_file(res.case)
    return step_key(name, step, _role(res, step)) if name is not None else None


def apply(results: list[CaseResult], known: list[Known]) -> tuple[list[Known], list[Known]]:
    """Mark the failing steps `known` lists as KNOWN, in place; (matched, stale) entries."""
    by_key = {k.key: k for k in known}
    matched: dict[tuple[str, str, str, str], Known] = {}
    for res in results:
        for i, step in enumerate(res.steps):
            key = _key(res, step)
            k = by_key.get(key) if key is not None else None
            if step.verdict == "FAIL" and k is not None:
                res.steps[i] = replace(step, verdict=KNOWN)
                matched[k.key] = k
    # A line about a case file this run did not read is neither matched nor stale.
    files = {case_file(res.case) for res in results}
    return list(matched.values()), [k for k in known if k.key not in matched and k.where.split(":")[0] in files]


def update_file(path: Path, results: list[CaseResult], known: list[Known]) -> list[Known]:
    """Rewrite `path` with every step of the run that failed or was known; returns its entries.
    Reasons of entries kept are kept; a new entry asks for one."""
    reasons = {k.key: k.why for k in known}
    keys = [key for res in results for s in res.steps if s.verdict in ("FAIL", KNOWN) and (key := _key(res, s))]
    entries = [Known(*key, why=reasons.get(key, "")) for key in keys]
    head = [
        f"# Known results of Xen {path.stem}: steps that answer otherwise than their case expects.",
        '# One a line: <case file>:<line> <domain> expected=<X> got=<Y>  # why (docs/xen-under-test.md "Baselines").',
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(head + [e.line() for e in entries]) + "\n")
    return entries


def summary(path: Path | None, results: list[CaseResult], known: list[Known], stale: list[Known], update: bool) -> str:
    """What the Xen's baseline knew and what it no longer matches; with `update`, rewrite it first."""
    if path is None:
        return ""
    if update:
        entries = update_file(path, results, known + stale)
        return f"\nbaseline {path}: written, {len(entries)} known step(s)"
    if not (known or stale):
        return ""
    lines = [f"\nKNOWN ({path.name}): {len(known)} step(s) answer as the baseline says, not as their case expects:"]
    lines += [f"  {k.where} {k.domain}: expected {k.expected}, got {k.got}  # {k.why}" for k in known]
    if stale:
        lines.append(f"{len(stale)} baseline line(s) matched no step (Xen or the case changed):")
        lines += [f"  {k.where} {k.domain}: expected {k.expected}, got {k.got}" for k in stale]
    return "\n".join(lines)
