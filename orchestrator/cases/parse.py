"""The case-file parser: every line checked before any boot, each problem noted with its
`file:line` and the parse going on, so one run of `check` lists them all."""

from __future__ import annotations

import codecs
import contextlib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .. import lang
from ..errors import CaseFileError
from ..userfile import MiB, UserFileError, read_bytes
from .compile import CHECK_INDEX, MAX_SYNC_TIMEOUT_MS, compile_case, script_size_error, source_comment, source_line
from .model import DOM0, DOMID_SELF, KERNEL_DOMAINS, LINUX, Case, Step, shown

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # the forms of lang.py, with friendlier messages here
DOMAIN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
VAR = re.compile(r"^[a-z_][a-z0-9_]*$")
# `4.18:` in an expectation: what Xen answers from that version on.
VERSION_MARK = re.compile(r"([0-9]{1,3})\.([0-9]{1,3}):", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+", re.ASCII)  # ASCII: int() would take any Unicode digit
# The ops by which a domain makes a port in its own table: the only ports those may close.
OWN_PORT_OPS = ("alloc_unbound", "bind_interdomain")
# What each config line takes, and why: a value past it would reach xl changed (a uint32
# cut short), be refused by xl create after the boot, or run on fewer vcpus than asked.
BOUNDS = {
    "vcpus": (1, lang.GUEST_MAX_VCPUS, "the guest runs on at most GUEST_MAX_VCPUS (guest/guest.h)"),
    "max_event_channels": (1, (1 << 32) - 1, "xl's max_event_channels is a uint32"),
    # Physical IRQs (GSIs) of the machine: QEMU's have a few dozen, Xen's nr_irqs some hundreds.
    "irqs": (0, 1023, "an IRQ of the machine"),
    "timeout": (1, lang.INT64_MAX, "seconds"),
}


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
        """A domain the case destroys: named as @ROLE, with no step after the destroy but
        those `&`-joined to it (the case runs last in its group: plan())."""
        for i, s in enumerate(case.steps):
            if s.op != "destroy":
                continue
            role = s.args[0][1:] if s.args[0].startswith("@") else ""
            if role not in case.domains or role == DOM0:
                raise self.error(s.line, "`destroy` takes @NAME of a domain the case creates (not Dom0)")
            later = [t for t in case.steps[i + 1 :] if t.domain == role]
            if later:
                raise self.error(later[0].line, f"{role} has been destroyed (line {s.line}): it runs no more steps")

    def compiled(self, case: Case) -> None:
        """What the guests will read must pass the guest's own parser (lang.check_script):
        every line compile_group() writes for the case, its comment line too."""
        scripts = {
            dom: [source_comment(case), *lines]
            for dom, lines in compile_case(case, CHECK_INDEX, MAX_SYNC_TIMEOUT_MS, group=CHECK_INDEX).items()
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
                self.note(self.error(source_line(case, lines, k), f"the guest would refuse {dom}'s script: {err}"))
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
