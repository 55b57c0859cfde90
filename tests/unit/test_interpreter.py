"""The script interpreter that guests and dom0 share (script/script_core.c), on the host.

tests/host/interp.c links it into a made-up place whose ops answer as a tiny Xen would;
a case file is compiled as the runner compiles it, and the EVT lines it prints are read
back by the results parser, as a run reads dom0's.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.cases.compile import compile_group
from orchestrator.cases.model import DOM0
from orchestrator.cases.parse import load
from orchestrator.cases.plan import plan
from orchestrator.domain import xs_path
from orchestrator.results import DomainReport, parse

from .hostbuild import REPO, build, xen_include

DOMID_SELF = 0x7FF0
A_ID = 1

CASE = """case priv
domains A Dom0
source  somewhere

Dom0 alloc_unbound self @A  -> ok => p
A bind_interdomain @Dom0 $p -> ok => q
Dom0 status self $p         -> ok interdomain dom=@A port=$q
Dom0 status self $p         -> ok interdomain dom=@A port=99
Dom0 close $p               -> ok
Dom0 close $p               -> ESRCH
Dom0 status @A 4096         -> ok
"""


@pytest.fixture(scope="module")
def interp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("interp") / "interp"
    core = [REPO / "script" / "script_core.c", REPO / "script" / "script_parse.c"]
    return build(out, xen_include(), REPO / "tests" / "host" / "interp.c", *core)


def run(interp: Path, script: str, *args: str) -> tuple[DomainReport, list[str], int]:
    proc = subprocess.run([str(interp), *args], input=script, capture_output=True, text=True, timeout=60)
    assert "runtime error" not in proc.stderr and "AddressSanitizer" not in proc.stderr, proc.stderr
    report = parse(proc.stdout.splitlines()).get("g1-Dom0", DomainReport("g1-Dom0"))
    return report, proc.stderr.splitlines(), proc.returncode


def dom0_script(tmp_path: Path) -> tuple[str, list[str]]:
    """Dom0's compiled script, and A's side as xenstore holds it once A has run."""
    path = tmp_path / "p.evt"
    path.write_text(CASE)
    (group,) = plan(load([path]))
    scripts = compile_group(group)
    published = [
        f"{xs_path(A_ID, 'pub', key)}={'7' if value == '$q' else value}"
        for key, value in re.findall(r"^\d+ put (\S+) (\S+)$", scripts["A"], re.M)
    ]
    return scripts[DOM0], [f"A={A_ID}", *published]


def test_steps_report_in_the_guests_format(interp: Path, tmp_path: Path) -> None:
    script, args = dom0_script(tmp_path)
    rep, calls, rc = run(interp, script, *args)
    assert rc == 0 and rep.garbled == [] and rep.cases_begun == ["priv"]
    interdomain = "ok:interdomain,dom=1,port=7,vcpu=0"
    own = [s for s in rep.steps if s.op not in ("put", "get")]  # the rendezvous: next test
    assert [(s.line, s.op, s.args, s.expect, s.got, s.verdict) for s in own] == [
        (5, "alloc_unbound", (str(DOMID_SELF), "1"), "ok", "ok:5", "PASS"),
        # $q came from A through xenstore; status fields beyond the expected ones are fine.
        (7, "status", (str(DOMID_SELF), "5"), "ok:interdomain,dom=1,port=7", interdomain, "PASS"),
        (8, "status", (str(DOMID_SELF), "5"), "ok:interdomain,dom=1,port=99", interdomain, "FAIL"),
        (9, "close", ("5",), "ok", "ok", "PASS"),
        (10, "close", ("5",), "ESRCH", "ok", "FAIL"),  # the place closes port 5 every time
        (11, "status", ("1", "4096"), "ok", "EINVAL", "FAIL"),
    ]  # fmt: skip
    assert f"CALL alloc_unbound {DOMID_SELF} 1" in calls


def test_counts_and_the_rendezvous_printed_only_when_the_case_fails(interp: Path, tmp_path: Path) -> None:
    script, args = dom0_script(tmp_path)
    rep, calls, _ = run(interp, script, *args)
    passed, failed = sum(s.passed for s in rep.steps), sum(not s.passed for s in rep.steps)
    assert rep.cases_ended == {"priv": (passed, failed)} and rep.done == (passed, failed) and failed == 3
    # The case failed, so its put and get lines were printed at its end: they count.
    assert {"put", "get"} <= {s.op for s in rep.steps}
    assert "PUT g1c1-v-p 5" in calls and calls[-1] == "CASE-END"


def test_a_passing_case_keeps_its_rendezvous_quiet(interp: Path) -> None:
    rep, calls, _ = run(interp, "case c\n4 alloc_unbound self 1 -> ok => p\n5 put k $p\nend\n")
    assert [s.op for s in rep.steps] == ["alloc_unbound"] and rep.cases_ended == {"c": (1, 0)}
    assert "PUT k 5" in calls


def test_an_undefined_variable_fails_its_step_without_running_it(interp: Path) -> None:
    rep, calls, _ = run(interp, "case c\n4 close $nope -> ok\nend\n")
    assert [(s.got, s.verdict) for s in rep.steps] == [("UNDEFINED:$nope", "FAIL")]
    assert not any(c.startswith("CALL") for c in calls)


def test_a_get_nobody_answers_fails_with_etimedout(interp: Path) -> None:
    rep, _, _ = run(interp, "case c\n4 get A k 50 => v\nend\n", "A=1")
    assert [(s.op, s.got, s.verdict) for s in rep.steps] == [("get", "ETIMEDOUT", "FAIL")]


def test_an_op_the_place_lacks_is_enosys(interp: Path) -> None:
    rep, _, _ = run(interp, "case c\n4 bind_ipi 0 -> ok\nend\n")
    assert [(s.got, s.verdict) for s in rep.steps] == [("ENOSYS", "FAIL")]


def test_a_bad_script_runs_nothing(interp: Path) -> None:
    rep, calls, rc = run(interp, "case c\n4 close 5\n5 put a;reboot 1\nend\n")
    assert rc == 3 and rep.steps == [] and rep.script_errors and calls == []


# The chunks of a script given through xenstore (dom0/main.c give_script(), script_core.h).
SCRIPT_CHUNK = 2048


def _in_store(script: str, n: str | None = None) -> list[str]:
    """A script as evtchn-op --give-script leaves it in a domain's home: chunks, then their number."""
    chunks = [script[i : i + SCRIPT_CHUNK] for i in range(0, len(script), SCRIPT_CHUNK)]
    return [
        *(f"data/evtchn-test/script/{i}={c}" for i, c in enumerate(chunks)),
        f"data/evtchn-test/script/n={len(chunks) if n is None else n}",
    ]


