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

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CaseFileError

# Ops a case may use, with their number of arguments (docs/guest-script.md).
OPS: dict[str, int] = {
    "alloc_unbound": 2,
    "bind_interdomain": 2,
    "bind_virq": 2,
    "bind_ipi": 1,
    "bind_pirq": 2,
    "close": 1,
    "send": 1,
    "status": 2,
    "bind_vcpu": 2,
    "unmask": 1,
    "reset": 1,
    "raw": 1,
    "wait": 3,
    "count": 1,
    "pingpong": 4,
    "fault": 1,  # the harness's self-test: make the guest fault on purpose
    "mask": 1,
    "pending": 1,
    "set_timer": 1,
    "count_on": 2,
    "fifo_init": 0,
    "init_control": 3,
    "expand_array": 1,
    "set_priority": 2,
    "hold": 0,
    "release": 0,
    "seq": 1,
}
# What EVTCHNOP_status reports for each kind (xen/event_channel.h), besides the vcpu.
STATUS_FIELDS_OF: dict[str, tuple[str, ...]] = {
    "closed": (),
    "unbound": ("dom",),
    "interdomain": ("dom", "port"),
    "pirq": ("pirq",),
    "virq": ("virq",),
    "ipi": (),
}
STATUS_KINDS = tuple(STATUS_FIELDS_OF)
STATUS_FIELDS = ("dom", "port", "pirq", "virq", "vcpu")
KEYWORDS = ("first", "second", "page", "bad")  # pingpong roles; FIFO frame kinds

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DOMAIN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
VAR = re.compile(r"^[a-z_][a-z0-9_]*$")
INT = re.compile(r"^(?:\d+|0x[0-9a-fA-F]+)$")
ERRNAME = re.compile(r"^(?:E[A-Z0-9]+|ERR-?\d+)$")

# The privileged domain: its steps run through dom0's privcmd driver (dom0/evtchn-op.c),
# which offers the hypercalls only.
DOM0 = "Dom0"
DOM0_OPS = ("alloc_unbound", "bind_interdomain", "status", "close", "send", "unmask", "reset")

SYNC_TIMEOUT_MS = 120000
DEFAULT_VCPUS = 1
DEFAULT_MAX_EVENT_CHANNELS = 1023  # xl.cfg(5)'s default
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
    steps: list[Step] = field(default_factory=list)

    @property
    def budget(self) -> float:
        return float(self.timeout) if self.timeout else CASE_BASE_S + SECONDS_PER_STEP * len(self.steps)

    @property
    def config(self) -> Config:
        return Config(self.domains, self.vcpus, self.max_event_channels, self.irqs)

    @property
    def id(self) -> str:
        return self.name


def _fail(path: Path, line: int, msg: str) -> CaseFileError:
    return CaseFileError(f"{path}:{line}: {msg}")


