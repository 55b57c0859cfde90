"""The guest-script language, read from its one definition: script/script-lang.h.

The guests' and dom0's parser (script/script_parse.c) is built from the same header. This
module mirrors that parser rule for rule (`check_script`), so the orchestrator
refuses before any boot every script the guest would refuse after it;
tests/unit/test_parity.py runs both over the same lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "script" / "script-lang.h"


@dataclass(frozen=True)
class Op:
    name: str
    args: str  # one kind letter per argument (script-lang.h)
    value: str  # NONE, NUM or STATUS
    who: str  # GUEST, DOM0 (guests and Dom0), PRIV (Dom0 only) or HARNESS (the compiler's own)


_Tables = tuple[dict[str, int], dict[str, Op], tuple[str, ...], dict[str, tuple[str, ...]], dict[str, str]]


def _read(text: str) -> _Tables:
    limits = {n: int(v) for n, v in re.findall(r"^SCRIPT_LIMIT\((\w+), (\d+)\)$", text, re.M)}
    ops = {n: Op(n, a, v, w) for n, a, v, w in re.findall(r'^SCRIPT_OP\((\w+), "(\w*)", (\w+), (\w+)\)$', text, re.M)}
    fields = tuple(re.findall(r"^SCRIPT_STATUS_FIELD\((\w+)\)$", text, re.M))
    kinds = {
        n: tuple(f for f in fields if f in re.findall(r"SF\((\w+)\)", fl))
        for n, fl in re.findall(r"^SCRIPT_STATUS_KIND\((\w+), \w+, (.+)\)$", text, re.M)
    }
    keywords = dict(re.findall(r"^SCRIPT_KEYWORD\((\w+), '(\w)'\)$", text, re.M))
    if not (limits and ops and fields and kinds and keywords):
        raise ValueError(f"{HEADER}: no SCRIPT_* lines in the expected form")
    return limits, ops, fields, kinds, keywords


LIMITS, OPS, STATUS_FIELDS, STATUS_KINDS, KEYWORDS = _read(HEADER.read_text())


def _guest_max_vcpus() -> int:
    path = ROOT / "guest" / "guest.h"
    m = re.search(r"^#define GUEST_MAX_VCPUS (\d+)$", path.read_text(), re.M)
    if m is None:
        raise ValueError(f"{path}: no `#define GUEST_MAX_VCPUS <n>` line")
    return int(m.group(1))


# The vcpus a guest brings up and counts upcalls on: a domain given more runs on these.
GUEST_MAX_VCPUS = _guest_max_vcpus()
MAX_LINE = LIMITS["MAX_LINE"]
MAX_TOKS = LIMITS["MAX_TOKS"]
MAX_VARS = LIMITS["MAX_VARS"]
NAME_LEN = LIMITS["NAME_LEN"]
KEY_LEN = LIMITS["KEY_LEN"]
RTT_MAX = LIMITS["RTT_MAX"]  # round trips one rtt step may time
# Ops a case file may give to a domain, and to Dom0 (dom0/evtchn-op).
CASE_OPS = {n: op for n, op in OPS.items() if op.who != "HARNESS"}
DOM0_OPS = tuple(n for n, op in OPS.items() if op.who in ("DOM0", "PRIV"))
PRIV_OPS = tuple(n for n, op in OPS.items() if op.who == "PRIV")

INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class Field:
    """Where a number argument lands: the struct field or parameter the interpreter
    (guest/script.c, dom0/ops.c) fills with it, and its width. The script language
    reads 64-bit numbers; a literal past its field's width would reach Xen cut short."""

    name: str
    ctype: str
    bits: int
    signed: bool = False

    @property
    def max(self) -> int:
        return (1 << (self.bits - self.signed)) - 1

    def reaches(self, v: int) -> int:
        """What C's conversion of int64 `v` to this field leaves of it."""
        low = v & ((1 << self.bits) - 1)
        return low - (1 << self.bits) if self.signed and low > self.max else low


