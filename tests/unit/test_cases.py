"""orchestrator.cases: case files parsed, checked and compiled into guest scripts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from orchestrator import lang
from orchestrator.cases import compile as casecompile
from orchestrator.cases import errnos, model
from orchestrator.cases import parse as caseparse
from orchestrator.cases.compile import compile_case, compile_group
from orchestrator.cases.model import Case, Config, Step
from orchestrator.cases.parse import parse_file
from orchestrator.cases.plan import Group, plan
from orchestrator.errors import CaseFileError
from orchestrator.results import parse

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
ERRNOS = frozenset({"EPERM", "ENOENT", "ESRCH", "EINVAL", "ENOSYS", "EBUSY"})


def write(tmp_path: Path, text: str, name: str = "t.evt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def one_case(tmp_path: Path, text: str) -> Case:
    found = parse_file(write(tmp_path, text), ERRNOS)
    assert len(found) == 1
    return found[0]


def script_lines(script: str) -> list[str]:
    return [ln for ln in script.splitlines() if ln and not ln.startswith("#")]


# -- parsing ------------------------------------------------------------------


def test_parse_real_interdomain_case() -> None:
    path = REPO / "cases" / "interdomain.evt"
    (case,) = parse_file(path, ERRNOS)
    assert case.name == "interdomain-exchange" == case.id
    assert case.path == path
    assert case.domains == ("A", "B")
    assert case.config == Config(("A", "B"), 1, 1023)
    assert case.title.startswith("A allocates a port for B")
    assert len(case.sources) == 2
    assert all(s for s in case.sources)
    assert any("event_channel.c" in s for s in case.sources)
    assert {s.domain for s in case.steps} == {"A", "B"}
    first = case.steps[0]
    assert first == Step(
        line=first.line,
        domain="A",
        op="alloc_unbound",
        args=("self", "@B"),
        expect=("ok",),
        spec=None,
        save="pa",
        concurrent=False,
        comment="",
    )
    # Lines point back into the file.
    file_lines = path.read_text().splitlines()
    for s in case.steps:
        words = file_lines[s.line - 1].split()
        assert words[:2] == [s.domain, s.op]
    # The one concurrent pair is A's and B's pingpong; only the first is marked.
    pingpongs = [s for s in case.steps if s.op == "pingpong"]
    assert [(s.domain, s.concurrent) for s in pingpongs] == [("A", True), ("B", False)]
    assert pingpongs[0].args[2] == "first" and pingpongs[1].args[2] == "second"
    assert [s for s in case.steps if s.concurrent] == pingpongs[:1]
    # A step without `->` expects plain success.
    sends = [s for s in case.steps if s.op == "send"]
    assert sends and all(s.expect == ("ok",) for s in sends)
    statuses = [s for s in case.steps if s.op == "status"]
    assert ("ok", "unbound", "dom=@B") in [s.expect for s in statuses]


def test_parse_details(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "# leading comment\n"
        "\n"
        "case detail-1\n"
        "title  Something  with spaces   # and a comment\n"
        "domains Front Back\n"
        "vcpus 2\n"
        "max_event_channels 64\n"
        "source xen/common/event_channel.c: evtchn_send()\n"
        "Front alloc_unbound self @Back -> ok => port   # allocate\n"
        "Back  status 0x7FF0 3 -> ok interdomain dom=@Front port=7 vcpu=0\n"
        "Front send $port -> ESRCH\n"
        "Front close 17 -> ERR-5\n"
        "Front count $port -> ok 0\n",
    )
    assert case.name == "detail-1"
    assert case.line == 3
    assert case.title == "Something  with spaces"
    assert case.config == Config(("Front", "Back"), 2, 64)
    assert case.sources == ["xen/common/event_channel.c: evtchn_send()"]
    assert [s.line for s in case.steps] == [9, 10, 11, 12, 13]
    assert case.steps[0].comment == "allocate"
    assert case.steps[0].save == "port"
    assert case.steps[1].args == ("0x7FF0", "3")
    assert case.steps[1].expect == ("ok", "interdomain", "dom=@Front", "port=7", "vcpu=0")
    assert case.steps[2].expect == ("ESRCH",)
    assert case.steps[3].expect == ("ERR-5",)
    assert case.steps[4].expect == ("ok", "0")


def test_timeout_and_budget(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "case quick\ndomains A\nA send 1\nA send 2\ncase slow\ndomains A\ntimeout 300\nA send 1\n",
    )
    quick, slow = parse_file(path)
    assert quick.timeout == 0
    assert quick.budget == model.CASE_BASE_S + 2 * model.SECONDS_PER_STEP
    assert slow.timeout == 300
    assert slow.budget == 300.0
    # The time budget is not part of the domain configuration.
    assert quick.config == slow.config


def test_fault_op(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case f\ndomains A\nA fault 0x10\n")
    assert (case.steps[0].op, case.steps[0].args) == ("fault", ("0x10",))
    assert compile_case(case, 1)["A"] == ["case f", "3 fault 0x10 -> ok", "end"]


def test_load_several_files(tmp_path: Path) -> None:
    b = write(tmp_path, "case b1\ndomains A\nA send 1\n", "b.evt")
    a = write(tmp_path, "case a1\ndomains A\nA send 1\ncase a2\ndomains A\nA send 2\n", "a.evt")
    assert [c.name for c in caseparse.load([b, a])] == ["a1", "a2", "b1"]


def test_load_duplicate_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, "case same\ndomains A\nA send 1\n", "a.evt")
    b = write(tmp_path, "\ncase same\ndomains A\nA send 1\n", "b.evt")
    with pytest.raises(CaseFileError) as exc:
        caseparse.load([a, b])
    assert exc.value.detail.startswith(f"{b}:2: ")
    assert f"also defined in {a}" in exc.value.detail


def test_read_errnos(tmp_path: Path) -> None:
    header = tmp_path / "include" / "xen" / "errno.h"
    header.parent.mkdir(parents=True)
    header.write_text(
        "#ifndef XEN_ERRNO\n"
        "#define XEN_ERRNO(name, value) XEN_##name = value,\n"
        "#endif\n"
        "XEN_ERRNO(EPERM,\t 1)\t/* Operation not permitted */\n"
        "XEN_ERRNO(ENOENT,\t 2)\t/* No such file or directory */\n"
        "XEN_ERRNO(EINVAL,\t22)\t/* Invalid argument */\n"
        "#ifdef __XEN__\n"
        "XEN_ERRNO(ENOSYS,\t38)\t/* Function not implemented */\n"
        "#endif\n"
        "#undef XEN_ERRNO\n"
    )
    # Names under __XEN__ are Xen's own: the guest, built without it, does not know them.
    assert errnos.read_errnos(tmp_path / "include") == frozenset({"EPERM", "ENOENT", "EINVAL"})


# -- malformed input ----------------------------------------------------------

HEAD = "case bad\ndomains A B\n"  # steps start on line 3

MALFORMED = [
    pytest.param(HEAD + "A frobnicate 1\n", 3, "unknown op `frobnicate`", id="unknown-op"),
    pytest.param(HEAD + "A\n", 3, "a step needs an op", id="no-op"),
    pytest.param(HEAD + "A close\n", 3, "close takes 1 argument(s), got 0", id="too-few-args"),
    pytest.param(HEAD + "A send 1 2\n", 3, "send takes 1 argument(s), got 2", id="too-many-args"),
    pytest.param(HEAD + "A send 1\nA close $nope\n", 4, "variable $nope is used before", id="undefined-var"),
    pytest.param(HEAD + "A count 1 -> ok $nope\n", 3, "variable $nope", id="undefined-var-in-expect"),
    pytest.param(HEAD + "A count 1 => p\nB send $p\nB send $q\n", 5, "variable $q", id="undefined-var-later"),
    pytest.param(HEAD + "C send 1\n", 3, "domain C is not in `domains A B`", id="unknown-domain"),
    pytest.param(HEAD + "A alloc_unbound self @C\n", 3, "@C: no domain C", id="unknown-domain-ref"),
    pytest.param(HEAD + "A send port\n", 3, "bad value `port`", id="bad-value"),
    pytest.param(HEAD + "A send first\n", 3, "bad value `first`", id="keyword-as-value"),
    pytest.param(HEAD + "A count 1 -> ok first\n", 3, "bad value `first`", id="keyword-as-expected-value"),
    pytest.param(HEAD + "A send 1 -> maybe\n", 3, "bad expectation `maybe`", id="bad-expectation"),
    pytest.param(HEAD + "A send 1 -> EINVAL 3\n", 3, "bad expectation `EINVAL 3`", id="errno-with-value"),
    pytest.param(HEAD + "A count 1 -> ok 1 2\n", 3, "`ok` takes one value", id="ok-two-values"),
    pytest.param(HEAD + "A send 1 ->\n", 3, "`->` needs an expectation", id="empty-expectation"),
    pytest.param(HEAD + "A status self 1 -> ok bound\n", 3, "status kind `bound`", id="status-kind"),
    pytest.param(HEAD + "A status self 1 -> ok virq irq=3\n", 3, "status field `irq=3`", id="status-field"),
    pytest.param(HEAD + "A status self 1 -> ok virq virq\n", 3, "status field `virq`", id="status-field-no-eq"),
    pytest.param(HEAD + "A status self 1 -> ok virq virq=$x\n", 3, "variable $x", id="status-field-var"),
    pytest.param(HEAD + "A send 1 -> EAGAIN\n", 3, "EAGAIN is not an errno in Xen's", id="errno-not-in-set"),
    pytest.param(HEAD + "A alloc_unbound self @B => Pa\n", 3, "`=> <variable>` must end", id="bad-var-name"),
    pytest.param(HEAD + "A alloc_unbound self @B => p -> ok\n", 3, "`=> <variable>` must end", id="save-not-last"),
    pytest.param("domains A\ncase x\n", 1, "`domains` before the first `case` line", id="before-case"),
    pytest.param("# c\nA send 1\ncase x\n", 2, "`A` before the first `case` line", id="step-before-case"),
    pytest.param("case x\ntitle no domains\n", 1, "case x has no `domains` line", id="missing-domains"),
    pytest.param(
        "case x\ndomains A\nA send 1\n\ncase y\ntitle t\ncase z\n",
        5,
        "case y has no `domains` line",
        id="missing-domains-2",
    ),
    pytest.param("case x\ndomains A\n", 1, "case x has no steps", id="no-steps"),
    pytest.param(HEAD + "A send 1\ndomains A B\n", 4, "`domains` must come before the steps", id="domains-late"),
    pytest.param("case x\ndomains A a\n", 2, "expected `domains A [B ...]`", id="domain-lower-case"),
    pytest.param("case x\ndomains A A\n", 2, "expected `domains A [B ...]`", id="domain-twice"),
    pytest.param("case x\ndomains\n", 2, "expected `domains A [B ...]`", id="domains-empty"),
    pytest.param("case X\n", 1, "expected `case <name>`", id="bad-case-name"),
    pytest.param("case a b\n", 1, "expected `case <name>`", id="case-two-names"),
    pytest.param(
        "case x\ndomains A\nA send 1\ncase x\n", 4, "case x defined twice (first on line 1)", id="duplicate-case"
    ),
    pytest.param(HEAD + "A send 1\nB send 2 &\n", 4, "the last step cannot end in `&`", id="amp-last"),
    pytest.param(HEAD + "A send 1 &\nA send 2\n", 4, "must run in different domains", id="amp-same-domain"),
    pytest.param(HEAD + "A send 1 &\nA send 2 &\nB send 3\n", 4, "must run in different domains", id="amp-same-2"),
    pytest.param(HEAD + "timeout 0\n", 3, "expected `timeout <positive number>`", id="timeout-zero"),
    pytest.param(HEAD + "A fault\n", 3, "fault takes 1 argument(s), got 0", id="fault-no-address"),
    pytest.param(HEAD + "vcpus 0\n", 3, "expected `vcpus <positive number>`", id="vcpus-zero"),
    pytest.param(HEAD + "max_event_channels many\n", 3, "`max_event_channels <positive number>`", id="mec"),
    pytest.param(HEAD + "vcpus 9\n", 3, "`vcpus` 9 is out of range: 1..8 (the guest runs on", id="vcpus-9"),
    pytest.param(HEAD + f"vcpus {2**63}\n", 3, f"`vcpus` {2**63} is out of range: 1..8", id="vcpus-2-63"),
    pytest.param(HEAD + "vcpus \u0663\n", 3, "expected `vcpus <positive number>`", id="vcpus-arabic-digit"),
    pytest.param(HEAD + f"max_event_channels {2**32}\n", 3, f"`max_event_channels` {2**32} is out", id="mec-2-32"),
    pytest.param(HEAD + "irqs 7 1024\n", 3, "`irqs` 1024 is out of range: 0..1023", id="irq-1024"),
    pytest.param(HEAD + "irqs 0x7\n", 3, "expected `irqs <irq> [<irq> ...]`", id="irq-hex"),
    pytest.param(HEAD + "irqs\n", 3, "expected `irqs <irq> [<irq> ...]`", id="irqs-none"),
    pytest.param(HEAD + "source\n", 3, "`source` needs a citation", id="empty-source"),
    pytest.param(HEAD + "frobnicate\n", 3, "unknown keyword or domain `frobnicate`", id="unknown-keyword"),
    pytest.param("# only a comment\n\n", 1, "no `case` in file", id="empty-file"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), MALFORMED)
def test_malformed_case_file(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CaseFileError) as exc:
        parse_file(path, ERRNOS)
    detail = exc.value.detail
    assert detail.startswith(f"{path}:{line}: "), detail
    assert fragment in detail
    assert str(exc.value).startswith(f"malformed case file: {path}:{line}: ")


def test_errno_check_needs_the_errno_set(tmp_path: Path) -> None:
    # Without Xen's errno list only the form of the name is checked.
    path = write(tmp_path, HEAD + "A send 1 -> EAGAIN\n")
    (case,) = parse_file(path)
    assert case.steps[0].expect == ("EAGAIN",)


# -- planning -------------------------------------------------------------------


def test_plan_groups_cases_that_can_share_domains(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "case c1\ndomains A B\nA send 1\n"
        "case c2\ndomains A\nA send 1\n"  # fewer guests: runs in the same domains
        "case c3\ndomains A B\nB send 1\n"
        "case c4\ndomains A B\nvcpus 2\nA send 1\n"  # another xl config
        "case c5\ndomains Crash\nCrash send 2\n"  # guests of its own
        "case c6\ndomains B A Dom0\nDom0 send 2\n"  # dom0 joins any group
        "case c7\ndomains A C\nC send 2\n",  # neither a subset nor a superset of A B
    )
    found = parse_file(path)
    groups = plan(found)
    assert [(g.index, [c.name for c in g.cases]) for g in groups] == [
        (1, ["c1", "c2", "c3", "c6"]),
        (2, ["c4"]),
        (3, ["c5"]),
        (4, ["c7"]),
    ]
    assert groups[0].config == Config(("A", "B", "Dom0"))
    assert groups[1].config == Config(("A", "B"), vcpus=2)
    assert groups[3].config.domains == ("A", "C")


def test_a_group_grows_to_the_case_with_more_guests(tmp_path: Path) -> None:
    path = write(tmp_path, "case c1\ndomains A\nA send 1\ncase c2\ndomains A B\nB send 1\n")
    (group,) = plan(parse_file(path))
    assert group.config.domains == ("A", "B")
    scripts = compile_group(group)
    assert "case c1" in scripts["A"] and "case c1" not in scripts["B"] and "case c2" in scripts["B"]


def test_a_case_that_destroys_a_domain_ends_its_group(tmp_path: Path) -> None:
    kill = "Dom0 destroy @{}\n"
    path = write(
        tmp_path,
        "case c1\ndomains A B\nA send 1\n"
        "case d1\ndomains A B Dom0\n" + kill.format("B") + "case c2\ndomains A\nA send 2\n"
        "case d2\ndomains A B Dom0\n" + kill.format("A") + "case c3\ndomains A B\nB send 3\n",
    )
    groups = plan(parse_file(path))
    # d1 goes last in the group it joined, c3 ahead of it (no reset brings B back); d2 may
    # not join it as well: it begins a group of its own.
    assert [[c.name for c in g.cases] for g in groups] == [["c1", "c2", "c3", "d1"], ["d2"]]
    assert [c.name for g in plan(parse_file(path), fresh=True) for c in g.cases] == ["c1", "d1", "c2", "d2", "c3"]


def test_plan_fresh(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "case c1\ndomains A B\nA send 1\ncase c2\ndomains A B\nA send 2\ncase c3\ndomains A\nA send 3\n",
    )
    found = parse_file(path)
    assert len(plan(found)) == 1
    groups = plan(found, fresh=True)
    assert [(g.index, [c.name for c in g.cases], g.config) for g in groups] == [
        (1, ["c1"], Config(("A", "B"))),
        (2, ["c2"], Config(("A", "B"))),
        (3, ["c3"], Config(("A",))),
    ]
    assert plan([]) == []


# -- compiling ------------------------------------------------------------------


def test_compile_barriers_and_variables(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case demo\n"  # 1
        "domains A B\n"  # 2
        "A alloc_unbound self @B -> ok => pa\n"  # 3
        "A status self $pa -> ok unbound dom=@B\n"  # 4
        "B bind_interdomain @A $pa -> ok => pb\n"  # 5
        "B status self $pb -> ok interdomain dom=@A port=$pa\n"  # 6
        "B send $pb\n"  # 7
        "A wait $pa 1 5000 -> ok 1\n",  # 8
    )
    out = compile_case(case, 1)
    assert out["A"] == [
        "case demo",
        "1 put c1-ready 1",
        "1 get B c1-ready 120000",
        "3 alloc_unbound self @B -> ok => pa",
        "3 put c1-v-pa $pa",  # published right after the step that sets it
        "4 status self $pa -> ok unbound dom=@B",
        "5 put c1-b2 1",  # B runs next
        "8 get B c1-b5 120000",  # A waits for B to finish
        "8 wait $pa 1 5000 -> ok 1",
        "8 put c1-done 1",  # nobody leaves before everybody is done
        "8 get B c1-done 120000",
        "end",
    ]
    assert out["B"] == [
        "case demo",
        "1 put c1-ready 1",
        "1 get A c1-ready 120000",
        "5 get A c1-b2 120000",
        "5 get A c1-v-pa 120000 => pa",  # fetched once, before its first use
        "5 bind_interdomain @A $pa -> ok => pb",
        "6 status self $pb -> ok interdomain dom=@A port=$pa",
        "7 send $pb -> ok",
        "8 put c1-b5 1",
        "8 put c1-done 1",
        "8 get A c1-done 120000",
        "end",
    ]


def test_compile_single_domain_has_no_sync(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case solo\ndomains A\nA bind_ipi 0 -> ok => p\nA send $p\nA count $p -> ok 1\n")
    assert compile_case(case, 3) == {
        "A": ["case solo", "3 bind_ipi 0 -> ok => p", "4 send $p -> ok", "5 count $p -> ok 1", "end"]
    }


def test_compile_sync_key_and_timeout(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case k\ndomains A B\nA alloc_unbound self @B -> ok => p\nB close $p -> EINVAL\n")
    out = compile_case(case, 7, sync_timeout_ms=2500)
    assert out["B"] == [
        "case k",
        "1 put c7-ready 1",
        "1 get A c7-ready 2500",
        "4 get A c7-b1 2500",
        "4 get A c7-v-p 2500 => p",
        "4 close $p -> EINVAL",
        "4 put c7-done 1",
        "4 get A c7-done 2500",
        "end",
    ]
    assert out["A"][-3:] == ["4 put c7-done 1", "4 get B c7-done 2500", "end"]
    assert "3 put c7-v-p $p" in out["A"]


def test_compile_variable_used_in_expectation_is_fetched(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case e\ndomains A B\nA alloc_unbound self @B -> ok => pa\nB count 1 -> ok $pa\n",
    )
    out = compile_case(case, 1)
    assert "3 put c1-v-pa $pa" in out["A"]
    assert out["B"][-5:] == [
        "4 get A c1-v-pa 120000 => pa",
        "4 count 1 -> ok $pa",
        "4 put c1-done 1",
        "4 get A c1-done 120000",
        "end",
    ]


def test_compile_local_variable_not_published(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case l\ndomains A B\nA bind_ipi 0 -> ok => p\nB send 1\nA send $p\n",
    )
    out = compile_case(case, 1)
    assert not any("c1-v-" in ln for ln in out["A"] + out["B"])


def test_compile_concurrent_pingpong(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case pp\n"  # 1
        "domains A B\n"  # 2
        "A alloc_unbound self @B -> ok => pa\n"  # 3
        "B bind_interdomain @A $pa -> ok => pb\n"  # 4
        "A pingpong $pa 10 first 1000 -> ok 10 &\n"  # 5
        "B pingpong $pb 10 second 1000 -> ok 10\n"  # 6
        "A close $pa\n",  # 7
    )
    assert [s.concurrent for s in case.steps] == [False, False, True, False, False]
    out = compile_case(case, 1)
    assert out["A"] == [
        "case pp",
        "1 put c1-ready 1",
        "1 get B c1-ready 120000",
        "3 alloc_unbound self @B -> ok => pa",
        "3 put c1-v-pa $pa",
        "4 put c1-b1 1",
        "5 get B c1-b2 120000",
        "5 mark $pa",  # base count taken before the start barrier releases B
        "5 put c1-s2 1",
        "5 get B c1-s2 120000",
        "5 pingpong $pa 10 first 1000 -> ok 10",
        "7 put c1-b3 1",  # every domain of the run signals the end of its part
        "7 get B c1-b3 120000",  # both pingpongs are over before A closes
        "7 close $pa -> ok",
        "7 put c1-done 1",
        "7 get B c1-done 120000",
        "end",
    ]
    assert out["B"] == [
        "case pp",
        "1 put c1-ready 1",
        "1 get A c1-ready 120000",
        "4 get A c1-b1 120000",
        "4 get A c1-v-pa 120000 => pa",
        "4 bind_interdomain @A $pa -> ok => pb",
        "5 put c1-b2 1",
        "5 mark $pb",
        "5 put c1-s2 1",
        "5 get A c1-s2 120000",
        "6 pingpong $pb 10 second 1000 -> ok 10",
        "7 put c1-b3 1",
        "7 put c1-done 1",
        "7 get A c1-done 120000",
        "end",
    ]


def test_compile_concurrent_rtt_is_marked_like_pingpong(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case r\n"  # 1
        "domains A B\n"  # 2
        "A alloc_unbound self @B -> ok => pa\n"  # 3
        "B bind_interdomain @A $pa -> ok => pb\n"  # 4
        "A rtt $pa 10 first 1000 -> ok 10 &\n"  # 5
        "B rtt $pb 10 second 1000 -> ok 10\n",  # 6
    )
    out = compile_case(case, 1)
    # Each side's base count is taken before the start barrier releases the other.
    assert out["A"][out["A"].index("5 mark $pa") + 1 :][:3] == [
        "5 put c1-s2 1",
        "5 get B c1-s2 120000",
        "5 rtt $pa 10 first 1000 -> ok 10",
    ]
    assert out["B"][out["B"].index("5 mark $pb") + 1 :][:3] == [
        "5 put c1-s2 1",
        "5 get A c1-s2 120000",
        "6 rtt $pb 10 second 1000 -> ok 10",
    ]


def test_compile_concurrent_without_pingpong_has_no_mark(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case c\ndomains A B C\nA send 1 &\nB send 2 &\nC send 3\n")
    out = compile_case(case, 1)
    for dom, other in (("A", "BC"), ("B", "AC"), ("C", "AB")):
        assert not any(" mark " in ln for ln in out[dom])
        assert "3 put c1-s0 1" in out[dom]
        for p in other:
            assert f"3 get {p} c1-s0 120000" in out[dom]
    assert out["C"][-5:] == ["5 send 3 -> ok", "5 put c1-done 1", "5 get A c1-done 120000",
                             "5 get B c1-done 120000", "end"]  # fmt: skip


def test_compile_three_domains_chain(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case three\ndomains A B C\nA send 1\nB send 2\nC send 3\n")
    out = compile_case(case, 1)
    ready = ["1 put c1-ready 1"]
    assert out["A"] == ["case three", *ready, "1 get B c1-ready 120000", "1 get C c1-ready 120000",
                        "3 send 1 -> ok", "4 put c1-b1 1",
                        "5 put c1-done 1", "5 get B c1-done 120000", "5 get C c1-done 120000", "end"]  # fmt: skip
    assert out["B"] == ["case three", *ready, "1 get A c1-ready 120000", "1 get C c1-ready 120000",
                        "4 get A c1-b1 120000", "4 send 2 -> ok", "5 put c1-b2 1",
                        "5 put c1-done 1", "5 get A c1-done 120000", "5 get C c1-done 120000", "end"]  # fmt: skip
    assert out["C"] == ["case three", *ready, "1 get A c1-ready 120000", "1 get B c1-ready 120000",
                        "5 get B c1-b2 120000", "5 send 3 -> ok",
                        "5 put c1-done 1", "5 get A c1-done 120000", "5 get B c1-done 120000", "end"]  # fmt: skip


def test_compile_group(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "case one\ndomains A B\nA alloc_unbound self @B -> ok => p\nB close $p -> EINVAL\n"
        "case two\ndomains A B\nB send 1\n",
        "grp.evt",
    )
    (group,) = plan(parse_file(path))
    scripts = compile_group(group)
    assert set(scripts) == {"A", "B"}
    for dom, script in scripts.items():
        assert script.endswith("end\n")
        assert not script.endswith("\n\n")
        lines = script.splitlines()
        assert lines[0] == "# one: grp.evt:1"
        assert lines.count("# two: grp.evt:5") == 1
        assert [ln for ln in lines if ln.startswith("case ")] == ["case one", "case two"]
        assert lines.count("end") == 2
        # Each case has its own sync keys, and they name the group (g1).
        two = lines[lines.index("case two") :]
        assert all("c1-" not in ln for ln in two)
        assert "5 put g1c2-ready 1" in two
        assert all(len(ln) <= 255 for ln in lines), dom
    # A barrier waits as long as the orchestrator waits for the group: SLOW_HOST_CAP (8) times
    # the cases' budgets, 10 s + 1 s a step each: (12 + 11) * 8 s.
    assert scripts["B"].splitlines()[-5:] == [
        "5 get A g1c2-ready 184000",
        "7 send 1 -> ok",
        "7 put g1c2-done 1",
        "7 get A g1c2-done 184000",
        "end",
    ]


def test_a_barrier_never_gives_up_before_the_orchestrator_would(tmp_path: Path) -> None:
    """Soak run 33: a barrier's fixed 120 s ran out in a group the orchestrator still waited for."""
    one = write(tmp_path, "case one\ndomains A B\nA send 1\nB send 1\n", "one.evt")
    (group,) = plan(parse_file(one))
    assert casecompile.sync_timeout_ms(group) == casecompile.SYNC_TIMEOUT_MS  # 12 s * 8 < 120 s: the floor
    many = write(tmp_path, "".join(f"case c{i}\ndomains A B\nA send 1\nB send 1\n" for i in range(40)), "many.evt")
    (group,) = plan(parse_file(many))
    assert casecompile.sync_timeout_ms(group) == 40 * 12 * model.SLOW_HOST_CAP * 1000
    assert f"get A g1c40-done {40 * 12 * 8 * 1000}" in compile_group(group)["B"]


