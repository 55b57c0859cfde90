"""Test doubles for the console (a stream that plays back scripted bytes) and for dom0's
agent (a channel that answers each request with a real frame)."""

from __future__ import annotations

import io
import struct
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from orchestrator import agent
from orchestrator.agent import Agent, Frame, TimedOut
from orchestrator.console import Console
from orchestrator.dom0 import Dom0
from orchestrator.domain import RELAY_END


class FakeStream:
    """Stands in for pexpect.spawn: `read_nonblocking` hands out queued chunks one by one.

    When the queue is empty it raises pexpect.TIMEOUT (after a short nap, so polling
    loops do not spin), or pexpect.EOF once `eof` is set. `respond`, if given, is
    called with every text sent and returns the bytes the machine answers with.
    """

    def __init__(
        self,
        chunks: list[bytes] | None = None,
        eof: bool = False,
        respond: Callable[[str], bytes] | None = None,
    ) -> None:
        self.queue: deque[bytes] = deque(chunks or [])
        self.eof = eof
        self.respond = respond
        self.sent: list[str] = []
        self.reads = 0

    def read_nonblocking(self, size: int, timeout: float | None) -> bytes:
        self.reads += 1
        if self.queue:
            chunk = self.queue.popleft()
            if len(chunk) > size:
                self.queue.appendleft(chunk[size:])
                chunk = chunk[:size]
            return chunk
        if self.eof:
            raise pexpect.EOF("fake stream closed")
        time.sleep(min(timeout or 0.0, 0.005))
        raise pexpect.TIMEOUT("fake stream empty")

    def send(self, s: str | bytes) -> int:
        text = s.decode() if isinstance(s, bytes) else s
        self.sent.append(text)
        if self.respond is not None:
            answer = self.respond(text)
            if answer:
                self.queue.append(answer)
        return len(s)


def make_console(stream: FakeStream, log_path: Path = Path("/nonexistent/serial.log")) -> tuple[Console, io.BytesIO]:
    log = io.BytesIO()
    return Console(stream, log, log_path), log


CRLF = b"\r\r\r\n"  # what dom0's console looks like on QEMU's serial line

# (output lines, exit code, lines the console shows after it); None: it never ends.
Answer = tuple[list[str], int, list[str]] | None


class FakeChannel(Agent):
    """dom0's agent as the host sees it: each request answered by `answer(command)`, in a
    real frame; what the command leaves on the console goes to `stream`. A command that
    gets no answer times out at once, as a real one would at its deadline."""

    def __init__(self, answer: Callable[[str], Answer], stream: FakeStream) -> None:
        super().__init__(Path("/nonexistent/agent.sock"))
        self.answer = answer
        self.stream = stream
        self.requests: list[tuple[bytes, str]] = []
        self.answered: set[int] = set()
        self.connects = 0

    def connect(self, timeout: float = 10.0) -> None:
        self.connects += 1

    def close(self) -> None:
        pass

    def submit(self, kind: bytes, payload: bytes) -> int:
        """Answered at once (a command with no answer never is); collected by id."""
        req_id = self._new_id()
        self.requests.append((kind, payload.decode(errors="replace")))
        frame = self._answer(kind, req_id, payload)
        if frame is not None:
            self.replies[req_id] = frame
            self.answered.add(req_id)
        return req_id

    def submit_after(self, first: int, kind: bytes, payload: bytes) -> int:
        """Sent at once if `first` was answered; never, as by the real agent, if it never is."""
        if first in self.answered:
            return self.submit(kind, payload)
        req_id = self._new_id()
        self.requests.append((kind, "(never sent) " + payload.decode(errors="replace")))
        return req_id

    def collect(self, req_id: int, timeout: float) -> Frame:
        if req_id not in self.replies:
            raise TimedOut(f"request {req_id} had no reply within {timeout:g}s")
        return self.replies.pop(req_id)

    def _answer(self, kind: bytes, req_id: int, payload: bytes) -> Frame | None:
        if kind == agent.HELLO:
            return Frame(agent.RESULT, req_id, struct.pack("<i", 0) + b"fake-agent")
        if kind == agent.KILL:
            return Frame(agent.RESULT, req_id, struct.pack("<i", 0))
        answered = self.answer(payload.decode())
        if answered is None:
            return None
        out, rc, after = answered
        if after:
            self.stream.queue.append(b"".join(ln.encode() + CRLF for ln in after))
        if kind == agent.SPAWN:
            return Frame(agent.RESULT, req_id, struct.pack("<i", 0))
        return Frame(agent.RESULT, req_id, struct.pack("<i", rc) + "".join(ln + "\n" for ln in out).encode())

    @property
    def commands(self) -> list[str]:
        return [c for kind, c in self.requests if kind in (agent.EXEC, agent.SPAWN)]


