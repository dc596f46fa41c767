"""Loopback ports and the processes the hub starts: the one port check and the one process stop
shared by the local stack, the throwaway database servers, the demo, the bench and the tests.

A pid counts as ours only while its command line carries our marker (a state or data directory),
so a pid the OS recycled after a crash is never signalled. Every process we start leads its own
process group (start_new_session), so a stop that has to SIGKILL takes its children too; a
process started with die_with_parent also ends when we are killed -9.
"""

from __future__ import annotations

import gc
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

LOOPBACK = "127.0.0.1"


def exit_with(code: int) -> NoReturn:
    """sys.exit(code) for a process that has stopped cleanly, without the interpreter's last
    collection over every live object: a worker's identity index is tens of millions of them,
    and that collection alone took seconds, which the worker's stop timeout counts (a run at
    1,000,000 rows ended with the worker killed while its resolver's child was exiting). The
    objects are frozen out of the collector (gc.freeze); exit handlers, flushes and the freeing
    of memory still run, unlike os._exit."""
    gc.freeze()
    sys.exit(code)


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that nothing listens on right now (picked by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_block(n: int, rng: random.Random | None = None, host: str = LOOPBACK) -> int:
    """The first of ``n`` consecutive free ports, below the kernel's ephemeral range: a server
    restarted on its port (a broker killed -9 and started again) must not find it taken by an
    outgoing connection, which the kernel gives ports from that range."""
    rng = rng or random.Random()
    low = _ephemeral_low()
    top = low - n if low - n > 21000 else 65536 - n  # no room below it: anywhere, as before
    for _ in range(500):
        first = rng.randrange(20000, top)
        if all(port_is_free(first + i, host) for i in range(n)):
            return first
    raise RuntimeError(f"no block of {n} free loopback ports")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident memory (VmHWM) of a live process, in MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a listener could bind ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR so that a just-closed server's TIME_WAIT sockets don't count as "in use",
        # the same way the servers themselves bind.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def port_is_listening(port: int, host: str = LOOPBACK) -> bool:
    """True when a TCP connect to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll predicate until it is true or the deadline passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def command_line(pid: int) -> str:
    """The command line of process ``pid``, arguments joined by spaces ("" when it is gone)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a live process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name may contain spaces and ')'
    return fields[0], int(fields[2])


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


def process_group(pgid: int) -> list[int]:
    """Pids of the live processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st is not None and st[1] == pgid and st[0] != "Z":
                members.append(int(entry.name))
    return members


def owned_pid(pid: int, marker: str) -> bool:
    """True while ``pid`` is alive with ``marker`` on its command line: still the one we started."""
    return pid_alive(pid) and marker in command_line(pid)


def pid_in_file(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` (its first word) while that process is ours, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if owned_pid(pid, marker) else None


def stop_process(
    pid: int,
    *,
    marker: str | None = None,
    sig: int = signal.SIGTERM,
    timeout: float = 30.0,
    child: subprocess.Popen | None = None,
) -> list[int]:
    """Send ``sig``; after ``timeout`` SIGKILL the process and its group; then end whatever of
    its group is left. ``marker`` guards against a recycled pid. Returns the survivors (none)."""
    if child is not None and child.pid != pid:
        raise ValueError(f"child pid {child.pid} is not pid {pid}")
    leader = _leads_group(pid)

    def gone() -> bool:
        if child is not None:
            return child.poll() is not None  # also reaps it, so no zombie is left
        try:  # reap it if it happens to be our child (tests start the stack in-process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return not (owned_pid(pid, marker) if marker is not None else pid_alive(pid))

    if gone():
        return []  # not ours (any more): nothing of it is touched
    _signal(pid, sig)
    if not wait_for(gone, timeout, 0.05):
        _signal(pid, signal.SIGKILL, group=leader)
        wait_for(gone, 10.0, 0.05)
    if not gone():
        return [pid]
    return _end_group(pid) if leader else []


def die_with_parent():
    """A ``preexec_fn`` that makes the child get SIGTERM when its parent dies (Linux), even by
    kill -9; None elsewhere. Call it in the thread that lives as long as the child should."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal would ever come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


@dataclass
class ChildProcess:
    """A command run as our child in its own session (Ctrl-C reaches us, and we stop it in
    order), its output appended to a log file."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    die_with_parent: bool = False  # SIGTERM when we die, even by kill -9 (Linux)
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the command (again, after a stop or a kill)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
                preexec_fn=die_with_parent() if self.die_with_parent else None,
            )

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM without waiting (stop() then waits): several children stop side by side."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 20.0, *, signalled: bool = False) -> None:
        """SIGTERM (unless terminate() already sent it: a second one may cut a clean shutdown
        short), and SIGKILL to its process group after ``timeout``."""
        if self.alive():
            assert self.proc is not None
            sig = 0 if signalled else signal.SIGTERM  # signal 0 sends nothing
            stop_process(self.proc.pid, sig=sig, timeout=timeout, child=self.proc)

    def kill9(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, no offset commit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        """The last lines of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _leads_group(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[1] == pid


def _signal(pid: int, sig: int, group: bool = False) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _end_group(pgid: int, timeout: float = 10.0) -> list[int]:
    # Children of a SIGKILLed leader would be orphans; normally this list is empty.
    deadline = time.monotonic() + timeout
    while (members := process_group(pgid)) and time.monotonic() < deadline:
        for member in members:
            _signal(member, signal.SIGKILL)
        time.sleep(0.05)
    return members