def test_compiled_interdomain_matches_the_logged_run() -> None:
    # data/interdomain.evt is the case file that produced data/serial-interdomain-pass.log:
    # every script line the compiler emits is one RESULT line in the guest's output.
    (case,) = parse_file(DATA / "interdomain.evt", ERRNOS)
    (group,) = plan([case])
    scripts = compile_group(group)
    reports = parse((DATA / "serial-interdomain-pass.log").read_text().splitlines())
    for dom in ("A", "B"):
        # The log also predates the end-of-case barrier (`put c1-done` and a `get` of it from
        # each peer after the last step): those lines are new, so they are left out here.
        # It also predates the group in the keys (g1c1-, then c1-).
        lines = scripts[dom].replace(" g1c1-", " c1-").splitlines()
        kept = [ln for ln in lines if ln.split()[1:2] not in (["put"], ["get"]) or "c1-done" not in ln.split()]
        assert len(lines) - len(kept) == 2  # one put and one get (there is one peer)
        steps = [ln.split() for ln in kept if ln[0].isdigit()]
        want = [(int(words[0]), words[1]) for words in steps]
        rep = reports[f"g1-{dom}"]
        assert [(s.line, s.op) for s in rep.steps] == want
        # The log predates the `v-` prefix of variable keys (c1-pa, now c1-v-pa); otherwise
        # the guest ran this very script: same sync keys, and the size it reported.
        old_script = "\n".join(kept).replace(" c1-v-", " c1-") + "\n"
        assert old_script != scripts[dom].replace(" g1c1-", " c1-")
        keys = [words[3] if words[1] == "get" else words[2] for words in steps if words[1] in ("get", "put")]
        logged = [s.args[1] if s.op == "get" else s.args[0] for s in rep.steps if s.op in ("get", "put")]
        assert [k.replace("c1-v-", "c1-") for k in keys] == logged
        assert rep.boot["script"] == str(len(old_script.encode()))


