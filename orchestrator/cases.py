"""Case files: parsed, checked before any boot, and compiled into guest scripts.

A case file (``cases/*.evt``) reads as one story across domains:

    case interdomain-exchange
    title   A and B connect a channel and exchange events
    domains A B
    source  xen/common/event_channel.c: evtchn_alloc_unbound()

    A alloc_unbound self @B   -> ok => pa
    B bind_interdomain @A $pa -> ok => pb
    A close 9999              -> EINVAL spec: ESRCH   # Xen's answer, then the 3.0 guide's

Each step names the domain that runs it. Steps run in file order: where the
running domain changes, the compiler inserts a barrier (``put``/``get`` through
xenstore, see docs/guest-script.md); a variable used in a domain other than the
one that set it is published and fetched the same way. A step ending in ``&``
runs at the same time as the next one (in another domain).
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import lang
from .errors import CaseFileError, SetupError
from .initramfs import PEER_KERNEL_MAX, RUN_DISK_BYTES
from .userfile import MiB, UserFileError, read_bytes

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # the forms of lang.py, with friendlier messages here
DOMAIN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
VAR = re.compile(r"^[a-z_][a-z0-9_]*$")
# `4.18:` in an expectation: what Xen answers from that version on.
VERSION_MARK = re.compile(r"([0-9]{1,3})\.([0-9]{1,3}):", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+", re.ASCII)  # ASCII: int() would take any Unicode digit

# The privileged domain: its steps run through dom0's privcmd driver (dom0/evtchn-op.c),
# which offers the hypercalls marked DOM0 in script/script-lang.h only.
DOM0 = "Dom0"
# The Linux peer: a domU running a Linux kernel; its steps go through that kernel's event
# channel device (dom0/evtchn-op.c --domu, started by dom0/peer-init.c): the same ops as Dom0.
LINUX = "Linux"

# Domains whose own event channels a Linux kernel holds (its xenstore, console, device
# ports): their steps may not reset those or close one behind the kernel's back
# (dom0/evtchn-op.c: close, reset). Our guests reset their own at every case.
KERNEL_DOMAINS = (DOM0, LINUX)
DOMID_SELF = 0x7FF0  # xen/include/public/xen.h: the caller itself
# The ops by which a domain makes a port in its own table: the only ports those may close.
OWN_PORT_OPS = ("alloc_unbound", "bind_interdomain")

# The index compile_case() gets in the checks: longer than any real group's, so if
# its keys fit the guest's limits, every real one does. Nine digits: `compare` numbers
# the groups of its arms one after another, past 99999 for 10^5 cases.
CHECK_INDEX = 999_999_999

SYNC_TIMEOUT_MS = 120000
# Ops that count a port's upcalls from a base: in an `&` chain, a `mark` takes it (compile_case).
COUNTS_FROM_MARK = ("pingpong", "rtt")
DEFAULT_VCPUS = 1
DEFAULT_MAX_EVENT_CHANNELS = 1023  # xl.cfg(5)'s default
# What each config line takes, and why: a value past it would reach xl changed (a uint32
# cut short), be refused by xl create after the boot, or run on fewer vcpus than asked.
BOUNDS = {
    "vcpus": (1, lang.GUEST_MAX_VCPUS, "the guest runs on at most GUEST_MAX_VCPUS (guest/guest.h)"),
    "max_event_channels": (1, (1 << 32) - 1, "xl's max_event_channels is a uint32"),
    # Physical IRQs (GSIs) of the machine: QEMU's have a few dozen, Xen's nr_irqs some hundreds.
    "irqs": (0, 1023, "an IRQ of the machine"),
    "timeout": (1, lang.INT64_MAX, "seconds"),
}
# A guest's script is its ramdisk, loaded into its 16 MiB (xen-config/domU.cfg.in) after
# its first MiB and its kernel with its bss (6.2 MiB): about 8.6 MiB are left for it.
GUEST_SCRIPT_MAX = 8 * MiB
# What the run disk (initramfs.RUN_DISK_BYTES) holds beside the scripts: the guest and
# dom0's evtchn-op (0.9 MiB), the helpers, the xl configs, the Linux peer's initramfs
# (0.35 MiB) and cpio's headers; and with a Linux peer its kernel (PEER_KERNEL_MAX).
RUN_DISK_OTHERS = 2 * MiB
CASE_BASE_S = 10.0
SECONDS_PER_STEP = 1.0


@dataclass(frozen=True)
class Config:
    """What the domains of a case need from xl; cases with equal configs share domains."""

    domains: tuple[str, ...]
    vcpus: int = DEFAULT_VCPUS
    max_event_channels: int = DEFAULT_MAX_EVENT_CHANNELS
    irqs: tuple[int, ...] = ()  # physical IRQs xl grants the domain (xl.cfg `irqs`)


@dataclass(frozen=True)
class Step:
    line: int
    domain: str
    op: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # what the Xen under test should answer (its source decides)
    spec: tuple[str, ...] | None  # what the 3.0 interface guide says, where it differs
    save: str | None
    concurrent: bool  # runs together with the next step
    comment: str
    # Where Xen's answer changed on purpose: from each (major, minor) on, what it answers
    # instead of `expect` (`-> EINVAL 4.18: EBUSY`); `expect_for` picks one per Xen.
    since: tuple[tuple[tuple[int, int], tuple[str, ...]], ...] = ()

    def expect_for(self, version: tuple[int, int]) -> tuple[str, ...]:
        """What Xen major.minor `version` should answer."""
        chosen = self.expect
        for v, expect in self.since:
            if version >= v:
                chosen = expect
        return chosen


@dataclass
class Case:
    name: str
    path: Path
    line: int
    title: str = ""
    sources: list[str] = field(default_factory=list)
    domains: tuple[str, ...] = ()
    vcpus: int = DEFAULT_VCPUS
    max_event_channels: int = DEFAULT_MAX_EVENT_CHANNELS
    irqs: tuple[int, ...] = ()
    timeout: int = 0  # seconds the guests get for this case; 0: from its number of steps
    fresh: bool = False  # always in domains of its own: it changes what no reset undoes
    steps: list[Step] = field(default_factory=list)
    copied_from: Path | None = None  # the file `path` is a copy of (the matrix's snapshot), if any

    @property
    def budget(self) -> float:
        return float(self.timeout) if self.timeout else CASE_BASE_S + SECONDS_PER_STEP * len(self.steps)

    @property
    def config(self) -> Config:
        return Config(self.domains, self.vcpus, self.max_event_channels, self.irqs)

    @property
    def id(self) -> str:
        return self.name

    @property
    def destroyed(self) -> tuple[str, ...]:
        """The domains a `Dom0 destroy @X` step of this case ends."""
        return tuple(s.args[0][1:] for s in self.steps if s.op == "destroy" and s.args[0].startswith("@"))

    def cut(self, role: str) -> set[int]:
        """Lines of `role`'s steps that run into its destruction (joined by `&` to the
        destroy): they never report a result, by design."""
        out: set[int] = set()
        chain: list[Step] = []
        for s in self.steps:
            chain.append(s)
            if s.concurrent:
                continue
            if any(c.op == "destroy" and c.args[0] == f"@{role}" for c in chain):
                out |= {c.line for c in chain if c.domain == role}
            chain = []
        return out

    def for_xen(self, version: tuple[int, int]) -> Case:
        """This case as Xen major.minor `version` should answer it."""
        steps = [replace(st, expect=st.expect_for(version)) for st in self.steps]
        return replace(self, steps=steps)


def shown(path: Path) -> str:
    """A path as messages print it: one line, whatever characters its name holds."""
    text = str(path)
    return text if text.isprintable() else ascii(text)


def _fail(path: Path, line: int, msg: str) -> CaseFileError:
    return CaseFileError(f"{shown(path)}:{line}: {msg}")


# Characters that str.split() takes for spaces, or that print as nothing, with the names a
# reader knows them by; unicodedata names the others (NO-BREAK SPACE, LINE SEPARATOR, ...).
_CONTROL_NAMES = {
    "\v": "vertical tab",
    "\f": "form feed",
    "\r": "carriage return",
    "\x1c": "file separator",
    "\x1d": "group separator",
    "\x1e": "record separator",
    "\x1f": "unit separator",
    "\x85": "next line (NEL)",
}


def _clip(word: str, limit: int = 40) -> str:
    """A word as a message quotes it: a 5000-digit number is not worth a screenful."""
    return word if len(word) <= limit else f"{word[:limit]}... ({len(word)} characters)"


def _odd_separator(body: str) -> str | None:
    """What is wrong with a line whose words are parted by more than spaces and tabs.

    The guest's lexer parts words at spaces and tabs only (and refuses control characters);
    str.split() also at form feeds, NBSP, U+2028, \\x1c and the like, and would let a line
    through that reads otherwise than it shows."""
    c = next((c for c in body if _odd(c)), None)
    if c is None:
        return None
    name = _CONTROL_NAMES.get(c) or unicodedata.name(c, "control character").lower()
    return f"a {name} (U+{ord(c):04X}): only spaces and tabs part the words of a line"


def _odd(c: str) -> bool:
    return c not in " \t" and (c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp"))


def script_size_error(case: Case, sizes: dict[str, int]) -> str | None:
    """What is wrong with the size of a case's compiled scripts (bytes, by domain), or
    None: each guest's must fit its memory, all of them the run disk, alone with the run's
    other files. The run disk is checked again as it is made (initramfs.build_run_disk)."""
    for dom, size in sizes.items():
        if dom not in (DOM0, LINUX) and size > GUEST_SCRIPT_MAX:
            return (
                f"case {case.name}: {dom}'s script would take {size} bytes, more than a guest holds "
                f"({GUEST_SCRIPT_MAX // MiB} MiB of its 16: xen-config/domU.cfg.in): split the case"
            )
    room = RUN_DISK_BYTES - RUN_DISK_OTHERS - (PEER_KERNEL_MAX if LINUX in case.domains else 0)
    total = sum(sizes.values())
    if total > room:
        beside = "the guest's files and the Linux peer's kernel" if LINUX in case.domains else "the guest's files"
        return (
            f"case {case.name}: its scripts would take {total} bytes, more than the run disk has room for "
            f"({room} of its {RUN_DISK_BYTES // MiB} MiB, beside {beside}): split the case"
        )
    return None


def _own_port(step: Step) -> bool:
    """Whether `step` made a port in its own domain's table (OWN_PORT_OPS): alloc_unbound
    of another domain makes the port there, not in the caller's."""
    if step.op not in OWN_PORT_OPS or step.expect[0] != "ok":
        return False
    if step.op == "bind_interdomain":
        return True
    a = step.args[0]
    v = lang.parse_num(a)
    return a in ("self", f"@{step.domain}") or v == DOMID_SELF or (step.domain == DOM0 and v == 0)


