"""Parse the guests' console lines into results, and judge them.

Works on the live console and on a saved serial log alike: every guest line
reaches the serial line through dom0's relay as ``[<domain>] EVT ...``
(docs/guest-script.md, "Results on the console"). Each line's tag and fields are
script/evt-lines.h's, which the guests print through (evtlines.py reads it), and
`parse_event()` is the one parse of a line: the domain reports (and through them the
judgement, the reports and the benchmarks), the runner's progress and the exchange
shown by `make run` all read what it gives. The parser is strict about the RESULT format, but one
unreadable line never stops it: Xen's own output can cut into a guest line on the
serial port, so such a line is kept as `Garbled`, a problem of its case, and the
rest of the log is still read.

Then the judgement: each case gets an `Outcome` (outcome.py) from its steps and
its problems, a group of cases sharing domains a `GroupResult`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import lang
from .cases.model import DOM0, Case
from .cases.plan import Group
from .errors import HarnessError
from .evtlines import LINES, TAG, Line
from .outcome import Outcome, worst
from .userfile import MiB, UserFileError, read_bytes

GUEST_LINE = re.compile(r"^\[(?P<domain>[\w.-]+)\] EVT (?P<kind>[A-Z-]+)\s?(?P<rest>.*)$")
# The lines read strictly: every field of the header's, each once, in its order.
RESULT_FIELDS = LINES["RESULT"].keys
RTT_FIELDS = LINES["RTT"].keys  # rtt's round-trip times
FUZZ_FIELDS = LINES["FUZZ"].keys  # a fuzz step's end
RING_FIELDS = LINES["FUZZ_RING"].keys  # where each vcpu keeps its last operations (machine frames, hex)
HEX = re.compile(r"[0-9a-f]{1,13}")  # a machine frame number: 52-bit addresses
VERDICTS = ("PASS", "FAIL")
DECIMAL = re.compile(r"[0-9]+")  # ASCII only: \d would take any Unicode digit
POSITIVE = re.compile(r"[1-9][0-9]*")
# Far longer than any line a guest (512-byte printf buffer) or dom0's script prints:
# a longer guest line is two lines run together, and is not worth a regex's time.
MAX_LINE_CHARS = 4096


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class StepResult:
    """One operation one guest ran, as it reported it."""

    domain: str
    case: str
    line: int  # line of the step in the case file
    op: str
    args: tuple[str, ...]
    expect: str
    got: str
    verdict: str  # PASS or FAIL as the guest said; KNOWN: a FAIL the Xen's baseline lists

    @property
    def passed(self) -> bool:
        return self.verdict in ("PASS", "KNOWN")

    @property
    def known(self) -> bool:
        return self.verdict == "KNOWN"

    @property
    def harness(self) -> bool:
        """A step the compiler added (a barrier's put or get, a mark): its failure is the
        harness's (a peer late or gone), never an answer of Xen's."""
        op = lang.OPS.get(self.op)
        return op is not None and op.who == "HARNESS"

    def describe(self) -> str:
        return f"{self.domain}: {self.op}({', '.join(self.args)}) expected {self.expect}, got {self.got}"


@dataclass(frozen=True)
class Rtt:
    """The round trips one `rtt ... first` step timed, as the guest summed them up."""

    domain: str
    case: str
    line: int  # line of the step in the case file
    n: int  # round trips timed
    early: int  # of those, how many found the reply already counted (nothing timed)
    min_ns: int
    median_ns: int
    p99_ns: int
    max_ns: int


@dataclass(frozen=True)
class FuzzRun:
    """One `fuzz` step, as its EVT FUZZ line sums it up (guest/fuzz/)."""

    domain: str
    seed: int
    vcpus: int  # fuzzing at once
    ops: int  # operations issued, all vcpus together
    mismatches: int  # 0, or 1: a run stops at its first
    ns: int  # how long they took, in the guest
    valid: int  # the domain's valid ports at the end (d->valid_evtchns)
    open: int  # ports the fuzzer held at the end
    fifo_ops: int  # of the operations, those issued while the domain was on FIFO
    switches: int  # ABI switches: 2-level to FIFO (init_control) and back (reset)
    cross: int  # channels made with the other fuzzing domain (fuzz_with)
    raced: int  # sends on another vcpu's shared ports, racing its binds, moves and closes, that Xen took


@dataclass(frozen=True)
class FuzzRings:
    """Where a `fuzz` step's vcpus keep their last operations: a page each (`struct
    fuzz_ring`, guest/fuzz/fuzz.h), read out of the machine when Xen goes down (lastops.py)."""

    seed: int
    mfns: tuple[int, ...]  # by vcpu


@dataclass(frozen=True)
class Crash:
    domain: str
    vector: int
    name: str
    rip: str
    text: str


@dataclass(frozen=True)
class Boot:
    """A domain's first line: its id, its Xen and how its set-up went, as it named them."""

    fields: dict[str, str]


@dataclass(frozen=True)
class CaseBegin:
    case: str


@dataclass(frozen=True)
class CaseEnd:
    """An `EVT CASE-END <case> pass=N fail=N [us=N]` line."""

    case: str
    passed: int
    failed: int
    us: int | None  # older logs have none


@dataclass(frozen=True)
class Done:
    passed: int
    failed: int


@dataclass(frozen=True)
class Note:
    """Words for a reader (EVT NOTE)."""

    text: str


@dataclass(frozen=True)
class BadScript:
    """A script line the guest refused (EVT SCRIPT-ERROR)."""

    text: str


@dataclass(frozen=True)
class FuzzDetail:
    """A fuzz finding's line (MISMATCH, PORT, FIFO, LAST, SHRUNK, STEP), kept as `<tag> <rest>`."""

    text: str


@dataclass(frozen=True)
class FuzzBeat:
    """A long fuzz step still going (guest/fuzz/report.c beat()): progress, nothing to keep."""


Event = (
    StepResult
    | Rtt
    | FuzzRun
    | FuzzRings
    | Crash
    | Boot
    | CaseBegin
    | CaseEnd
    | Done
    | Note
    | BadScript
    | FuzzDetail
    | FuzzBeat
)


@dataclass(frozen=True)
class Garbled:
    """A guest line that could not be read."""

    lineno: int  # 1-based, among the lines given to parse()
    domain: str
    case: str  # the case it names, else the one its domain was running; "" before any
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class DomainReport:
    """Everything one domain printed, parsed."""

    domain: str
    boot: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    cases_begun: list[str] = field(default_factory=list)
    cases_ended: dict[str, tuple[int, int]] = field(default_factory=dict)
    case_us: dict[str, int] = field(default_factory=dict)  # guest-measured time per case
    rtts: list[Rtt] = field(default_factory=list)  # from EVT RTT lines
    fuzz: list[FuzzRun] = field(default_factory=list)  # from EVT FUZZ lines
    fuzz_details: list[str] = field(default_factory=list)  # EVT FUZZ-MISMATCH, -LAST, -PORT, -SHRUNK, -STEP
    fuzz_rings: FuzzRings | None = None  # the last fuzz step's, from its EVT FUZZ-RING line
    script_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # EVT NOTE: what the guest wants a reader to know
    garbled: list[Garbled] = field(default_factory=list)
    crash: Crash | None = None
    done: tuple[int, int] | None = None  # (pass, fail) from EVT DONE

    @property
    def current_case(self) -> str:
        return self.cases_begun[-1] if self.cases_begun else ""


def parse_line(text: str) -> tuple[str, str, str] | None:
    """(domain, kind, rest) for a guest line, None for any other line."""
    m = GUEST_LINE.match(text.strip())
    return (m["domain"], m["kind"], m["rest"]) if m else None


def _quote(text: str, limit: int = 160) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _keyvals(rest: str) -> dict[str, str]:
    """The key=value words of a line (others are names and flags); a repeated key is an error."""
    out: dict[str, str] = {}
    for word in rest.split():
        key, eq, value = word.partition("=")
        if not eq:
            continue
        if key in out:
            # Two lines run together, most likely: neither value can be trusted.
            raise ParseError(f"repeated field {key}: {_quote(rest)}")
        out[key] = value
    return out


def _named(line: Line, rest: str) -> dict[str, str]:
    """The fields of a line read leniently (older logs lack fields that newer guests print): its
    key=value words, each once, and each WORD field that stands at its place."""
    out = _keyvals(rest)
    words = rest.split()
    for i, f in enumerate(line.fields):
        if f.kind == "WORD" and i < len(words) and "=" not in words[i]:
            out[f.name] = words[i]
    return out


def _counts(line: Line, rest: str) -> tuple[int, int]:
    kv = _named(line, rest)
    try:
        return int(kv["pass"]), int(kv["fail"])
    except (KeyError, ValueError):
        raise ParseError(f"bad pass/fail counts: {_quote(rest)}") from None


def parse_case_end(rest: str) -> CaseEnd:
    passed, failed = _counts(LINES["CASE_END"], rest)
    kv = _named(LINES["CASE_END"], rest)
    us = kv.get("us", "")
    return CaseEnd(kv.get("case", ""), passed, failed, int(us) if DECIMAL.fullmatch(us) else None)


def _result_fields(rest: str, names: tuple[str, ...] = RESULT_FIELDS) -> dict[str, str]:
    """The fields of a RESULT (or RTT) line, each once and in order, or why they are not there."""
    words = rest.split()
    if not words:
        return {}
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise ParseError(f"not a key=value field: {_quote(word, 40)}")
        pairs.append((key, value))
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise ParseError(f"repeated field {k}")
        if k not in names:
            raise ParseError(f"unknown field {k}")
    missing = [k for k in names if k not in keys]
    if missing:
        raise ParseError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if tuple(keys) != names:
        raise ParseError(f"fields out of order: {' '.join(keys)}")
    return dict(pairs)


def parse_result(domain: str, rest: str) -> StepResult:
    try:
        kv = _result_fields(rest)
        if not kv:
            raise ParseError("no fields")
        empty = [k for k in RESULT_FIELDS if k != "args" and not kv[k]]
        if empty:
            raise ParseError(f"empty field {empty[0]}")
        if kv["verdict"] not in VERDICTS:
            raise ParseError(f"verdict must be PASS or FAIL, not {_quote(kv['verdict'], 20)}")
        if not POSITIVE.fullmatch(kv["line"]):
            raise ParseError(f"line must be a positive decimal, not {_quote(kv['line'], 20)}")
    except ParseError as e:
        raise ParseError(f"malformed RESULT line from {domain}: {e}: {_quote(rest)}") from None
    return StepResult(
        domain=domain,
        case=kv["case"],
        line=int(kv["line"]),
        op=kv["op"],
        args=tuple(a for a in kv["args"].split(",") if a),
        expect=kv["expect"],
        got=kv["got"],
        verdict=kv["verdict"],
    )


def parse_rtt(domain: str, rest: str) -> Rtt:
    try:
        kv = _result_fields(rest, RTT_FIELDS)
        if not kv:
            raise ParseError("no fields")
        if not kv["case"]:
            raise ParseError("empty field case")
        for k in ("line", "n"):
            if not POSITIVE.fullmatch(kv[k]):
                raise ParseError(f"{k} must be a positive decimal, not {_quote(kv[k], 20)}")
        times = RTT_FIELDS[4:]
        if not DECIMAL.fullmatch(kv["early"]):
            raise ParseError(f"early must be a decimal, not {_quote(kv['early'], 20)}")
        bad = next((k for k in times if not DECIMAL.fullmatch(kv[k])), None)
        if bad is not None:
            raise ParseError(f"{bad} must be a decimal, not {_quote(kv[bad], 20)}")
        if [int(kv[k]) for k in times] != sorted(int(kv[k]) for k in times):
            # Sorted samples cannot give these: a line spliced from two.
            raise ParseError("times out of order (min <= median <= p99 <= max)")
    except ParseError as e:
        raise ParseError(f"malformed RTT line from {domain}: {e}: {_quote(rest)}") from None
    return Rtt(domain, kv["case"], **{k: int(kv[k]) for k in RTT_FIELDS[1:]})


def parse_fuzz(domain: str, rest: str) -> FuzzRun:
    try:
        kv = _result_fields(rest, FUZZ_FIELDS)
        if not kv:
            raise ParseError("no fields")
        bad = next((k for k in FUZZ_FIELDS if not DECIMAL.fullmatch(kv[k])), None)
        if bad is not None:
            raise ParseError(f"{bad} must be a decimal, not {_quote(kv[bad], 20)}")
    except ParseError as e:
        raise ParseError(f"malformed FUZZ line from {domain}: {e}: {_quote(rest)}") from None
    return FuzzRun(domain, **{k: int(kv[k]) for k in FUZZ_FIELDS})


def parse_fuzz_rings(domain: str, rest: str) -> FuzzRings:
    try:
        kv = _result_fields(rest, RING_FIELDS)
        if not kv:
            raise ParseError("no fields")
        mfns = kv["mfns"].split(",")
        bad = next((k for k, pat in (("seed", DECIMAL), ("vcpus", POSITIVE)) if not pat.fullmatch(kv[k])), None)
        if bad is not None:
            raise ParseError(f"{bad} must be a {'positive ' * (bad == 'vcpus')}decimal, not {_quote(kv[bad], 20)}")
        if len(mfns) != int(kv["vcpus"]) or not all(HEX.fullmatch(m) for m in mfns):
            raise ParseError(f"mfns must be {kv['vcpus']} frame number(s) in hex, not {_quote(kv['mfns'], 40)}")
    except ParseError as e:
        raise ParseError(f"malformed FUZZ-RING line from {domain}: {e}: {_quote(rest)}") from None
    return FuzzRings(int(kv["seed"]), tuple(int(m, 16) for m in mfns))


def _crash(domain: str, rest: str) -> Crash:
    kv = _named(LINES["CRASH"], rest)
    vec = kv.get("vec", "")
    return Crash(domain, int(vec) if DECIMAL.fullmatch(vec) else -1, kv.get("name", "?"), kv.get("rip", "?"), rest)


def _case_begin(domain: str, rest: str) -> CaseBegin:
    # Its detail is the place's words; read for _keyvals()'s check of repeated fields only.
    return CaseBegin(_named(LINES["CASE_BEGIN"], rest).get("case", ""))


def _fuzz_detail(tag: str) -> Callable[[str, str], FuzzDetail]:
    return lambda domain, rest: FuzzDetail(f"{tag} {rest}")


# The reader of each tag the header defines (a unit test holds the two to each other).
READERS: dict[str, Callable[[str, str], Event]] = {
    TAG["BOOT"]: lambda domain, rest: Boot(_keyvals(rest)),
    TAG["CASE_BEGIN"]: _case_begin,
    TAG["RESULT"]: parse_result,
    TAG["RTT"]: parse_rtt,
    TAG["CASE_END"]: lambda domain, rest: parse_case_end(rest),
    TAG["DONE"]: lambda domain, rest: Done(*_counts(LINES["DONE"], rest)),
    TAG["SCRIPT_ERROR"]: lambda domain, rest: BadScript(rest),
    TAG["NOTE"]: lambda domain, rest: Note(rest),
    TAG["CRASH"]: _crash,
    TAG["FUZZ_RING"]: parse_fuzz_rings,
    TAG["FUZZ"]: parse_fuzz,
    TAG["FUZZ_PROGRESS"]: lambda domain, rest: FuzzBeat(),
    **{
        TAG[i]: _fuzz_detail(TAG[i])
        for i in ("FUZZ_MISMATCH", "FUZZ_PORT", "FUZZ_FIFO_PORT", "FUZZ_LAST", "FUZZ_SHRUNK", "FUZZ_STEP")
    },
}


def parse_event(domain: str, kind: str, rest: str) -> Event:
    """What one guest line says (`kind` its tag, `rest` what follows it), or ParseError: the one
    parse of each line, which the domain reports, the runner's progress and the reports read."""
    reader = READERS.get(kind)
    if reader is None:
        raise ParseError(f"unknown line kind EVT {kind}")
    return reader(domain, rest)


def _parse_into(rep: DomainReport, kind: str, rest: str) -> None:
    if rep.done is not None and kind != TAG["DONE"]:
        # Nothing follows DONE but the shutdown: a late line is another run's, or spliced.
        raise ParseError(f"EVT {kind} after EVT DONE: {_quote(rest)}")
    match parse_event(rep.domain, kind, rest):
        case StepResult() as step:
            rep.steps.append(step)
        case Rtt() as rtt:
            rep.rtts.append(rtt)
        case FuzzRun() as run:
            rep.fuzz.append(run)
        case FuzzRings() as rings:
            rep.fuzz_rings = rings
        case FuzzDetail(text):
            rep.fuzz_details.append(text)
        case Boot(boot):
            rep.boot = boot
        case CaseBegin(case):
            rep.cases_begun.append(case)
        case CaseEnd() as end:
            rep.cases_ended[end.case] = (end.passed, end.failed)
            if end.us is not None:
                rep.case_us[end.case] = end.us
        case Done(passed, failed):
            if rep.done is not None:
                raise ParseError(f"a second EVT DONE: {_quote(rest)}")
            rep.done = (passed, failed)
        case Note(text):
            rep.notes.append(text)
        case BadScript(text):
            rep.script_errors.append(text)
        case Crash() as crash:
            rep.crash = crash
        case FuzzBeat():
            pass


def _case_named(rest: str) -> str:
    m = re.search(r"(?:^|\s)case=(\S+)", rest[:MAX_LINE_CHARS])
    return m.group(1) if m else ""


def parse(lines: Iterable[str]) -> dict[str, DomainReport]:
    """Reports per domain name from console lines (others are ignored)."""
    reports: dict[str, DomainReport] = {}
    for lineno, text in enumerate(lines, start=1):
        head = text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS]
        parsed = parse_line(head)
        if parsed is None:
            continue
        domain, kind, rest = parsed
        rep = reports.setdefault(domain, DomainReport(domain))
        try:
            if len(text) > MAX_LINE_CHARS:
                raise ParseError(f"a line of {len(text)} characters, longer than any a guest prints: {_quote(rest)}")
            _parse_into(rep, kind, rest)
        except ParseError as e:
            # A line cut by other output on the serial line: a problem of its case, not of the run.
            rep.garbled.append(Garbled(lineno, domain, _case_named(rest) or rep.current_case, str(e)))
    return reports


# -- judging ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something other than a step's own verdict that decides a case's outcome."""

    outcome: Outcome
    text: str
    lineno: int = 0  # where in the log, when it is about one line

    def __str__(self) -> str:
        return self.text


def domain_problems(rep: DomainReport, destroyed: bool = False) -> list[Problem]:
    """What is wrong with one domain's output as a whole, apart from failed steps; a domain a
    case `destroyed` on purpose (Dom0's `destroy`) prints no DONE."""
    out = [Problem(Outcome.ERROR, f"{rep.domain}: {g.message}", g.lineno) for g in rep.garbled]
    out += [Problem(Outcome.ERROR, f"{rep.domain}: script error: {e}") for e in rep.script_errors]
    if rep.crash is not None:
        out.append(Problem(Outcome.CRASH, f"{rep.domain}: guest crashed: {rep.crash.text}"))
    elif rep.done is None:
        if not destroyed:
            out.append(Problem(Outcome.ERROR, f"{rep.domain}: no EVT DONE (the guest stopped, or the log is cut)"))
    elif rep.done != (sum(s.passed for s in rep.steps), sum(not s.passed for s in rep.steps)):
        out.append(
            Problem(
                Outcome.ERROR,
                f"{rep.domain}: EVT DONE counts {rep.done[0]} passed, {rep.done[1]} failed, "
                f"but {len(rep.steps)} RESULT lines were read",
            )
        )
    return out


def harness_failures(steps: Iterable[StepResult]) -> list[Problem]:
    """The failed steps the compiler added (barriers, marks): each an ERROR, named."""
    return [
        Problem(
            Outcome.ERROR,
            f"{s.domain}: line {s.line}: the harness's {s.op}({', '.join(s.args)}) gave {s.got}: "
            "a peer did not get there in time (the harness's, not an answer of Xen's)",
        )
        for s in steps
        if s.harness and not s.passed
    ]


def log_outcome(reports: dict[str, DomainReport]) -> tuple[Outcome, list[Problem]]:
    """A saved log judged without its case files: the worst of every domain's steps and problems.
    A domain whose id a passing `destroy` step named, after its BOOT line said it, was ended
    on purpose: its missing DONE is no problem."""
    destroyed = {s.args[0] for rep in reports.values() for s in rep.steps if s.op == "destroy" and s.passed and s.args}
    problems = [p for rep in reports.values() for p in domain_problems(rep, rep.boot.get("domid") in destroyed)]
    if not any(rep.steps for rep in reports.values()):
        problems.append(Problem(Outcome.ERROR, "no guest RESULT lines: nothing ran, or this is not a serial log"))
    steps = [s for rep in reports.values() for s in rep.steps]
    problems += harness_failures(steps)
    failed = any(not s.passed for s in steps if not s.harness)
    return worst([*(p.outcome for p in problems), Outcome.FAIL if failed else Outcome.PASS]), problems


class LogError(Exception):
    """A saved serial log that cannot be read at all."""


# The first bytes git looks at to tell binary from text; a serial log starts with Xen's banner.
BINARY_PROBE = 8000
# A whole suite's serial log is a few MiB; a fuzz campaign's a few tens.
MAX_LOG = 64 * MiB


def read_log(path: Path) -> list[str]:
    """The lines of a saved serial log (QEMU's \\r\\r\\n ends and stray bytes are fine), numbered as
    `LOG:line` names them."""
    try:
        data = read_bytes(path, MAX_LOG)
    except UserFileError as e:
        raise LogError(f"{path}: {e}") from None
    if b"\0" in data[:BINARY_PROBE]:
        raise LogError(f"{path}: a binary file (NUL bytes), not a serial log")
    # Lines end at "\n" only, as the live console splits them (console.py) and as grep -n and
    # editors count: str.splitlines() also breaks at each \r of QEMU's \r\r\n and at \x0c,
    # \x1c, \x85 and the like, and every LOG:line after one would be wrong.
    lines = [raw.decode("utf-8", "replace").rstrip("\r") for raw in data.split(b"\n")]
    if lines[-1] == "":
        lines.pop()  # what follows the last "\n" is no line
    return lines


@dataclass
class CaseResult:
    case: Case
    group: int
    steps: list[StepResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # missing results, domain errors

    @property
    def outcome(self) -> Outcome:
        """The worst of its problems and its steps; a case without a single result is an error."""
        failed = any(not s.passed for s in self.steps if not s.harness)
        found = [p.outcome for p in self.problems] + [Outcome.FAIL if failed else Outcome.PASS]
        found += [Outcome.ERROR for s in self.steps if s.harness and not s.passed]
        if not self.steps:
            found.append(Outcome.ERROR)
        return worst(found)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


@dataclass
class GroupResult:
    """Cases that shared domains, and what became of the domains."""

    group: Group
    reports: dict[str, DomainReport] = field(default_factory=dict)  # by role
    reasons: dict[str, int | None] = field(default_factory=dict)
    error: HarnessError | None = None
    create_to_first_line: dict[str, float] = field(default_factory=dict)  # by role
    run_seconds: float = 0.0
    setup_seconds: float = 0.0  # the group's start to its domains unpaused (creation, if not made ahead)

    def roles(self) -> dict[int, str]:
        """The domain ids of this group's domains, each to its role (from their BOOT lines)."""
        out = {0: DOM0} if DOM0 in self.group.config.domains else {}
        for role, rep in self.reports.items():
            domid = rep.boot.get("domid", "")
            if domid.isascii() and domid.isdigit():
                out[int(domid)] = role
        return out

    def case_results(self) -> list[CaseResult]:
        out = []
        for case in self.group.cases:
            res = CaseResult(case, self.group.index)
            complete = True
            for role in case.domains:
                rep = self.reports.get(role)
                gone = role in case.destroyed  # the case ended it: it ends no case
                if rep is None or (case.name not in rep.cases_ended and not gone):
                    complete = False
                if rep is None:
                    continue
                res.steps += [s for s in rep.steps if s.case == case.name]
                res.problems += harness_failures(s for s in rep.steps if s.case == case.name)
                if case.name in rep.cases_begun and case.name not in rep.cases_ended and not gone:
                    res.problems.append(Problem(Outcome.ERROR, f"{role} began the case but never ended it"))
                if rep.crash is not None and rep.current_case == case.name:
                    res.problems.append(Problem(Outcome.CRASH, f"{role}: guest crashed: {rep.crash.text}"))
                # A script error has no case to blame: every case of the domain shares it.
                res.problems += [Problem(Outcome.ERROR, f"{role}: script error: {e}") for e in rep.script_errors]
                res.problems += [
                    Problem(Outcome.ERROR, f"{role}: {g.message}", g.lineno)
                    for g in rep.garbled
                    if g.case in (case.name, "")
                ]
            cut = {(r, line) for r in case.destroyed for line in case.cut(r)}
            for step in case.steps:
                if (step.domain, step.line) in cut:
                    # Ran into its domain's destruction, by design: no result to read. Said, not judged.
                    res.problems.append(
                        Problem(
                            Outcome.PASS,
                            f"line {step.line} ({step.domain} {step.op}) was cut short: "
                            f"the case destroyed {step.domain}",
                        )
                    )
                    continue
                if not any(s.line == step.line and s.op == step.op for s in res.steps):
                    complete = False
                    res.problems.append(
                        Problem(Outcome.ERROR, f"no result for line {step.line} ({step.domain} {step.op})")
                    )
            out.append((res, complete))
        if self.error is not None:
            # The error belongs to the cases it kept from finishing; with none of those
            # (a wrong shutdown reason after the last case), to all of them.
            hit = [res for res, complete in out if not complete] or [res for res, _ in out]
            for res in hit:
                res.problems.append(Problem(self.error.outcome, str(self.error)))
        return [res for res, _ in out]