def test_compiled_real_interdomain_is_consistent() -> None:
    (case,) = parse_file(REPO / "cases" / "interdomain.evt", ERRNOS)
    scripts = compile_group(Group(1, case.config, (case,)))
    put_keys: dict[str, set[str]] = {}
    for dom, script in scripts.items():
        lines = script_lines(script)
        assert lines[0] == f"case {case.name}" and lines[-1] == "end"
        put_keys[dom] = {ln.split()[2] for ln in lines if ln.split()[1:2] == ["put"]}
    # Every key a domain waits for is put by the peer it names.
    for dom, script in scripts.items():
        for ln in script_lines(script):
            words = ln.split()
            if len(words) > 1 and words[1] == "get":
                peer, key = words[2], words[3]
                assert key in put_keys[peer], ln
        # Variables are defined (by a step or a fetch) before they are used.
        defined: set[str] = set()
        for ln in script_lines(script)[1:-1]:
            body, _, save = ln.partition(" => ")
            for var in re.findall(r"\$(\w+)", body):
                assert var in defined, f"{dom}: {ln}"
            if save:
                defined.add(save)


def test_compile_end_barrier(tmp_path: Path) -> None:
    # Nobody leaves a case before every domain is done with it: the next case's reset would
    # close ports a peer may still be looking at.
    case = one_case(tmp_path, "case end\ndomains A B C\nA send 1\nB send 2 &\nC send 3\nA send 4\n")
    out = compile_case(case, 1)
    last = case.steps[-1].line
    assert last == 6
    for dom, lines in out.items():
        peers = [p for p in "ABC" if p != dom]
        tail = [f"{last} put c1-done 1", *(f"{last} get {p} c1-done 120000" for p in peers), "end"]
        assert lines[-len(tail) :] == tail, dom
        # After the domain's last step: nothing of the case comes after the barrier.
        steps = [i for i, ln in enumerate(lines) if ln[0].isdigit() and ln.split()[1] not in ("put", "get", "mark")]
        assert steps and max(steps) < len(lines) - len(tail), dom
        assert sum("c1-done" in ln for ln in lines) == len(tail) - 1, dom
    solo = one_case(tmp_path, "case solo\ndomains A\nA send 1\nA send 2\n")
    assert not any("done" in ln for ln in compile_case(solo, 1)["A"])