def _meaning(expect: Iterable[str]) -> tuple[str, ...]:
    """An expectation as Xen's answer would be compared with it: numbers by value (`ok 0x3`
    is `ok 3`), status fields in any order."""

    def num(w: str) -> str:
        v = lang.parse_num(w)
        return str(v) if v is not None else w

    head, *rest = expect
    if rest and "=" in rest[-1]:  # a status: kind, then fields
        kind, fields = rest[0], sorted(f"{k}={num(v)}" for k, _, v in (f.partition("=") for f in rest[1:]))
        return (head, kind, *fields)
    return (head, *map(num, rest))


class _LineError(Exception):
    """One line's problem; the parser notes it and goes on with the next line."""

    def __init__(self, line: int, msg: str) -> None:
        super().__init__(msg)
        self.line = line
        self.msg = msg


class _Parser:
    def __init__(self, path: Path, errnos: frozenset[str] | None) -> None:
        self.path = path
        self.errnos = errnos
        self.cases: list[Case] = []
        self.problems: list[str] = []  # `file:line: message`, in file order
        self.names: dict[str, int] = {}  # case name -> its `case` line: a file of 10^5 cases stays linear

    def error(self, line: int, msg: str) -> _LineError:
        return _LineError(line, msg)

    def note(self, e: _LineError) -> None:
        self.problems.append(f"{shown(self.path)}:{e.line}: {e.msg}")

    def parse(self, text: str) -> list[Case]:
        case: Case | None = None
        defined: set[str] = set()
        self.case_start = 0  # problems noted before the current case
        # "\n" only: str.splitlines() also breaks at form feeds and the like, which editors do not.
        for n, raw in enumerate(text.split("\n"), start=1):
            body, _, comment = raw.removesuffix("\r").partition("#")  # a CRLF file's \r ends the line
            odd = _odd_separator(body)
            # A line with an odd separator is refused, but read as meant: what follows is not blamed for it.
            words = ("".join(" " if _odd(c) else c for c in body) if odd else body).split()
            if not words:
                if odd:
                    self.note(self.error(n, odd))
                continue
            try:
                if words[0] == "case":
                    if case is not None:
                        self.finish(case)
                    case, defined = Case(words[1] if len(words) > 1 else "", self.path, n), set()
                    self.case_start = len(self.problems)
                    if odd:
                        with contextlib.suppress(_LineError):
                            self.case_line(n, words)  # its name is known, even if this line is refused
                        raise self.error(n, odd)
                    self.case_line(n, words)
                    continue
                if case is None:
                    raise self.error(n, f"`{words[0]}` before the first `case` line")
                if odd:
                    with contextlib.suppress(_LineError):
                        self.line(case, n, words, body, comment, defined)
                    raise self.error(n, odd)
                self.line(case, n, words, body, comment, defined)
            except _LineError as e:
                self.note(e)
        if case is not None:
            self.finish(case)
        if not self.cases and not self.problems:
            self.problems.append(f"{shown(self.path)}:1: no `case` in file")
        return self.cases

    def case_line(self, n: int, words: list[str]) -> None:
        if len(words) != 2 or not NAME.match(words[1]) or len(words[1]) >= lang.NAME_LEN:
            raise self.error(
                n, f"expected `case <name>` (lower case, digits and dashes, under {lang.NAME_LEN} characters)"
            )
        first = self.names.setdefault(words[1], n)
        if first != n:
            raise self.error(n, f"case {words[1]} defined twice (first on line {first})")

    def line(self, case: Case, n: int, words: list[str], body: str, comment: str, defined: set[str]) -> None:
        head = words[0]
        if head == "title":
            case.title = body.split(None, 1)[1].strip() if len(words) > 1 else ""
        elif head == "source":
            if len(words) < 2:
                raise self.error(n, "`source` needs a citation")
            case.sources.append(body.split(None, 1)[1].strip())
        elif head == "domains":
            if case.steps:
                raise self.error(n, "`domains` must come before the steps")
            doms = tuple(words[1:])
            bad = [d for d in doms if not DOMAIN.match(d) or len(d) >= lang.NAME_LEN]
            if not doms or bad or len(set(doms)) != len(doms):
                raise self.error(
                    n,
                    f"expected `domains A [B ...]`: distinct names starting upper case, "
                    f"letters and digits, under {lang.NAME_LEN} characters",
                )
            case.domains = doms
        elif head == "irqs":
            if len(words) < 2 or not all(_DECIMAL.fullmatch(w) for w in words[1:]):
                raise self.error(n, "expected `irqs <irq> [<irq> ...]`")
            case.irqs = tuple(self.bounded(n, head, w) for w in words[1:])
        elif head == "fresh":
            if len(words) != 1:
                raise self.error(n, "`fresh` takes no value")
            case.fresh = True
        elif head in ("vcpus", "max_event_channels", "timeout"):
            if len(words) != 2 or not _DECIMAL.fullmatch(words[1]) or not words[1].strip("0"):
                raise self.error(n, f"expected `{head} <positive number>`")
            setattr(case, head, self.bounded(n, head, words[1]))
        elif DOMAIN.match(head):
            step = self.step(case, n, words, comment.strip(), defined)
            if step is not None:
                case.steps.append(step)
        else:
            raise self.error(n, f"unknown keyword or domain `{head}`")

    def bounded(self, n: int, head: str, word: str) -> int:
        """A decimal config value within BOUNDS[head]."""
        low, high, why = BOUNDS[head]
        v = lang.parse_num(word, hex_ok=False)  # None past INT64_MAX
        if v is None or not low <= v <= high:
            raise self.error(n, f"`{head}` {_clip(word)} is out of range: {low}..{high} ({why})")
        return v

    def finish(self, case: Case) -> None:
        bad = len(self.problems)
        if bad > self.case_start:
            return  # already broken: what follows from its bad lines would be noise
        try:
            if not case.domains:
                raise self.error(case.line, f"case {case.name} has no `domains` line")
            if not case.steps:
                raise self.error(case.line, f"case {case.name} has no steps")
            if case.steps[-1].concurrent:
                raise self.error(case.steps[-1].line, "the last step cannot end in `&`")
            self.check_destroy(case)
        except _LineError as e:
            self.note(e)
        if len(self.problems) == bad:
            self.compiled(case)
        if len(self.problems) == bad:
            self.cases.append(case)

    def check_destroy(self, case: Case) -> None:
        """A domain the case destroys: named as @ROLE, in domains of its own (`fresh`),
        with no step after the destroy but those `&`-joined to it."""
        for i, s in enumerate(case.steps):
            if s.op != "destroy":
                continue
            role = s.args[0][1:] if s.args[0].startswith("@") else ""
            if role not in case.domains or role == DOM0:
                raise self.error(s.line, "`destroy` takes @NAME of a domain the case creates (not Dom0)")
            if not case.fresh:
                raise self.error(s.line, "a case that destroys a domain runs in domains of its own: add `fresh`")
            later = [t for t in case.steps[i + 1 :] if t.domain == role]
            if later:
                raise self.error(later[0].line, f"{role} has been destroyed (line {s.line}): it runs no more steps")

    def compiled(self, case: Case) -> None:
        """What the guests will read must pass the guest's own parser (lang.check_script):
        every line compile_group() writes for the case, its comment line too."""
        scripts = {
            dom: [source_comment(case), *lines]
            for dom, lines in compile_case(case, CHECK_INDEX, group=CHECK_INDEX).items()
        }
        texts = {dom: ("\n".join(lines) + "\n").encode() for dom, lines in scripts.items()}
        too_large = script_size_error(case, {dom: len(text) for dom, text in texts.items()})
        if too_large:
            self.note(self.error(case.line, too_large))
            return
        for dom, lines in scripts.items():
            for k, err in lang.check_script(texts[dom], self.errnos):
                if err is None:
                    continue
                self.note(self.error(_source_line(case, lines, k), f"the guest would refuse {dom}'s script: {err}"))
                return

    def step(self, case: Case, n: int, words: list[str], comment: str, defined: set[str]) -> Step | None:
        save = words[-1] if len(words) >= 4 and words[-2] == "=>" else None
        try:
            return self._step(case, n, words, comment, defined)
        except _LineError:
            if save is not None:
                defined.add(save)  # the rest of the case is checked as if the step had set it
            raise

    def _step(self, case: Case, n: int, words: list[str], comment: str, defined: set[str]) -> Step:
        domain = words[0]
        if domain not in case.domains:
            raise self.error(n, f"domain {domain} is not in `domains {' '.join(case.domains)}`")
        if len(words) < 2:
            raise self.error(n, "a step needs an op")
        name = words[1]
        op = lang.CASE_OPS.get(name)
        if op is None:
            raise self.error(n, f"unknown op `{name}`; known: {', '.join(sorted(lang.CASE_OPS))}")
        if domain in (DOM0, LINUX) and name not in lang.DOM0_OPS:
            raise self.error(n, f"{domain} runs hypercalls only ({', '.join(lang.DOM0_OPS)}), not `{name}`")
        if name in lang.PRIV_OPS and domain != DOM0:
            raise self.error(n, f"`{name}` is the toolstack's: only {DOM0} runs it")
        rest = words[2:]
        concurrent = bool(rest) and rest[-1] == "&"
        if concurrent:
            rest = rest[:-1]
        chain = []  # the steps of the `&` chain this step joins
        for prev in reversed(case.steps):
            if not prev.concurrent:
                break
            chain.append(prev)
        if domain in [c.domain for c in chain]:
            raise self.error(n, "steps joined with `&` must run in different domains")
        for c in chain:
            if c.save and any(w == f"${c.save}" or w.endswith(f"=${c.save}") for w in rest):
                raise self.error(n, f"${c.save} is set by a step this one runs together with (`&`)")
        save = None
        if "=>" in rest:
            i = rest.index("=>")
            if i != len(rest) - 2 or not VAR.match(rest[-1]) or len(rest[-1]) >= lang.NAME_LEN:
                raise self.error(
                    n, f"`=> <variable>` must end the step (lower-case variable name, under {lang.NAME_LEN} characters)"
                )
            if op.value != "NUM":
                raise self.error(n, f"{name} has no value to save with `=>`")
            save = rest[-1]
            rest = rest[:i]
        spec: tuple[str, ...] | None = None
        if "spec:" in rest:
            i = rest.index("spec:")
            spec = tuple(rest[i + 1 :])
            rest = rest[:i]
            if "->" not in rest or not spec:
                raise self.error(n, "`spec: <expectation>` follows `-> <expectation>`")
        expect: list[str] = ["ok"]
        since: list[tuple[tuple[int, int], tuple[str, ...]]] = []
        if "->" in rest:
            i = rest.index("->")
            expect = rest[i + 1 :]
            rest = rest[:i]
            marks = [j for j, w in enumerate(expect) if VERSION_MARK.fullmatch(w)]
            bounds = [*marks, len(expect)]
            for j, end in itertools.pairwise(bounds):
                m = VERSION_MARK.fullmatch(expect[j])
                assert m is not None
                version = (int(m.group(1)), int(m.group(2)))
                if not expect[j + 1 : end] or (since and version <= since[-1][0]):
                    raise self.error(
                        n, "`<major>.<minor>: <expectation>` after `->`, versions rising, each with its expectation"
                    )
                since.append((version, tuple(expect[j + 1 : end])))
            expect = expect[: marks[0]] if marks else expect
            if not expect:
                raise self.error(n, "`->` needs an expectation")
        args = rest
        if len(args) != len(op.args):
            raise self.error(n, f"{name} takes {len(op.args)} argument(s), got {len(args)}")
        for i, (kind, a) in enumerate(zip(op.args, args, strict=True)):
            self.argument(case, n, name, kind, a, defined)
            wide = lang.field_error(name, i, a)
            if wide:
                raise self.error(n, wide)
        if domain in KERNEL_DOMAINS:
            self.kernel_owned(case, n, domain, name, args)
        self.expectation(case, n, op, expect, defined)
        for _, later in since:
            self.expectation(case, n, op, list(later), defined)
            if save is not None and later[0] != "ok":
                # On that Xen the variable would have no value for the steps that use it.
                raise self.error(n, f"a step that saves its value with `=> {save}` must expect ok on every Xen")
        if spec is not None:
            self.expectation(case, n, op, list(spec), defined)
            if _meaning(spec) == _meaning(expect):
                # The report would call the step DIFFERS FROM 3.0 where nothing differs.
                raise self.error(
                    n,
                    f"`spec: {' '.join(spec)}` is the step's own expectation: "
                    "spec: is only for where the 3.0 guide differs",
                )
        if save is not None:
            if save in defined:
                # One name, one value per case: a cross-domain fetch could not tell them apart.
                raise self.error(n, f"variable ${save} is already set earlier in this case")
            defined.add(save)
        return Step(n, domain, name, tuple(args), tuple(expect), spec, save, concurrent, comment, tuple(since))

    def kernel_owned(self, case: Case, n: int, domain: str, op: str, args: list[str]) -> None:
        """Dom0 and the Linux peer leave their kernel's own channels alone: no reset of
        themselves, and a close only of a port the case made them (a $variable)."""
        if op == "reset":
            a = args[0]
            v = lang.parse_num(a)
            own = a in ("self", f"@{domain}") or v == DOMID_SELF or (domain == DOM0 and v == 0)
            if own or a.startswith("$"):
                why = "its own" if own else f"{a} may hold its own domid"
                raise self.error(
                    n,
                    f"{domain} may not reset itself (reset {a}: {why}): that would close its kernel's own "
                    "event channels (xenstore, console); reset @NAME of a domain the case creates",
                )
        elif op == "close":
            a = args[0]
            maker = next((s for s in reversed(case.steps) if a.startswith("$") and s.save == a[1:]), None)
            if maker is None or maker.domain != domain or not _own_port(maker):
                raise self.error(
                    n,
                    f"{domain} may close only a port it made in this case (a $variable of its own "
                    f"alloc_unbound self or bind_interdomain), not `{a}`: that may be one of its kernel's "
                    "own event channels (xenstore, console)",
                )

    def argument(self, case: Case, n: int, op: str, kind: str, a: str, defined: set[str]) -> None:
        words = sorted(w for w, k in lang.KEYWORDS.items() if k == kind)
        if kind == "w":
            if a not in words:
                raise self.error(n, f"{op}: expected {' or '.join(f'`{w}`' for w in words)}, got `{a}`")
        elif kind == "g" and a in words:
            return
        else:
            self.value(case, n, a, defined)

    def value(self, case: Case, n: int, v: str, defined: set[str]) -> None:
        if v == "self" or lang.parse_num(v) is not None:
            return
        if v.startswith("$"):
            if v[1:] not in defined:
                raise self.error(n, f"variable {v} is used before a step sets it with `=> {v[1:]}`")
            return
        if v.startswith("@"):
            if v[1:] not in case.domains:
                raise self.error(n, f"{v}: no domain {v[1:]} in this case")
            return
        if re.fullmatch(r"[0-9]+|0x[0-9a-fA-F]+", v, re.ASCII):
            raise self.error(n, f"number `{_clip(v)}` is out of range: at most {lang.INT64_MAX} (signed 64-bit)")
        raise self.error(n, f"bad value `{v}`: expected a number (ASCII decimal or 0x hex), $variable, @DOMAIN or self")

    def expectation(self, case: Case, n: int, op: lang.Op, expect: list[str], defined: set[str]) -> None:
        head, rest = expect[0], expect[1:]
        if head != "ok":
            if rest or not (head.startswith("ERR") or lang.ERRNO_FORM.fullmatch(head)):
                raise self.error(n, f"bad expectation `{' '.join(expect)}`: `ok [value]` or an errno name")
            if re.fullmatch(r"ERR-?[0-9]+", head, re.ASCII):
                if lang.check_err(head, None):
                    raise self.error(n, f"bad expectation `{head}`: ERR<n> or ERR-<n>, n decimal and not 0")
            elif lang.check_err(head, self.errnos):
                raise self.error(n, f"{head} is not an errno in Xen's xen/errno.h")
            return
        if not rest:
            return
        if op.value == "NONE":
            raise self.error(n, f"{op.name} has no value to expect: `ok` alone or an errno name")
        if op.value == "STATUS":
            kinds = lang.STATUS_KINDS
            if rest[0] not in kinds:
                raise self.error(n, f"status kind `{rest[0]}`: one of {', '.join(kinds)}")
            fields = kinds[rest[0]]
            seen: set[str] = set()
            for kv in rest[1:]:
                key, eq, val = kv.partition("=")
                if not eq or key not in fields:
                    one_of = ", ".join(fields) if fields else "none"
                    raise self.error(n, f"status field `{kv}`: {rest[0]} reports {one_of} (<field>=<value>)")
                if key in seen:
                    raise self.error(n, f"status field `{key}` given twice")
                seen.add(key)
                self.value(case, n, val, defined)
            return
        if len(rest) > 1:
            raise self.error(n, f"bad expectation `{' '.join(expect)}`: `ok` takes one value")
        self.value(case, n, rest[0], defined)


