"""The orchestrator's checker and the guest's parser agree, line for line.

The guest's parser (script/script_parse.c) is built for the host with ASan and UBSan
(tests/host/parser.c) and run over every compiled case script and over generated
and mutated lines; orchestrator.lang.check_script must give each line the same
verdict and the same message. Needs gcc and Xen's public headers: $EVT_XEN_INCLUDE,
or the include of build/debian/<suite>/manifest.json that `make setup` writes.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import lang
from orchestrator.cases.compile import compile_group
from orchestrator.cases.errnos import read_errnos
from orchestrator.cases.parse import load
from orchestrator.cases.plan import plan

from .hostbuild import REPO, build, xen_include

CASE_FILES = [*sorted((REPO / "cases").glob("*.evt")), *sorted((REPO / "bench").glob("*.evt"))]
CASE_FILES += sorted((REPO / "tests" / "selftest").rglob("*.evt"))
SEED = 20240601
GENERATED = 12000  # lines
Verdicts = list[tuple[int, str | None]]


@pytest.fixture(scope="module")
def include() -> Path:
    return xen_include()


@pytest.fixture(scope="module")
def driver(include: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parity") / "parser"
    return build(out, include, REPO / "tests" / "host" / "parser.c", REPO / "script" / "script_parse.c")


def run_driver(driver: Path, scripts: list[bytes]) -> list[Verdicts]:
    """The guest parser's verdicts, one list per script (one driver run for all)."""
    proc = subprocess.run([str(driver)], input=b"\0".join(scripts), capture_output=True, timeout=120)
    assert proc.returncode == 0, f"driver failed (sanitizer?):\n{proc.stderr.decode(errors='replace')[-3000:]}"
    out: list[Verdicts] = [[]]
    for text in proc.stdout.decode().splitlines():
        if text == "--":
            out.append([])
            continue
        n, verdict, *msg = text.split(" ", 2)
        out[-1].append((int(n), None if verdict == "ok" else msg[0]))
    assert out.pop() == []
    return out


def compare(driver: Path, scripts: list[bytes], errnos: frozenset[str]) -> int:
    guest = run_driver(driver, scripts)
    assert len(guest) == len(scripts)
    checked = 0
    for script, theirs in zip(scripts, guest, strict=True):
        ours = lang.check_script(script, errnos)
        if ours != theirs:
            lines = script.split(b"\n")
            diff = [(o, t) for o, t in zip(ours, theirs, strict=False) if o != t][:5]
            where = [lines[o[0] - 1] if o[0] <= len(lines) else b"<end>" for o, _ in diff]
            pytest.fail(f"python vs guest differ: {diff} on {where} (lengths {len(ours)}, {len(theirs)})")
        checked += len(ours)
    return checked


def compiled_scripts() -> Iterator[bytes]:
    cases = load(CASE_FILES)
    for fresh in (False, True):
        for group in plan(cases, fresh):
            for text in compile_group(group).values():
                yield text.encode()


def test_every_compiled_case_script_is_accepted(driver: Path, include: Path) -> None:
    scripts = list(compiled_scripts())
    assert compare(driver, scripts, read_errnos(include)) > 1000
    assert all(err is None for s in scripts for _, err in lang.check_script(s))


# -- generated and mutated lines ------------------------------------------------

LONG = "v" * (lang.NAME_LEN - 1)
NUMBERS = [
    "0", "1", "17", "0x1f", "0X1f", "0x", "-1", "007", "1e3", "0xg",
    str(lang.INT64_MAX), str(lang.INT64_MAX + 1), hex(lang.INT64_MAX), hex(lang.INT64_MAX + 1),
    "18446744073709551615", "99999999999999999999999", "\u0663", "\uff11", "1\u00b2",
    str(lang.RTT_MAX), str(lang.RTT_MAX + 1), hex(lang.RTT_MAX + 1),
]  # fmt: skip
WORDS = [
    "self", "$p", "$_x1", "$P", "$", f"${LONG}", f"${LONG}v", "@A", "@a", "@", f"@A{LONG}", "@Ab9",
    "ok", "->", "=>", "&", "#", "case", "end", "first", "second", "page", "bad", "x-y", "k.e_y",
    "EINVAL", "ESRCH", "EINTR", "ERESTART", "ENOPE", "ERR5", "ERR-5", "ERR0", "ERR-0", "ERR", "ERR0x5",
    "ERR--5", f"ERR{lang.INT64_MAX}", f"ERR-{lang.INT64_MAX + 1}", "dom=1", "port=$p", "vcpu=0", "virq=@A",
    "pirq=x", "dom=", "=1", "dom", "dom=1=2", "closed", "unbound", "interdomain", "virq", "ipi", "bound",
    "k" * (lang.KEY_LEN - 1), "k" * lang.KEY_LEN, "A", "Dom0", "a-b", "c99999-v-p",
]  # fmt: skip
# Just inside and just past the length limits of keys and domain names.
BOUNDS = [
    "k" * (lang.KEY_LEN - 1),
    "k" * lang.KEY_LEN,
    "A" + "b" * (lang.NAME_LEN - 2),
    "A" + "b" * (lang.NAME_LEN - 1),
]
JUNK = ["\t", "\r", "\x01", "\x7f", "\xe9", "\u2028", "  ", "#", "=", "$", "@", "\x0b", "\x0c"]