class _Parser:
    def __init__(self, path: Path, errnos: frozenset[str] | None) -> None:
        self.path = path
        self.errnos = errnos
        self.cases: list[Case] = []

    def error(self, line: int, msg: str) -> CaseFileError:
        return _fail(self.path, line, msg)

    def parse(self, text: str) -> list[Case]:
        case: Case | None = None
        defined: set[str] = set()
        for n, raw in enumerate(text.splitlines(), start=1):
            body, _, comment = raw.partition("#")
            words = body.split()
            if not words:
                continue
            head = words[0]
            if head == "case":
                if case is not None:
                    self.finish(case)
                if len(words) != 2 or not NAME.match(words[1]):
                    raise self.error(n, "expected `case <name>` (lower case, digits and dashes)")
                if any(c.name == words[1] for c in self.cases):
                    raise self.error(n, f"case {words[1]} defined twice")
                case = Case(words[1], self.path, n)
                defined = set()
                continue
            if case is None:
                raise self.error(n, f"`{head}` before the first `case` line")
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
                bad = [d for d in doms if not DOMAIN.match(d)]
                if not doms or bad or len(set(doms)) != len(doms):
                    raise self.error(n, "expected `domains A [B ...]`: distinct names starting upper case")
                case.domains = doms
            elif head == "irqs":
                if len(words) < 2 or not all(w.isdigit() for w in words[1:]):
                    raise self.error(n, "expected `irqs <irq> [<irq> ...]`")
                case.irqs = tuple(int(w) for w in words[1:])
            elif head in ("vcpus", "max_event_channels", "timeout"):
                if len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
                    raise self.error(n, f"expected `{head} <positive number>`")
                setattr(case, head, int(words[1]))
            elif DOMAIN.match(head):
                case.steps.append(self.step(case, n, words, comment.strip(), defined))
            else:
                raise self.error(n, f"unknown keyword or domain `{head}`")
        if case is not None:
            self.finish(case)
        if not self.cases:
            raise _fail(self.path, 1, "no `case` in file")
        return self.cases

    def finish(self, case: Case) -> None:
        if not case.domains:
            raise self.error(case.line, f"case {case.name} has no `domains` line")
        if not case.steps:
            raise self.error(case.line, f"case {case.name} has no steps")
        if case.steps[-1].concurrent:
            raise self.error(case.steps[-1].line, "the last step cannot end in `&`")
        self.cases.append(case)

    def step(self, case: Case, n: int, words: list[str], comment: str, defined: set[str]) -> Step:
        domain = words[0]
        if domain not in case.domains:
            raise self.error(n, f"domain {domain} is not in `domains {' '.join(case.domains)}`")
        if len(words) < 2:
            raise self.error(n, "a step needs an op")
        op = words[1]
        if op not in OPS:
            raise self.error(n, f"unknown op `{op}`; known: {', '.join(sorted(OPS))}")
        if domain == DOM0 and op not in DOM0_OPS:
            raise self.error(n, f"{DOM0} runs hypercalls only ({', '.join(DOM0_OPS)}), not `{op}`")
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
            if i != len(rest) - 2 or not VAR.match(rest[-1]):
                raise self.error(n, "`=> <variable>` must end the step (lower-case variable name)")
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
        if "->" in rest:
            i = rest.index("->")
            expect = rest[i + 1 :]
            rest = rest[:i]
            if not expect:
                raise self.error(n, "`->` needs an expectation")
        args = rest
        if len(args) != OPS[op]:
            raise self.error(n, f"{op} takes {OPS[op]} argument(s), got {len(args)}")
        for a in args:
            self.value(case, n, a, defined, keyword_ok=True)
        self.expectation(case, n, op, expect, defined)
        if spec is not None:
            self.expectation(case, n, op, list(spec), defined)
        if save is not None:
            if save in defined:
                # One name, one value per case: a cross-domain fetch could not tell them apart.
                raise self.error(n, f"variable ${save} is already set earlier in this case")
            defined.add(save)
        return Step(n, domain, op, tuple(args), tuple(expect), spec, save, concurrent, comment)

    def value(self, case: Case, n: int, v: str, defined: set[str], keyword_ok: bool = False) -> None:
        if INT.match(v) or v == "self" or (keyword_ok and v in KEYWORDS):
            return
        if v.startswith("$"):
            if v[1:] not in defined:
                raise self.error(n, f"variable {v} is used before a step sets it with `=> {v[1:]}`")
            return
        if v.startswith("@"):
            if v[1:] not in case.domains:
                raise self.error(n, f"{v}: no domain {v[1:]} in this case")
            return
        raise self.error(n, f"bad value `{v}`: expected a number, $variable, @DOMAIN or self")

    def expectation(self, case: Case, n: int, op: str, expect: list[str], defined: set[str]) -> None:
        head, rest = expect[0], expect[1:]
        if head != "ok":
            if rest or not ERRNAME.match(head):
                raise self.error(n, f"bad expectation `{' '.join(expect)}`: `ok [value]` or an errno name")
            if self.errnos is not None and not re.fullmatch(r"ERR-?\d+", head) and head not in self.errnos:
                raise self.error(n, f"{head} is not an errno in Xen's xen/errno.h")
            return
        if op == "status" and rest:
            if rest[0] not in STATUS_KINDS:
                raise self.error(n, f"status kind `{rest[0]}`: one of {', '.join(STATUS_KINDS)}")
            for kv in rest[1:]:
                key, eq, val = kv.partition("=")
                if not eq or key not in STATUS_FIELDS:
                    raise self.error(n, f"status field `{kv}`: one of {', '.join(STATUS_FIELDS)}=<value>")
                self.value(case, n, val, defined)
            return
        if len(rest) > 1:
            raise self.error(n, f"bad expectation `{' '.join(expect)}`: `ok` takes one value")
        for v in rest:
            self.value(case, n, v, defined)