# -- fixed compiler/parser bugs -------------------------------------------------------


def test_variable_named_like_a_barrier(tmp_path: Path) -> None:
    # Variables travel under c<i>-v-<name>: a variable called b1 cannot clash with barrier c1-b1.
    case = one_case(tmp_path, "case v\ndomains A B\nA alloc_unbound self @B -> ok => b1\nB bind_interdomain @A $b1\n")
    out = compile_case(case, 1)
    assert "3 put c1-v-b1 $b1" in out["A"]
    assert "4 put c1-b1 1" in out["A"]
    assert out["B"][-5:] == [
        "4 get A c1-v-b1 120000 => b1",
        "4 bind_interdomain @A $b1 -> ok",
        "4 put c1-done 1",
        "4 get A c1-done 120000",
        "end",
    ]
    for dom, lines in out.items():
        puts = [ln.split()[2] for ln in lines if ln.split()[1:2] == ["put"]]
        assert len(puts) == len(set(puts)), f"{dom} puts one key twice: {lines}"


REDEFINED = [
    pytest.param(
        HEAD + "A alloc_unbound self @B -> ok => p\nA close $p\nB alloc_unbound self @A -> ok => p\n",
        5,
        id="by-another-domain",
    ),
    pytest.param(
        HEAD + "A alloc_unbound self @B -> ok => p\nB bind_interdomain @A $p\nA alloc_unbound self @B -> ok => p\n",
        5,
        id="by-its-owner",
    ),
    pytest.param(HEAD + "A bind_ipi 0 -> ok => p\nA bind_ipi 0 -> ok => p\n", 4, id="twice-in-a-row"),
    pytest.param(HEAD + "A bind_ipi 0 -> ok => p &\nB bind_ipi 0 -> ok => p\n", 4, id="concurrent"),
]