def token(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(NUMBERS)
    if r < 0.55:
        return rng.choice(WORDS)
    if r < 0.7:
        return rng.choice(list(lang.OPS))
    if r < 0.85:
        return f"{rng.choice(lang.STATUS_FIELDS)}={rng.choice(NUMBERS + WORDS[:12])}"
    return "".join(rng.choice("abAB01_-$@=.x") for _ in range(rng.randint(1, 8)))


def step(rng: random.Random) -> str:
    """A step that is often well-formed: op, arguments of its kinds, an expectation, maybe a variable."""
    name, op = rng.choice(list(lang.OPS.items()))
    args = []
    for kind in op.args:
        pool = {"n": NUMBERS + WORDS[:12], "w": ["first", "second"], "g": ["page", "bad", "pagetable", "0", "1"]}
        args.append(rng.choice(pool.get(kind, ["c1-ready", "k.e_y", "A", "@A", "1", *BOUNDS])))
    words = [str(rng.randint(1, 300)), name, *args]
    if rng.random() < 0.7:
        words.append("->")
        if op.value == "STATUS" and rng.random() < 0.7:
            kind = rng.choice(list(lang.STATUS_KINDS))
            fields = [f"{f}={rng.choice(['1', '$p', '@A'])}" for f in lang.STATUS_FIELDS if rng.random() < 0.5]
            words += ["ok", kind, *fields]
        else:
            words += rng.choice([["ok"], ["ok", "5"], ["ok", "$p"], ["EINVAL"], ["ERR-3"], ["ok", "1", "2"]])
    if rng.random() < 0.3:
        words += ["=>", rng.choice(["p", "q_1", f"v{rng.randint(0, 80)}", LONG, "P"])]
    return " ".join(words)


def mutate(rng: random.Random, line: str) -> str:
    words = line.split(" ")
    r = rng.random()
    if r < 0.2 and words:
        del words[rng.randrange(len(words))]
    elif r < 0.4:
        words.insert(rng.randint(0, len(words)), token(rng))
    elif r < 0.6 and words:
        words[rng.randrange(len(words))] = token(rng)
    elif r < 0.7 and len(words) > 1:
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    elif r < 0.8:
        pos = rng.randint(0, len(line))
        return line[:pos] + rng.choice(JUNK) + line[pos:]
    elif r < 0.9:
        # around the length limit
        return (line + " " + "#" * lang.MAX_LINE)[: lang.MAX_LINE + rng.randint(-1, 1)]
    else:
        words += [rng.choice(["1", "&", "->", "ok"])] * rng.randint(0, lang.MAX_TOKS)
    return " ".join(words)


def generated(rng: random.Random, corpus: list[str], n: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < n:
        if len(lines) % 40 == 0:
            lines += ["end", f"case g{len(lines)}"]  # fresh variables now and then
        r = rng.random()
        if r < 0.35:
            lines.append(step(rng))
        elif r < 0.7:
            lines.append(mutate(rng, rng.choice(corpus)))
        elif r < 0.85:
            lines.append(mutate(rng, step(rng)))
        else:
            lines.append(" ".join(token(rng) for _ in range(rng.randint(0, 6))))
    return lines


def test_generated_and_mutated_lines_agree(driver: Path, include: Path) -> None:
    errnos = read_errnos(include)
    corpus = [ln for s in compiled_scripts() for ln in s.decode().splitlines()]
    corpus += [ln for p in sorted((REPO / "tests").rglob("*.evt")) for ln in p.read_text().splitlines()]
    rng = random.Random(SEED)
    start = time.monotonic()
    lines = generated(rng, corpus, GENERATED)
    # One long script, and many short ones: the per-case variable limit and `end` checks get both.
    scripts = ["case g\n" + "\n".join(lines) + "\n"]
    scripts += ["\n".join(lines[i : i + 7]) for i in range(0, 2000, 7)]
    many = ["case m"] + [f"1 count 1 => v{i}" for i in range(lang.MAX_VARS + 2)] + ["end"]
    scripts += ["\n".join(many) + "\n", "\n".join(many[:-1])]
    checked = compare(driver, [s.encode() for s in scripts], errnos)
    assert checked >= GENERATED
    print(f"parity: {checked} lines checked in {time.monotonic() - start:.1f}s")


def test_the_driver_reports_a_sanitizer_error(driver: Path) -> None:
    # The sanitizers are on: a build without them would let a memory bug through silently.
    assert b"__asan_init" in driver.read_bytes()