def test_a_script_given_through_xenstore_runs_as_its_ramdisk_would(interp: Path, tmp_path: Path) -> None:
    """script_fetch(): what a standby guest reads (guest/main.c), over several chunks."""
    script, xs = dom0_script(tmp_path)
    script = "# pad\n" * (2 * SCRIPT_CHUNK // 6) + script  # three chunks at least
    direct, _, rc = run(interp, script, *xs)
    fetched, _, rc_store = run(interp, "", "--from-store", *xs, *_in_store(script))
    assert (rc, rc_store) == (0, 0)
    assert direct.steps and direct.done is not None  # it ran, to its end
    assert fetched.steps == direct.steps and fetched.done == direct.done


def _short_first_chunk(script: str) -> list[str]:
    whole = _in_store(script)
    return [whole[0][:-1], *whole[1:]]


@pytest.mark.parametrize(
    ("given", "room", "said"),
    [
        (lambda s: _in_store(s)[:-1], "", "fetch: ENOENT"),  # its number not written yet
        (lambda s: _in_store(s, n="2x"), "", "fetch: EINVAL"),
        (lambda s: _in_store(s, n="-1"), "", "fetch: EINVAL"),
        (lambda s: _in_store(s)[1:], "", "fetch: ENOENT"),  # a chunk missing
        (_short_first_chunk, "", "fetch: EBADMSG"),  # it would join the next one
        (_in_store, f"={2 * SCRIPT_CHUNK + 1}", "fetch: E2BIG"),  # two whole chunks fit, not a third
    ],
)
def test_a_script_not_whole_in_xenstore_is_refused(
    interp: Path, tmp_path: Path, given: Callable[[str], list[str]], room: str, said: str
) -> None:
    script, xs = dom0_script(tmp_path)
    proc = subprocess.run(
        [str(interp), f"--from-store{room}", *xs, *given("# pad\n" * (2 * SCRIPT_CHUNK // 6) + script)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout.strip()) == (4, said)


def test_a_script_of_no_chunk_is_an_empty_one(interp: Path, tmp_path: Path) -> None:
    _, xs = dom0_script(tmp_path)
    report, _, rc = run(interp, "", "--from-store", *xs, "data/evtchn-test/script/n=0")
    assert rc == 0 and report.steps == [] and report.done == (0, 0)


def test_a_script_that_just_fits_its_room_is_read_whole(interp: Path, tmp_path: Path) -> None:
    """Room for every chunk and its NUL: as many bytes as script_fetch() needs, not one more."""
    script, xs = dom0_script(tmp_path)
    script = "# pad\n" * (2 * SCRIPT_CHUNK // 6) + script
    chunks = -(-len(script) // SCRIPT_CHUNK)
    direct, _, _ = run(interp, script, *xs)
    fetched, _, rc = run(
        interp, "", f"--from-store={(chunks - 1) * SCRIPT_CHUNK + SCRIPT_CHUNK + 1}", *xs, *_in_store(script)
    )
    assert rc == 0 and fetched.steps == direct.steps