@pytest.mark.parametrize(("text", "line"), REDEFINED)
def test_variable_set_twice_is_rejected(tmp_path: Path, text: str, line: int) -> None:
    # A variable has one value per case, so a cross-domain fetch cannot get the wrong one.
    path = write(tmp_path, text)
    with pytest.raises(CaseFileError) as exc:
        parse_file(path, ERRNOS)
    assert exc.value.detail == f"{path}:{line}: variable $p is already set earlier in this case"


def test_same_variable_name_in_two_cases(tmp_path: Path) -> None:
    # The one-value rule is per case.
    path = write(
        tmp_path,
        "case one\ndomains A\nA bind_ipi 0 -> ok => p\ncase two\ndomains A\nA bind_ipi 0 -> ok => p\n",
    )
    assert [c.steps[0].save for c in parse_file(path, ERRNOS)] == ["p", "p"]


@pytest.mark.parametrize(
    "steps",
    [
        "A send 1 &\nB send 2 &\nA send 3\n",
        "A send 1 &\nB send 2 &\nC send 3 &\nA send 4\n",
        "A send 1 &\nB send 2 &\nC send 3 &\nB send 4\n",
    ],
    ids=["A-B-A", "A-B-C-A", "A-B-C-B"],
)
def test_amp_chain_back_to_the_same_domain(tmp_path: Path, steps: str) -> None:
    path = write(tmp_path, "case bad\ndomains A B C\n" + steps)
    with pytest.raises(CaseFileError) as exc:
        parse_file(path, ERRNOS)
    last = 2 + steps.count("\n")
    assert exc.value.detail == f"{path}:{last}: steps joined with `&` must run in different domains"