_DOMID = Field("domid", "domid_t", 16)
_PORT = Field("port", "evtchn_port_t", 32)
_VCPU = Field("vcpu", "uint32_t", 32)
_COUNT = Field("count", "uint32_t", 32)

# Each op's number arguments, in order (None: a word, or a number taken whole as int64).
# Every op of script-lang.h has its row: a new one must say where its numbers go.
FIELDS: dict[str, tuple[Field | None, ...]] = {
    "alloc_unbound": (_DOMID, Field("remote_dom", "domid_t", 16)),
    "bind_interdomain": (Field("remote_dom", "domid_t", 16), Field("remote_port", "evtchn_port_t", 32)),
    "bind_virq": (Field("virq", "uint32_t", 32), _VCPU),
    "bind_ipi": (_VCPU,),
    "bind_pirq": (Field("pirq", "uint32_t", 32), Field("flags", "uint32_t", 32)),
    "close": (_PORT,),
    "send": (_PORT,),
    "status": (_DOMID, _PORT),
    "bind_vcpu": (_PORT, _VCPU),
    "unmask": (_PORT,),
    "reset": (_DOMID,),
    "raw": (Field("cmd", "int", 32, signed=True),),
    "bad_arg": (Field("cmd", "int", 32, signed=True),),
    "readonly_args": (Field("on", "unsigned int", 32),),
    "init_control": (None, Field("offset", "uint32_t", 32), _VCPU),
    "expand_array": (None,),
    "set_priority": (_PORT, Field("priority", "uint32_t", 32)),
    "wait": (_PORT, _COUNT, None),
    "count": (_PORT,),
    "pingpong": (_PORT, None, None, None),
    "rtt": (_PORT, None, None, None),
    "fault": (None,),
    "mask": (_PORT,),
    "pending": (_PORT,),
    "set_timer": (None,),
    "count_on": (_PORT, _VCPU),
    "send_many": (_PORT, None),
    "bind_many": (_COUNT,),
    "fifo_init": (),
    "hold": (),
    "release": (),
    "seq": (_PORT,),
    "fuzz": (None, None),
    "fuzz_with": (None, None, Field("peer", "domid_t", 16)),
    "register_vcpu_info": (_VCPU, Field("offset", "uint32_t", 32)),
    "shutdown": (Field("reason", "unsigned int", 32),),
    "destroy": (_DOMID,),
    "debug_key": (None,),  # the op refuses what is no printable key itself (EINVAL)
    "chaos": (None, None, Field("peer", "domid_t", 16)),
    "virq_handler": (Field("virq", "uint32_t", 32), _DOMID),
    "mark": (_PORT,),
    "put": (None, None),
    "get": (None, None, None),
}
_VAR = re.compile(r"[a-z_][a-z0-9_]*")
_DOMAIN = re.compile(r"[A-Z][A-Za-z0-9]*")
_CASE = re.compile(r"[a-z0-9][a-z0-9-]*")
_KEY = re.compile(r"[A-Za-z0-9_.-]+")
_DEC = re.compile(r"[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
ERRNO_FORM = re.compile(r"E[A-Z0-9]+")


def field_error(op: str, i: int, a: str) -> str | None:
    """What is wrong with literal argument `a` as argument `i` (0-based) of `op`: one that
    its field cannot hold. $var, @NAME and self are Xen's own numbers: they fit."""
    field = FIELDS[op][i]
    v = parse_num(a)
    if field is None or v is None or v <= field.max:
        return None
    return (
        f"{op}: {field.name} {a} does not fit its {field.ctype} (at most {field.max}): "
        f"it would reach Xen as {field.reaches(v)}"
    )


def _word(pattern: re.Pattern[str], s: str, limit: int) -> bool:
    return len(s) < limit and pattern.fullmatch(s) is not None


def is_var(s: str) -> bool:
    return _word(_VAR, s, NAME_LEN)


def is_domain(s: str) -> bool:
    return _word(_DOMAIN, s, NAME_LEN)


def is_case_name(s: str) -> bool:
    return _word(_CASE, s, NAME_LEN)


def is_key(s: str) -> bool:
    return _word(_KEY, s, KEY_LEN)


def parse_num(s: str, hex_ok: bool = True) -> int | None:
    """A number literal as the guest reads it: ASCII decimal or 0x hex, 0..INT64_MAX."""
    if hex_ok and _HEX.fullmatch(s):
        v = int(s, 16)
    elif _DEC.fullmatch(s):
        if len(s.lstrip("0")) > len(str(INT64_MAX)):
            return None  # out of range, and int() refuses over 4300 digits with a ValueError
        v = int(s)
    else:
        return None
    return v if v <= INT64_MAX else None


def is_num_token(s: str) -> bool:
    """A literal, $var, @NAME or self."""
    if s.startswith("$"):
        return is_var(s[1:])
    if s.startswith("@"):
        return is_domain(s[1:])
    return s == "self" or parse_num(s) is not None


def is_keyword(s: str, kind: str) -> bool:
    return KEYWORDS.get(s) == kind


def check_arg(kind: str, a: str) -> str | None:
    """What is wrong with an argument of that kind letter, or None."""
    if kind == "n":
        return None if is_num_token(a) else "bad number argument"
    if kind == "w":
        return None if is_keyword(a, "w") else "expected 'first' or 'second'"
    if kind == "k":
        return None if is_key(a) else "bad key"
    if kind == "v":
        return None if is_num_token(a) or is_key(a) else "bad value"
    if kind == "D":
        return None if is_domain(a[1:] if a.startswith("@") else a) else "bad domain name"
    if kind == "g":
        return None if is_keyword(a, "g") or is_num_token(a) else "expected 'page', 'bad', 'pagetable' or a number"
    return "bad argument kind"


def check_err(tok: str, errnos: frozenset[str] | None) -> str | None:
    """An error expectation: ERR<n>/ERR-<n> (decimal, not 0) or an errno name."""
    if tok.startswith("ERR"):
        num = tok[3:]
        v = parse_num(num[1:] if num.startswith("-") else num, hex_ok=False)
        return None if v else "bad ERR<n> expectation"
    known = tok in errnos if errnos is not None else ERRNO_FORM.fullmatch(tok) is not None
    return None if known else "unknown expectation (not ok, an errno name or ERR<n>)"


@dataclass
class Stmt:
    kind: str  # empty, case, end, step
    name: str = ""  # case name
    var: str | None = None  # => var


class ScriptError(Exception):
    def __init__(self, msg: str, tok: str | None = None) -> None:
        super().__init__(f"{msg}: '{tok}'" if tok is not None else msg)


def _expect(op: Op, tok: list[str], errnos: frozenset[str] | None) -> None:
    if not tok:
        raise ScriptError("'->' without an expectation")
    if tok[0] != "ok":
        if len(tok) != 1:
            raise ScriptError("an error expectation takes no value", tok[0])
        err = check_err(tok[0], errnos)
        if err:
            raise ScriptError(err, tok[0])
        return
    if len(tok) == 1:
        return
    if op.value == "NONE":
        raise ScriptError("this op has no value to expect")
    if op.value == "NUM":
        if len(tok) != 2:
            raise ScriptError("'ok' takes one value")
        if not is_num_token(tok[1]):
            raise ScriptError("bad expected value", tok[1])
        return
    if tok[1] not in STATUS_KINDS:
        raise ScriptError("unknown status kind", tok[1])
    seen: set[str] = set()
    for t in tok[2:]:
        field, eq, val = t.partition("=")
        if not eq:
            raise ScriptError("status field must be <field>=<value>", t)
        if field not in STATUS_FIELDS:
            raise ScriptError("unknown status field", t)
        if field not in STATUS_KINDS[tok[1]]:
            raise ScriptError("status field not reported for this kind", t)
        if field in seen:
            raise ScriptError("status field given twice", t)
        if not is_num_token(val):
            raise ScriptError("bad status field value", t)
        seen.add(field)


def parse_line(line: str, errnos: frozenset[str] | None = None) -> Stmt:
    """One script line (ASCII, at most MAX_LINE): its statement, or ScriptError as the guest words it."""
    tok = [t for t in re.split(r"[ \t\r]+", line.split("#", 1)[0]) if t]
    if len(tok) > MAX_TOKS:
        raise ScriptError("too many tokens")
    if not tok:
        return Stmt("empty")
    if tok[0] == "case":
        if len(tok) != 2:
            raise ScriptError("'case' takes exactly one name")
        if not is_case_name(tok[1]):
            raise ScriptError("bad case name", tok[1])
        return Stmt("case", name=tok[1])
    if tok[0] == "end":
        if len(tok) != 1:
            raise ScriptError("'end' takes no arguments")
        return Stmt("end")
    n = parse_num(tok[0], hex_ok=False)
    if not n:
        raise ScriptError("expected a line number, 'case' or 'end'", tok[0])
    if len(tok) < 2:
        raise ScriptError("missing op", tok[0])
    op = OPS.get(tok[1])
    if op is None:
        raise ScriptError("unknown op", tok[1])
    arrow = fat = 0
    for i in range(2, len(tok)):
        if tok[i] == "->":
            if arrow or fat:
                raise ScriptError("misplaced '->'", tok[1])
            arrow = i
        elif tok[i] == "=>":
            if fat:
                raise ScriptError("more than one '=>'", tok[1])
            fat = i
    end_args = arrow or fat or len(tok)
    if end_args - 2 != len(op.args):
        raise ScriptError("wrong number of arguments", tok[1])
    for kind, a in zip(op.args, tok[2:end_args], strict=True):
        err = check_arg(kind, a)
        if err:
            raise ScriptError(err, a)
    n_rtt = parse_num(tok[3]) if op.name == "rtt" else None
    if n_rtt is not None and n_rtt > RTT_MAX:
        raise ScriptError("more round trips than RTT_MAX", tok[3])
    if arrow:
        _expect(op, tok[arrow + 1 : fat or len(tok)], errnos)
    var = None
    if fat:
        if fat + 2 != len(tok):
            raise ScriptError("'=>' takes exactly one variable name")
        if op.value != "NUM":
            raise ScriptError("this op has no value to store")
        if not is_var(tok[fat + 1]):
            raise ScriptError("bad variable name", tok[fat + 1])
        var = tok[fat + 1]
    return Stmt("step", var=var)


def check_script(data: bytes, errnos: frozenset[str] | None = None) -> list[tuple[int, str | None]]:
    """Each line's verdict as the guest's script_next() gives it: (line, None) or (line, error)."""
    data = data.split(b"\0", 1)[0]  # the ramdisk's padding is not part of the script
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out: list[tuple[int, str | None]] = []
    in_case = False
    variables: set[str] = set()
    for n, raw in enumerate(lines, start=1):
        err: str | None = None
        if len(raw) > MAX_LINE:
            err = f"line longer than {MAX_LINE} characters"
        elif any(c >= 0x80 or (c < 0x20 and c not in b"\t\r") for c in raw):
            err = "non-ASCII or control character"
        else:
            try:
                st = parse_line(raw.decode("ascii"), errnos)
            except ScriptError as e:
                st, err = Stmt("empty"), str(e)
            if st.kind == "case":
                if in_case:
                    err = f"'case {st.name}' before 'end' of the previous case"
                else:
                    in_case, variables = True, set()
            elif st.kind == "end":
                if not in_case:
                    err = "'end' outside a case"
                in_case = False
            elif st.kind == "step":
                if not in_case:
                    err = "step outside a case"
                elif st.var is not None and st.var not in variables:
                    if len(variables) == MAX_VARS:
                        err = f"more than {MAX_VARS} variables in one case: '{st.var}'"
                    else:
                        variables.add(st.var)
        out.append((n, err))
    if in_case:
        out.append((len(lines) + 1, "missing 'end' at end of script"))
    return out