def read_errno_table(include: Path) -> dict[int, str]:
    """Xen's errno numbers and names, from its public xen/errno.h (XEN_ERRNO(name, value))."""
    text = (include / "xen" / "errno.h").read_text()
    table: dict[int, str] = {}
    for name, value in re.findall(r"XEN_ERRNO\((E\w+),\s*(\d+)\)", text):
        table.setdefault(int(value), name)  # the first name of a number, as the guest prints it
    return table


def read_domid_self(include: Path) -> int:
    """DOMID_SELF from Xen's public xen/xen.h."""
    m = re.search(r"#define\s+DOMID_SELF\s+\w*\(?(0x[0-9a-fA-F]+)", (include / "xen" / "xen.h").read_text())
    if m is None:
        raise ValueError(f"no DOMID_SELF in {include / 'xen' / 'xen.h'}")
    return int(m.group(1), 16)


def read_errnos(include: Path) -> frozenset[str]:
    """Errno names from Xen's public xen/errno.h."""
    text = (include / "xen" / "errno.h").read_text()
    return frozenset(re.findall(r"XEN_ERRNO\((E\w+),", text))


def parse_file(path: Path, errnos: frozenset[str] | None = None) -> list[Case]:
    return _Parser(path, errnos).parse(path.read_text())


def load(paths: Iterable[Path], errnos: frozenset[str] | None = None) -> list[Case]:
    cases: list[Case] = []
    seen: dict[str, Path] = {}
    for path in sorted(paths):
        for case in parse_file(path, errnos):
            if case.name in seen:
                raise _fail(path, case.line, f"case {case.name} also defined in {seen[case.name]}")
            seen[case.name] = path
            cases.append(case)
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


def plan(cases: list[Case], fresh: bool = False, first: int = 1) -> list[Group]:
    """Group cases by domain configuration (or one group per case when `fresh`).

    Within a group the cases keep the order they are given in; groups are numbered
    from `first`, so plans made for one machine do not share domain names.
    """
    groups: dict[object, list[Case]] = {}
    for i, case in enumerate(cases):
        key: object = (i, case.config) if fresh else case.config
        groups.setdefault(key, []).append(case)
    return [Group(n, cs[0].config, tuple(cs)) for n, cs in enumerate(groups.values(), start=first)]


def _uses(step: Step) -> set[str]:
    vals = list(step.args) + [e.partition("=")[2] or e for e in step.expect]
    return {v[1:] for v in vals if v.startswith("$")}


def compile_case(case: Case, index: int, sync_timeout_ms: int = SYNC_TIMEOUT_MS) -> dict[str, list[str]]:
    """The script lines of one case for each of its domains."""
    out: dict[str, list[str]] = {d: [f"case {case.name}"] for d in case.domains}
    key = f"c{index}"
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
            # Steps that run together start together; a pingpong takes its base
            # count before the peer can send its first event.
            line = run[0].line
            for s in run:
                if s.op == "pingpong":
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
    if len(doms) > 1:
        last = case.steps[-1].line
        for d in doms:
            out[d].append(f"{last} put {key}-done 1")
        for d in doms:
            for p in doms:
                if p != d:
                    get(d, last, p, "done")
    for d in doms:
        out[d].append("end")
    return out


def compile_group(group: Group) -> dict[str, str]:
    """The whole script of each domain of a group."""
    scripts: dict[str, list[str]] = {d: [] for d in group.config.domains}
    for i, case in enumerate(group.cases, start=1):
        src = f"# {case.name}: {case.path.name}:{case.line}"
        for dom, lines in compile_case(case, i).items():
            scripts[dom] += [src, *lines]
    return {d: "\n".join(lines) + "\n" for d, lines in scripts.items()}