def test_amp_chains_may_reuse_domains_after_they_end(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case ok\ndomains A B\nA send 1 &\nB send 2\nA send 3 &\nB send 4\nA send 5\n")
    assert [(s.domain, s.concurrent) for s in case.steps] == [
        ("A", True),
        ("B", False),
        ("A", True),
        ("B", False),
        ("A", False),
    ]


@pytest.mark.parametrize("name", ["ERRNOPE", "ERR", "ERRX5", "ERR5X", "ERR--5", "ERR-0", "ERR0", "ERR0x5"])
def test_err_prefixed_name_checked_against_errnos(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, HEAD + f"A send 1 -> {name}\n")
    with pytest.raises(CaseFileError) as exc:
        parse_file(path, ERRNOS)
    assert exc.value.detail.startswith(f"{path}:3: ")


@pytest.mark.parametrize("name", ["ERR5", "ERR-5", "ERR22", "ERR-9223372036854775807"])
def test_numeric_err_names_skip_the_errno_check(tmp_path: Path, name: str) -> None:
    case = one_case(tmp_path, HEAD + f"A send 1 -> {name}\n")
    assert case.steps[0].expect == (name,)


def test_mark_after_fetch(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case m\ndomains A B\nB alloc_unbound self @A -> ok => p\n"
        "A pingpong $p 1 first 10 -> ok 1 &\nB pingpong 1 1 second 10 -> ok 1\n",
    )
    lines = compile_case(case, 1)["A"]
    assert lines.index("4 get B c1-v-p 120000 => p") < lines.index("4 mark $p") < lines.index("4 put c1-s1 1"), lines


def test_concurrent_run_fetches_before_its_start_barrier(tmp_path: Path) -> None:
    # Every step of a run has its foreign variables before any domain of the run starts.
    case = one_case(
        tmp_path,
        "case f\ndomains A B\n"  # 1-2
        "A alloc_unbound self @B -> ok => pa\n"  # 3
        "B alloc_unbound self @A -> ok => pb\n"  # 4
        "A send $pb &\n"  # 5
        "B send $pa\n",  # 6
    )
    out = compile_case(case, 1)
    assert out["A"][-8:] == [
        "5 get B c1-b2 120000",
        "5 get B c1-v-pb 120000 => pb",
        "5 put c1-s2 1",
        "5 get B c1-s2 120000",
        "5 send $pb -> ok",
        "6 put c1-done 1",
        "6 get B c1-done 120000",
        "end",
    ]
    assert out["B"][-7:] == [
        "6 get A c1-v-pa 120000 => pa",
        "5 put c1-s2 1",
        "5 get A c1-s2 120000",
        "6 send $pa -> ok",
        "6 put c1-done 1",
        "6 get A c1-done 120000",
        "end",
    ]


# -- spec: the 3.0 guide's expectation where it differs from Xen's answer ----------------


def test_spec_expectation(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        HEAD
        + "A close 9999 -> EINVAL spec: ESRCH   # Xen's answer, then the guide's\n"  # 3
        + "A bind_ipi 0 -> ok spec: ENOSYS => p &\n"  # 4
        + "B count 1 -> ok 1 spec: ok 2\n"  # 5
        + "A status self $p -> ok ipi vcpu=0 spec: ok ipi vcpu=1\n"  # 6
        + "A count $p -> ok $p spec: ok 0\n"  # 7
        + "A send 1 -> ok\n",  # 8
    )
    s = case.steps
    assert s[0] == Step(
        3, "A", "close", ("9999",), ("EINVAL",), ("ESRCH",), None, False, "Xen's answer, then the guide's"
    )
    assert (s[1].expect, s[1].spec, s[1].save, s[1].concurrent) == (("ok",), ("ENOSYS",), "p", True)
    assert (s[2].expect, s[2].spec) == (("ok", "1"), ("ok", "2"))
    assert (s[3].expect, s[3].spec) == (("ok", "ipi", "vcpu=0"), ("ok", "ipi", "vcpu=1"))
    assert (s[4].expect, s[4].spec) == (("ok", "$p"), ("ok", "0"))
    assert s[5].spec is None


def test_spec_is_not_compiled_into_the_script(tmp_path: Path) -> None:
    # The guest checks Xen's answer; the guide's expectation stays with the case.
    case = one_case(
        tmp_path, "case s\ndomains A\nA close 9999 -> EINVAL spec: ESRCH\nA bind_ipi 0 -> ok spec: ENOSYS => p\n"
    )
    assert compile_case(case, 1)["A"] == ["case s", "3 close 9999 -> EINVAL", "4 bind_ipi 0 -> ok => p", "end"]


SPEC_MALFORMED = [
    pytest.param("A close 1 spec: ESRCH\n", "`spec: <expectation>` follows `-> <expectation>`", id="no-arrow"),
    pytest.param("A close 1 -> EINVAL spec:\n", "`spec: <expectation>` follows `-> <expectation>`", id="empty"),
    pytest.param("A close 1 spec: ESRCH -> EINVAL\n", "`spec: <expectation>` follows `->", id="before-arrow"),
    pytest.param("A close 1 -> spec: ESRCH\n", "`->` needs an expectation", id="empty-expectation"),
    pytest.param("A close 1 -> EINVAL spec: EAGAIN\n", "EAGAIN is not an errno in Xen's", id="unknown-errno"),
    pytest.param("A close 1 -> EINVAL spec: ERRNOPE\n", "ERRNOPE is not an errno in Xen's", id="err-prefixed"),
    pytest.param("A close 1 -> EINVAL spec: maybe\n", "bad expectation `maybe`", id="bad-expectation"),
    pytest.param("A close 1 -> EINVAL spec: ESRCH 3\n", "bad expectation `ESRCH 3`", id="errno-with-value"),
    pytest.param("A count 1 -> ok 1 spec: ok 1 2\n", "`ok` takes one value", id="ok-two-values"),
    pytest.param("A count 1 -> ok 1 spec: ok $nope\n", "variable $nope is used before", id="undefined-var"),
    pytest.param("A status self 1 -> ok ipi spec: ok bound\n", "status kind `bound`", id="status-kind"),
    pytest.param("A close 1 -> EINVAL spec: ESRCH spec: EPERM\n", "bad expectation", id="twice"),
    pytest.param("A bind_ipi 0 -> ok => p spec: ENOSYS\n", "`=> <variable>` must end", id="after-save"),
]


def test_spec_errno_without_the_errno_set(tmp_path: Path) -> None:
    (case,) = parse_file(write(tmp_path, HEAD + "A close 1 -> EINVAL spec: EAGAIN\n"))
    assert case.steps[0].spec == ("EAGAIN",)


# -- <major>.<minor>: what Xen answers from a version on, where it changed on purpose -----


def test_an_expectation_per_xen_version(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        HEAD
        + "A close 9999 -> EINVAL 4.18: EBUSY   # changed on purpose in 4.18\n"  # 3
        + "A count 1 -> ok 1 4.18: ok 2 4.21: EPERM spec: ok 3\n",  # 4
    )
    close, count = case.steps
    assert (close.expect, close.since, close.spec) == (("EINVAL",), (((4, 18), ("EBUSY",)),), None)
    assert count.since == (((4, 18), ("ok", "2")), ((4, 21), ("EPERM",))) and count.spec == ("ok", "3")
    assert [count.expect_for(v) for v in [(4, 17), (4, 18), (4, 20), (4, 21), (5, 0)]] == [
        ("ok", "1"),
        ("ok", "2"),
        ("ok", "2"),
        ("EPERM",),
        ("EPERM",),
    ]
    # The guest is given the one its Xen should answer.
    assert {"3 close 9999 -> EBUSY", "4 count 1 -> ok 2"} <= set(compile_case(case.for_xen((4, 20)), 1)["A"])
    assert "3 close 9999 -> EINVAL" in compile_case(case.for_xen((4, 17)), 1)["A"]


VERSION_MALFORMED = [
    pytest.param("A close 1 -> 4.18: EBUSY\n", "`->` needs an expectation", id="no-first"),
    pytest.param("A close 1 -> EINVAL 4.18:\n", "versions rising, each with its expectation", id="empty"),
    pytest.param("A close 1 -> EINVAL 4.21: EBUSY 4.18: EPERM\n", "versions rising", id="falling"),
    pytest.param("A close 1 -> EINVAL 4.18: EBUSY 4.18: EPERM\n", "versions rising", id="twice"),
    pytest.param("A close 1 -> EINVAL 4.18: EWHAT\n", "EWHAT is not an errno in Xen's", id="unknown-errno"),
    pytest.param("A bind_ipi 0 -> ok 4.21: EBUSY => p\n", "must expect ok on every Xen", id="save-lost"),
]


@pytest.mark.parametrize(("step", "fragment"), SPEC_MALFORMED + VERSION_MALFORMED)
def test_malformed_expectation(tmp_path: Path, step: str, fragment: str) -> None:
    path = write(tmp_path, HEAD + step)
    with pytest.raises(CaseFileError) as exc:
        parse_file(path, ERRNOS)
    assert exc.value.detail.startswith(f"{path}:3: "), exc.value.detail
    assert fragment in exc.value.detail


# -- known compiler/parser bugs (strict xfail: they start failing once fixed) -----------


def test_variable_set_and_used_in_one_concurrent_run(tmp_path: Path) -> None:
    # Steps joined by `&` run at the same time: one cannot use what the other sets.
    text = HEAD + "A alloc_unbound self @B -> ok => p &\nB send $p\n"
    with pytest.raises(CaseFileError, match=r":4: \$p is set by a step this one runs together with"):
        one_case(tmp_path, text)


def test_irqs_config_reaches_the_xl_config(tmp_path: Path) -> None:
    from orchestrator.runner import domain_config

    case = one_case(tmp_path, "case p\ndomains A\nirqs 7 9\nA bind_pirq 7 0\n")
    assert case.config.irqs == (7, 9)
    cfg = domain_config("g1-A", "/evt/k", "/evt/s", case.config)
    assert "irqs = [ 7, 9 ]" in cfg and 'name = "g1-A"' in cfg
    assert "irqs" not in domain_config("g1-A", "/evt/k", "/evt/s", one_case(tmp_path, HEAD + "A send 1\n").config)
    with pytest.raises(CaseFileError, match=":3: expected `irqs <irq>"):
        one_case(tmp_path, "case p\ndomains A\nirqs seven\nA send 1\n")


def test_group_description_names_what_differs_from_the_defaults() -> None:
    from orchestrator.cases.model import Config
    from orchestrator.runner import describe

    assert describe(Config(("A", "B"))) == "A B"
    assert describe(Config(("A",), 2, 4, (7, 9))) == "A, vcpus=2, max_event_channels=4, irqs=7,9"


# -- a domain the case destroys ----------------------------------------------------

DESTROY = """case d
domains A B Dom0
A alloc_unbound self @B -> ok => pa
B bind_interdomain @A $pa -> ok => pb
B wait $pb 3 60000 -> ok 3 &
Dom0 destroy @B
A status self $pa -> ok unbound dom=@B
"""


def test_a_destroyed_domain_is_waited_for_by_nobody(tmp_path: Path) -> None:
    case = one_case(tmp_path, DESTROY)
    assert case.destroyed == ("B",)
    assert case.cut("B") == {5}  # its wait runs into the destroy
    out = compile_case(case, 1)
    after = out["A"][out["A"].index(next(ln for ln in out["A"] if " status " in ln)) - 1 :]
    assert not any(" get B " in ln for ln in after)  # no barrier on B once it is gone
    assert not any("-done" in ln for ln in out["B"])  # nor at the case's end


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Dom0 destroy @B", "Dom0 destroy 2"), "takes @NAME"),
        (("Dom0 destroy @B", "Dom0 destroy @Dom0"), "takes @NAME"),
        (("Dom0 destroy @B", "A destroy @B"), "only Dom0 runs it"),
        (("A status self $pa -> ok unbound dom=@B", "B send $pb"), "B has been destroyed"),
    ],
)
def test_destroy_is_refused_where_it_cannot_work(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(CaseFileError, match=re.escape(message)):
        parse_file(write(tmp_path, DESTROY.replace(*change)), ERRNOS)


def test_many_cases_load_in_linear_time(tmp_path: Path) -> None:
    # 20,000 cases took about 30 s when each name was compared with every earlier one. Four
    # times the cases must cost about four times the CPU, not sixteen: a ratio measured in
    # the same run, and CPU time, so a busy host changes neither.
    def cost(n: int) -> float:
        path = write(tmp_path, "".join(f"case c{i}\ndomains A\nA send {i}\n" for i in range(n)) + "case c7\n")
        start = time.process_time()
        with pytest.raises(CaseFileError) as exc:
            caseparse.load([path])
        assert exc.value.detail == f"{path}:{3 * n + 1}: case c7 defined twice (first on line 22)"
        found, _ = caseparse.check_file(path)
        assert len(plan(found)) == 1
        return time.process_time() - start

    small, large = cost(5_000), cost(20_000)
    assert large / small < 8, f"5,000 cases: {small:.2f} s of CPU, 20,000: {large:.2f} s"


@pytest.mark.parametrize(
    ("sep", "name"),
    [
        ("\f", "a form feed (U+000C)"),
        ("\v", "a vertical tab (U+000B)"),
        ("\u00a0", "a no-break space (U+00A0)"),
        ("\x85", "a next line (NEL) (U+0085)"),
        ("\u2028", "a line separator (U+2028)"),
        ("\x1c", "a file separator (U+001C)"),
        ("\u200b", "a zero width space (U+200B)"),
        ("\u202e", "a right-to-left override (U+202E)"),
        ("\r", "a carriage return (U+000D)"),
        ("\x01", "a control character (U+0001)"),
    ],
)
@pytest.mark.parametrize("where", ["case{}y", "domains A{}B", "A send{}1", "A send 1{}-> ok", "{}", "title a{}b"])
def test_only_spaces_and_tabs_part_words(tmp_path: Path, sep: str, name: str, where: str) -> None:
    # str.split() took all of these for spaces: `A send<FF>1` ran as `A send 1`.
    if (where, sep) == ("{}", "\r"):
        return  # a line's last \r is a CRLF line end
    tail = "domains A B\nA send 2\n" if where.startswith("case") else "A send 2\n"
    text = "case x\ndomains A B\nA send 1\n" + where.format(sep) + "\n" + tail
    found, problems = caseparse.check_file(write(tmp_path, text))
    assert problems == [f"{tmp_path / 't.evt'}:4: {name}: only spaces and tabs part the words of a line"]


def test_a_crlf_file_and_tabs_are_fine(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case x\r\ndomains\tA B\r\nA\tsend 1\t->\tok   # a comment\f with a form feed\r\n")
    step = case.steps[0]
    assert (case.domains, step.args, step.expect) == (("A", "B"), ("1",), ("ok",))
    assert step.comment == "a comment\f with a form feed"  # comments are the reader's: the guest never sees them


def test_config_values_at_their_bounds(tmp_path: Path) -> None:
    case = one_case(tmp_path, "case x\ndomains A\nvcpus 8\nmax_event_channels 4294967295\nirqs 0 1023\nA send 1\n")
    assert case.config == Config(("A",), 8, 4294967295, (0, 1023))
    assert lang.GUEST_MAX_VCPUS == 8  # guest/guest.h


def test_every_op_says_where_its_numbers_go() -> None:
    assert set(lang.FIELDS) == set(lang.OPS)
    for name, op in lang.OPS.items():
        fields = lang.FIELDS[name]
        assert len(fields) == len(op.args), name
        # Only a number can be cut short: keywords, keys and domain names have no field.
        assert all(f is None for f, kind in zip(fields, op.args, strict=True) if kind not in "n"), name


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "A close 4294967297",
            "close: port 4294967297 does not fit its evtchn_port_t (at most 4294967295): " "it would reach Xen as 1",
        ),
        (
            "A alloc_unbound 98288 self",
            "alloc_unbound: domid 98288 does not fit its domid_t (at most 65535): " "it would reach Xen as 32752",
        ),
        ("B bind_interdomain 0x10000 1", "bind_interdomain: remote_dom 0x10000 does not fit its domid_t"),
        ("A status self 0x100000000", "status: port 0x100000000 does not fit its evtchn_port_t"),
        ("A bind_vcpu 1 4294967296", "bind_vcpu: vcpu 4294967296 does not fit its uint32_t"),
        ("A wait 1 4294967296 10", "wait: count 4294967296 does not fit its uint32_t"),
        (
            "A raw 2147483648",
            "raw: cmd 2147483648 does not fit its int (at most 2147483647): " "it would reach Xen as -2147483648",
        ),
        ("Dom0 destroy 65536", "destroy: domid 65536 does not fit its domid_t"),
    ],
)
def test_a_literal_past_its_fields_width_is_refused(tmp_path: Path, step: str, message: str) -> None:
    # `A close 4294967297` closed port 1; `A alloc_unbound 98288 self` allocated for domain 32752.
    path = write(tmp_path, f"case x\nfresh\ndomains A B Dom0\n{step}\n")
    with pytest.raises(CaseFileError) as info:
        parse_file(path, ERRNOS)
    assert info.value.detail.startswith(f"{path}:4: {message}")