# Far beyond any real case file (cases/ has about 100 KiB in all), room for 10^5 cases.
MAX_CASE_FILE = 8 * MiB


def read_text(path: Path) -> str:
    """A case file's text; CaseFileError (`file: ...`) if it cannot be one."""
    try:
        data = read_bytes(path, MAX_CASE_FILE)
    except UserFileError as e:
        raise CaseFileError(f"{shown(path)}: {e}") from None
    if b"\0" in data:
        raise CaseFileError(f"{shown(path)}: a binary file, not a case file")
    if data.startswith(codecs.BOM_UTF8):
        # Invisible in most editors, it made the first word `\ufeffcase`: "before the first `case` line".
        raise CaseFileError(
            f"{shown(path)}:1: starts with a UTF-8 byte-order mark (bytes EF BB BF): save it as UTF-8 without one"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CaseFileError(f"{shown(path)}:{line}: not UTF-8 text") from None


def check_file(path: Path, errnos: frozenset[str] | None = None) -> tuple[list[Case], list[str]]:
    """A case file's cases and every problem found in it (`file:line: message`)."""
    try:
        text = read_text(path)
    except CaseFileError as e:
        return [], [e.detail]
    parser = _Parser(path, errnos)
    found = parser.parse(text)
    return found, parser.problems


ERRNO_H = "xen/errno.h"


def _guest_errnos(include: Path) -> list[tuple[str, int]]:
    """xen/errno.h's XEN_ERRNO(name, value) lines a guest sees: not those under `#ifdef __XEN__`."""
    out: list[tuple[str, int]] = []
    hidden = 0  # depth inside #ifdef __XEN__ (nested conditionals counted while hidden)
    path = include / ERRNO_H
    try:
        text = read_bytes(path, MiB).decode("utf-8", "replace")
    except UserFileError as e:
        raise SetupError(f"{shown(path)}: {e}: Xen's public headers are not there") from None
    for line in text.splitlines():
        d = line.strip()
        if hidden:
            hidden += d.startswith("#if")
            hidden -= d.startswith("#endif")
            continue
        if re.match(r"#\s*ifdef\s+__XEN__\b", d):
            hidden = 1
            continue
        m = re.match(r"XEN_ERRNO\((E\w+),\s*(\d+)\)", d)
        if m:
            out.append((m.group(1), int(m.group(2))))
    if not out:
        # Every errno name of every case would be refused, each as "not an errno".
        raise SetupError(f"{shown(path)}: no XEN_ERRNO(name, value) lines: not Xen's public {ERRNO_H}")
    return out


def read_errnos(include: Path) -> frozenset[str]:
    """Errno names from Xen's public xen/errno.h, those the guest knows."""
    return frozenset(name for name, _ in _guest_errnos(include))


def parse_file(path: Path, errnos: frozenset[str] | None = None) -> list[Case]:
    found, problems = check_file(path, errnos)
    if problems:
        raise CaseFileError("\n".join(problems))
    return found


def check_files(paths: Iterable[Path], errnos: frozenset[str] | None = None) -> tuple[list[Case], list[str]]:
    """The cases of several files, and every problem in any of them (case names are unique across files)."""
    cases: list[Case] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(paths):
        found, bad = check_file(path, errnos)
        problems += bad
        for case in found:
            if case.name in seen:
                problems.append(f"{shown(path)}:{case.line}: case {case.name} also defined in {shown(seen[case.name])}")
                continue
            seen[case.name] = path
            cases.append(case)
    return cases, problems


def load(paths: Iterable[Path], errnos: frozenset[str] | None = None) -> list[Case]:
    cases, problems = check_files(paths, errnos)
    if problems:
        raise CaseFileError("\n".join(problems))
    return cases


# -- compiling into guest scripts -------------------------------------------


@dataclass(frozen=True)
class Group:
    """Cases that run one after another inside the same domains."""

    index: int
    config: Config
    cases: tuple[Case, ...]


ORDERS = ("file", "reverse", "random", "random:<seed>")


def order(cases: list[Case], spec: str) -> tuple[list[Case], str]:
    """The cases in the order `spec` asks for, and that order spelled so it can be replayed.

    `file` keeps the case files' order, `reverse` turns it round, `random` draws a seed
    and `random:<seed>` shuffles with it.
    """
    if spec == "file":
        return list(cases), spec
    if spec == "reverse":
        return cases[::-1], spec
    kind, colon, seed = spec.partition(":")
    if kind != "random" or (colon and not (seed.isascii() and seed.isdigit())):
        raise ValueError(f"unknown order `{spec}`: one of {', '.join(ORDERS)}")
    n = int(seed) if seed else random.SystemRandom().randrange(1 << 32)
    shuffled = list(cases)
    random.Random(n).shuffle(shuffled)
    return shuffled, f"random:{n}"


def shared(group: Config, case: Config) -> Config | None:
    """The config of a group that also runs `case`, or None if it cannot.

    The xl configs must be equal, and one case's guests a subset of the other's: a case
    that names fewer domains runs while the others go on to their next case (a domain is
    reset at each case it takes part in, and a case's barriers wait only for its own
    domains). `Dom0` is no xl domain: it joins any group.
    """
    if (group.vcpus, group.max_event_channels, group.irqs) != (case.vcpus, case.max_event_channels, case.irqs):
        return None
    mine, theirs = (set(c.domains) - {DOM0} for c in (group, case))
    if not (mine <= theirs or theirs <= mine):
        return None
    return replace(group, domains=group.domains + tuple(d for d in case.domains if d not in group.domains))


def plan(cases: list[Case], fresh: bool = False, first: int = 1) -> list[Group]:
    """Group cases that can share domains (`shared`), or one group per case when `fresh`
    (and for each case that says `fresh`).

    Within a group the cases keep the order they are given in; groups are numbered
    from `first`, so plans made for one machine do not share domain names.
    """
    groups: list[tuple[Config, list[Case]]] = []
    for case in cases:
        for i, (config, members) in enumerate(groups):
            alone = fresh or case.fresh or members[0].fresh
            joined = None if alone else shared(config, case.config)
            if joined is not None:
                members.append(case)  # in place: a copy per case made 10^5 cases quadratic
                groups[i] = (joined, members)
                break
        else:
            groups.append((case.config, [case]))
    return [Group(n, config, tuple(cs)) for n, (config, cs) in enumerate(groups, start=first)]


def _uses(step: Step) -> set[str]:
    vals = list(step.args) + [e.partition("=")[2] or e for e in step.expect]
    return {v[1:] for v in vals if v.startswith("$")}


def compile_case(
    case: Case, index: int, sync_timeout_ms: int = SYNC_TIMEOUT_MS, group: int = 0
) -> dict[str, list[str]]:
    """The script lines of one case for each of its domains. Its rendezvous keys name the
    group too: dom0 publishes for every group in the same place, and a key an earlier
    group's Dom0 left there must not stand in for this one's."""
    out: dict[str, list[str]] = {d: [f"case {case.name}"] for d in case.domains}
    key = f"g{group}c{index}" if group else f"c{index}"
    doms = case.domains

    def get(dom: str, line: int, peer: str, name: str, save: str | None = None) -> None:
        tail = f" => {save}" if save else ""
        out[dom].append(f"{line} get {peer} {key}-{name} {sync_timeout_ms}{tail}")

    # Nobody starts before everybody has reset its event channels for this case.
    if len(doms) > 1:
        for d in doms:
            out[d].append(f"{case.line} put {key}-ready 1")
        for d in doms:
            for p in doms:
                if p != d:
                    get(d, case.line, p, "ready")

    owner: dict[str, str] = {}  # variable -> domain that sets it
    for s in case.steps:
        if s.save:
            owner[s.save] = s.domain
    foreign_users: dict[str, set[str]] = {}
    for s in case.steps:
        for v in _uses(s):
            if owner.get(v) not in (None, s.domain):
                foreign_users.setdefault(v, set()).add(s.domain)

    # Split the steps into groups that run together (joined by `&`).
    runs: list[list[Step]] = []
    joined = False
    for s in case.steps:
        if joined:
            runs[-1].append(s)
        else:
            runs.append([s])
        joined = s.concurrent

    fetched: dict[str, set[str]] = {d: set() for d in doms}
    prev: list[str] = []
    for k, run in enumerate(runs):
        now = [s.domain for s in run]
        # A domain the run before destroyed will never say it is done: nobody waits for it.
        if k:
            prev = [p for p in prev if not any(s.op == "destroy" and s.args[0] == f"@{p}" for s in runs[k - 1])]
        if prev and set(now) != set(prev):
            line = run[0].line
            for p in prev:
                out[p].append(f"{line} put {key}-b{k} 1")
            for d in now:
                for p in prev:
                    if p != d:
                        get(d, line, p, f"b{k}")
        for s in run:
            # Variables travel under their own prefix: they cannot clash with barriers.
            for v in sorted(_uses(s)):
                if owner[v] != s.domain and v not in fetched[s.domain]:
                    get(s.domain, s.line, owner[v], f"v-{v}", save=v)
                    fetched[s.domain].add(v)
        if len(run) > 1:
            # Steps that run together start together; a pingpong or rtt takes its
            # base count before the peer can send its first event.
            line = run[0].line
            for s in run:
                if s.op in COUNTS_FROM_MARK:
                    out[s.domain].append(f"{line} mark {s.args[0]}")
                out[s.domain].append(f"{line} put {key}-s{k} 1")
            for s in run:
                for p in now:
                    if p != s.domain:
                        get(s.domain, line, p, f"s{k}")
        for s in run:
            text = f"{s.line} {s.op} {' '.join(s.args)}".rstrip() + f" -> {' '.join(s.expect)}"
            if s.save:
                text += f" => {s.save}"
            out[s.domain].append(text)
            if s.save and s.save in foreign_users:
                out[s.domain].append(f"{s.line} put {key}-v-{s.save} ${s.save}")
        prev = now
    # Nobody leaves before everybody is done: the next case's reset would close
    # ports a peer may still be looking at.
    alive = [d for d in doms if d not in case.destroyed]
    if len(alive) > 1:
        last = case.steps[-1].line
        for d in alive:
            out[d].append(f"{last} put {key}-done 1")
        for d in alive:
            for p in alive:
                if p != d:
                    get(d, last, p, "done")
    for d in doms:
        out[d].append("end")
    return out


def source_comment(case: Case) -> str:
    """The comment line that opens a case in a script: where it comes from, for a reader.

    A file name is not a token: whatever it holds must not become a line of the script;
    and a long one is cut, for the line must fit the guest's MAX_LINE like any other."""
    name = re.sub(r"[^A-Za-z0-9._-]", "?", case.path.name)
    room = lang.MAX_LINE - len(f"# {case.name}: :{case.line}")
    if len(name) > room:
        name = name[: room - 3] + "..."
    return f"# {case.name}: {name}:{case.line}"


def _source_line(case: Case, lines: list[str], k: int) -> int:
    """The case-file line that script line `k` (1-based) of `lines` was compiled from."""
    src = lines[k - 1] if k <= len(lines) else "end"
    first = src.split(" ", 1)[0]
    return int(first) if first.isdecimal() and first.isascii() else case.line


def compile_group(group: Group) -> dict[str, str]:
    """The whole script of each domain of a group."""
    if max(group.index, len(group.cases)) > CHECK_INDEX:
        raise CaseFileError(f"group {group.index} of {len(group.cases)} cases: more than the checks allow for")
    scripts: dict[str, list[str]] = {d: [] for d in group.config.domains}
    origin: dict[str, list[Case]] = {d: [] for d in group.config.domains}  # each script line's case
    for i, case in enumerate(group.cases, start=1):
        for dom, lines in compile_case(case, i, group=group.index).items():
            scripts[dom] += [source_comment(case), *lines]
            origin[dom] += [case] * (len(lines) + 1)
    out = {d: "\n".join(lines) + "\n" for d, lines in scripts.items()}
    for dom, text in out.items():
        if dom not in (DOM0, LINUX) and len(text) > GUEST_SCRIPT_MAX:
            # Each case fits (the checks), but cases that share domains add up.
            count = Counter(id(c) for c in origin[dom])
            big = max(group.cases, key=lambda c: count[id(c)])
            raise CaseFileError(
                f"{shown(big.path)}:{big.line}: group {group.index}: {dom}'s script of {len(group.cases)} cases "
                f"would take {len(text)} bytes, more than a guest holds ({GUEST_SCRIPT_MAX // MiB} MiB); "
                f"its longest case is {big.name}: run with --fresh, or split the case files"
            )
        # The cases passed these checks (CHECK_INDEX); this only guards the promise.
        for k, err in lang.check_script(text.encode()):
            if err:
                case = origin[dom][min(k, len(origin[dom])) - 1]
                where = f"{shown(case.path)}:{_source_line(case, scripts[dom], k)}"
                raise CaseFileError(f"{where}: group {group.index}: the guest would refuse {dom}'s script: {err}")
    return out
