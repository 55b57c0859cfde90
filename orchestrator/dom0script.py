"""The privileged domain's part of a case, run by the harness through dom0's shell.

A case may give steps to `Dom0`: they are compiled like any guest's script, and
this module runs that script. Hypercalls go through `evtchn-op` (dom0/), which
uses the dom0 kernel's privcmd driver; rendezvous with the guests goes through
xenstore under /local/domain/0, readable by every domain. Each step prints a
``[g<N>-Dom0] EVT RESULT ...`` line in the guests' own format, so one parser
reads them all.
"""

from __future__ import annotations

import re
import shlex
import time

from . import lang
from .dom0 import Dom0
from .domain import xs_path
from .errors import HarnessError

PUB = xs_path(0, "pub")
TOOL = "/evt/evtchn-op"
GET_POLL_S = 0.02  # each poll is a round trip to dom0 already


class Dom0Script:
    def __init__(self, dom0: Dom0, name: str, domids: dict[str, int], errnos: dict[int, str], domid_self: int) -> None:
        self.dom0 = dom0
        self.name = name  # e.g. g3-Dom0: the prefix of its console lines
        self.domids = domids
        self.errnos = errnos
        self.domid_self = domid_self  # what `self` means, as in a guest script
        self.case = ""
        self.vars: dict[str, int] = {}
        self.own_ports: list[int] = []  # ports opened in dom0 itself, closed at the end of a case
        self.passed = self.failed = 0  # in the current case
        self.total_passed = self.total_failed = 0

    def prepare(self) -> None:
        """A fresh, world-readable publication folder for this group."""
        self.dom0.run(f"xenstore-rm {PUB} 2>/dev/null; xenstore-write {PUB} '' && xenstore-chmod {PUB} r0")

    def run(self, script: str) -> None:
        # The guest's own checks first: only their tokens reach dom0's shell.
        bad = [f"line {n}: {err}" for n, err in lang.check_script(script.encode()) if err]
        if bad:
            raise HarnessError(f"{self.name}: refusing a bad script: {'; '.join(bad[:3])}")
        for text in script.split("\n"):
            words = text.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] == "case":
                self.case, self.vars = words[1], {}
                self._say(f"CASE-BEGIN {self.case} (dom0 is not reset: it owns the toolstack ports)")
            elif words[0] == "end":
                for port in self.own_ports:
                    self.dom0.run_rc(f"{TOOL} close {port}")
                self.own_ports = []
                self._say(f"CASE-END {self.case} pass={self.passed} fail={self.failed}")
                self.total_passed += self.passed
                self.total_failed += self.failed
                self.passed = self.failed = 0
            else:
                self.step(int(words[0]), words[1], words[2:])
        self._say(f"DONE pass={self.total_passed} fail={self.total_failed}")

    def _say(self, text: str) -> None:
        # Straight into the log: echoing long lines through dom0's console would be slow and lossy.
        self.dom0.console.note(f"[{self.name}] EVT {text}")

    def value(self, token: str) -> int:
        if token == "self":
            return self.domid_self
        if token.startswith("@"):
            return self.domids[token[1:]]
        if token.startswith("$"):
            if token[1:] not in self.vars:
                raise KeyError(token)
            return self.vars[token[1:]]
        v = lang.parse_num(token)  # as the guest reads it: int(token, 0) refuses 007
        if v is None:
            raise ValueError(token)
        return v

    def step(self, line: int, op: str, words: list[str]) -> None:
        save = words[-1] if len(words) >= 2 and words[-2] == "=>" else None
        if save:
            words = words[:-2]
        args, expect = (words[: words.index("->")], words[words.index("->") + 1 :]) if "->" in words else (words, [])
        if op == "put":
            # The key is a checked token (lang.is_key); the value a number or quoted.
            self.dom0.run(f"xenstore-write {PUB}/{shlex.quote(args[0])} {self._resolve_text(args[1])}")
            return
        if op == "get":
            self.vars[save or "_"] = self._get(args[0].lstrip("@"), args[1], int(args[2]) / 1000)
            return
        try:
            nums = [self.value(a) for a in args]
            want = self._expect_text(expect or ["ok"])
        except KeyError as e:
            self._report(line, op, args, " ".join(expect or ["ok"]), f"UNDEFINED:{e.args[0]}", False)
            return
        rc, fields = self._call(op, nums)
        got = self._got_text(rc, fields)
        ok = _matches(want, got)
        if rc == 0 and "port" in fields and op in ("alloc_unbound", "bind_interdomain"):
            if save:
                self.vars[save] = int(fields["port"])
            if op == "bind_interdomain" or nums[0] in (0, self.domid_self):
                self.own_ports.append(int(fields["port"]))
        self._report(line, op, [str(n) for n in nums], want, got, ok)

    def _report(self, line: int, op: str, args: list[str], want: str, got: str, ok: bool) -> None:
        self.passed += ok
        self.failed += not ok
        verdict = "PASS" if ok else "FAIL"
        where = f"case={self.case} line={line} op={op} args={','.join(args)}"
        self._say(f"RESULT {where} expect={want} got={got} verdict={verdict}")

    def _resolve_text(self, token: str) -> str:
        try:
            return str(self.value(token))
        except (KeyError, ValueError):
            return shlex.quote(token)

    def _get(self, peer: str, key: str, timeout: float) -> int:
        path = shlex.quote(xs_path(self.domids[peer], "pub", key))
        deadline = time.monotonic() + timeout
        while True:
            rc, out = self.dom0.run_rc(f"xenstore-read {path} 2>/dev/null")
            if rc == 0:
                return int(out.strip() or "0", 0)
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name}: {peer} did not publish {key} within {timeout:.0f}s")
            self.dom0.sleep(GET_POLL_S)

    def _call(self, op: str, nums: list[int]) -> tuple[int, dict[str, str]]:
        if op not in lang.DOM0_OPS:  # the case checker allows no other; the shell gets no other
            raise HarnessError(f"{self.name}: {op} is not an op of {TOOL}")
        out = self.dom0.run(f"{TOOL} {op} {' '.join(map(str, nums))}")
        fields = dict(re.findall(r"(\w+)=(\S+)", out))
        if "rc" not in fields:
            raise HarnessError(f"{self.name}: unexpected output of {TOOL} {op}: {out!r}")
        return int(fields.pop("rc")), fields

    def _got_text(self, rc: int, fields: dict[str, str]) -> str:
        if rc < 0:
            return self.errnos.get(-rc, f"ERR{rc}")
        if "status" in fields:
            kind = fields["status"]
            parts = [f"{k}={fields[k]}" for k in lang.STATUS_KINDS.get(kind, ()) if k in fields]
            return ",".join([f"ok:{kind}", *parts])
        return f"ok:{fields['port']}" if "port" in fields else "ok"

    def _expect_text(self, expect: list[str]) -> str:
        head, rest = expect[0], expect[1:]
        if head != "ok":
            return head
        if not rest:
            return "ok"
        if rest[0] in lang.STATUS_KINDS:
            parts = [f"{k}={self.value(v)}" for k, _, v in (kv.partition("=") for kv in rest[1:])]
            return ",".join([f"ok:{rest[0]}", *parts])
        return f"ok:{self.value(rest[0])}"


def _matches(want: str, got: str) -> bool:
    """The guest's rule: the same result, and every status field the expectation names."""
    if want == "ok":
        return got == "ok" or got.startswith("ok:")
    w, g = want.split(","), got.split(",")
    return w[0] == g[0] and all(part in g[1:] for part in w[1:])