def test_literals_at_their_fields_width_are_fine(tmp_path: Path) -> None:
    case = one_case(
        tmp_path,
        "case x\ndomains A\nA close 0xffffffff -> EINVAL\nA alloc_unbound 65535 self -> ESRCH\n"
        "A raw 2147483647 -> ENOSYS\nA wait 4294967295 1 0x7fffffffffffffff\n",
    )
    assert [s.args[0] for s in case.steps] == ["0xffffffff", "65535", "2147483647", "4294967295"]


def test_cases_that_fit_alone_but_not_together_in_a_guest_are_refused_before_the_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.evt"
    steps = "".join(f"A send {i}\n" for i in range(1, 40))
    path.write_text(f"case one\ndomains A\n{steps}\ncase two\ndomains A\n{steps}A send 99\n")
    (group,) = plan(caseparse.load([path]))
    one = len(compile_group(Group(1, group.config, group.cases[:1]))["A"])
    monkeypatch.setattr(casecompile, "GUEST_SCRIPT_MAX", one + 100)  # each case fits (the checks), both do not
    with pytest.raises(CaseFileError, match=rf"{re.escape(str(path))}:43: group 1: A's script of 2 cases would take "):
        compile_group(group)
    assert len(compile_group(plan(caseparse.load([path]), fresh=True)[1])["A"]) <= one + 100