# -- a whole dom0 for the runner: xl, xenstore, relays and the guests behind them --

# The few lines of Xen's public headers the harness reads (the real ones are libxen-dev's).
HEADERS = {
    "xen/errno.h": "XEN_ERRNO(EPERM, 1)\nXEN_ERRNO(ENOENT, 2)\nXEN_ERRNO(ESRCH, 3)\nXEN_ERRNO(EINVAL, 22)\n",
    "xen/xen.h": "#define DOMID_SELF           xen_mk_uint(0x7FF0)\n",
    "xen/sched.h": "".join(
        f"#define SHUTDOWN_{name:<10} {code}  /* ... */\n"
        for code, name in enumerate(("poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"))
    )
    + "#define SHUTDOWN_MAX        5  /* Maximum valid shutdown reason.             */\n",
}


def use_errno_h(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    """A small xen/errno.h of our own, where EVT_XEN_INCLUDE points: the checks do not
    depend on a fetched Xen."""
    inc = tmp_path / "include"
    (inc / "xen").mkdir(parents=True)
    (inc / "xen" / "errno.h").write_text(text)
    monkeypatch.setenv("EVT_XEN_INCLUDE", str(inc))


def write_headers(include: Path) -> Path:
    for rel, text in HEADERS.items():
        (include / rel).parent.mkdir(parents=True, exist_ok=True)
        (include / rel).write_text(text)
    return include


class FakeGuest:
    """What one domain prints once unpaused, and how xl sees it end."""

    def __init__(
        self, lines: list[str] | None = None, reason: int | None = 0, create_rc: int = 0, preserved: bool = False
    ) -> None:
        self.lines = lines or []
        self.reason = reason  # SHUTDOWN_* code in xl's log; None: still running
        self.create_rc = create_rc
        # Stopped but kept (on_poweroff="preserve"): its console closes only when destroyed.
        self.preserved = preserved


class FakeDom0Shell:
    """dom0's command loop as the runner drives it; answers each command line like busybox would.

    Guests are looked up by xl name (g1-A); a name with no FakeGuest is created and
    prints nothing. `xenstore` is a dict.
    """

    def __init__(self, guests: dict[str, FakeGuest] | None = None):
        self.guests = guests or {}
        self.xenstore: dict[str, str] = {}
        self.standby_taken: list[str] = []  # domains a standby became (create.sh ROLE@NAME)
        self.xl_names: dict[str, str] = {}  # a taken standby's xl name -> the domain it became
        self.take_fails: set[str] = set()  # standbys create.sh fails to give a script to
        self.commands: list[str] = []
        self.domids: dict[str, int] = {}

    def __call__(self, command: str) -> Answer:
        self.commands.append(command)
        return self.answer(command)

    def answer(self, command: str) -> tuple[list[str], int, list[str]]:
        """(output, exit code, lines printed after the prompt returns); `a && b` runs b if a succeeded."""
        out: list[str] = []
        after: list[str] = []
        for part in command.split(" && "):
            o, rc, a = self.answer_one(part)
            out += o
            after += a
            if rc:
                return out, rc, after
        return out, 0, after

    def answer_one(self, command: str) -> tuple[list[str], int, list[str]]:
        words = command.split()
        if words[0] == "xl" and len(words) > 2:
            words[2] = self.xl_names.get(words[2], words[2])
        if command.startswith("xl create -p "):
            name = words[3].removeprefix("/evt/").removesuffix(".cfg").replace("/", "-")
            created = self.guests.setdefault(name, FakeGuest(reason=None))
            if created.create_rc:
                return [f"Parsing config from {words[3]}", "libxl: error: out of memory"], created.create_rc, []
            self.domids[name] = len(self.domids) + 1
            return [f"Parsing config from {words[3]}"], 0, []
        if words[:2] == ["sh", "/evt/create"]:
            return self._create_group(words[2], words[3], words[4:])
        if words[:2] == ["xl", "domid"]:
            return ([str(self.domids[words[2]])], 0, []) if words[2] in self.domids else ([], 1, [])
        if words[:2] == ["/evt/evtchn-op", "--unpause"]:  # each paused one, by domid
            names = [n for i in words[2:] for n, d in self.domids.items() if str(d) == i]
            # A guest that ends (a shutdown reason): xenconsoled closes its console, the relay says so.
            return (
                [],
                0,
                [
                    f"[{n}] {ln}"
                    for n in names
                    for ln in [*self.guests[n].lines, *([RELAY_END] if self._closes_alone(n) else [])]
                ],
            )
        if words[:2] == ["xl", "list"] and "echo listed=$?;" in command:  # domain.Domain._check_alive
            guest = self.guests.get(words[2])
            listed = 0 if guest and guest.reason is None else 1
            logs = [w for w in words if w.startswith("/var/log/xen/xl-")]
            return [f"listed={listed}", *self._shutdown_lines(logs)], 0, []
        if words[:2] == ["xl", "list"]:
            guest = self.guests.get(words[2])
            return ([], 0, []) if guest and guest.reason is None else ([f"{words[2]} is an invalid domain"], 1, [])
        if words[:2] == ["grep", "-H"]:
            logs = [w for w in words if w.startswith("/var/log/xen/xl-")]
            return self._shutdown_lines(logs), 0, []
        if words[:2] == ["/evt/evtchn-op", "--xs-write"] and len(words) % 2 == 0:
            self.xenstore.update(zip(words[2::2], words[3::2], strict=True))
            return [], 0, []
        if words[0] == "xenstore-write" and len(words) % 2 == 1:
            self.xenstore.update(zip(words[1::2], words[2::2], strict=True))
            return [], 0, []
        if words[0] == "xenstore-read":
            return ([self.xenstore[words[1]]], 0, []) if words[1] in self.xenstore else ([], 1, [])
        if words[:2] == ["xl", "destroy"] and words[2] in self.guests and self.guests[words[2]].preserved:
            self.guests[words[2]].preserved = False
            return [], 0, [f"[{words[2]}] {RELAY_END}"]  # xenconsoled closes its console
        if words[0] == "/evt/evtchn-op" and words[1] in self.guests:  # Dom0's script, as a guest prints
            return [], 0, [f"[{words[1]}] {ln}" for ln in self.guests[words[1]].lines]
        # evtchn-op, xenstore-rm/-chmod, the relay, kill, other xl destroys: nothing to say.
        return [], 0, []

    def _closes_alone(self, name: str) -> bool:
        guest = self.guests[name]
        return guest.reason is not None and not guest.preserved

    def _create_group(self, group: str, xs_dir: str, args: list[str]) -> tuple[list[str], int, list[str]]:
        """xen-config/create.sh: each role's domain in turn, then every id to every one."""
        out: list[str] = []
        given = dict(a.split("=", 1) for a in args if "=" in a)
        made: list[str] = []
        for role in [a for a in args if "=" not in a]:
            if "@" in role:  # a domain standing by (ROLE@NAME) becomes this role; xl keeps its name
                role, _, xl_name = role.partition("@")
                if xl_name in self.take_fails:
                    return [*out, f"create: {xl_name} got no script"], 1, []
                self.standby_taken.append(f"{group}-{role}")
                self.xl_names[xl_name] = f"{group}-{role}"
                self.domids[f"{group}-{role}"] = len(self.domids) + 1
            else:
                o, rc, _ = self.answer_one(f"xl create -p /evt/{group}/{role}.cfg")
                out += o
                if rc:
                    return out, rc, []
            out.append(f"@@DOMID {group}-{role} {self.domids[f'{group}-{role}']}")
            given[role] = str(self.domids[f"{group}-{role}"])
            made.append(role)
        for role in made:
            for r, i in given.items():
                self.xenstore[f"/local/domain/{given[role]}/{xs_dir}/dom/{r}"] = i
        return out, 0, []

    def _shutdown_lines(self, logs: list[str]) -> list[str]:
        """What xl wrote in these logs of its domains that have shut down."""
        out = []
        for log in logs:
            name = log.removeprefix("/var/log/xen/xl-").removesuffix(".log")
            guest = self.guests.get(name)
            if guest is not None and guest.reason is not None:
                domid = self.domids.get(name, 0)
                out.append(f"{log}:Domain {domid} has shut down, reason code {guest.reason} 0x0")
        return out


def make_dom0(shell: Callable[[str], Answer], boot: list[bytes] | None = None) -> Dom0:
    stream = FakeStream(boot)
    console, _ = make_console(stream)
    return Dom0(console, FakeChannel(shell, stream))
