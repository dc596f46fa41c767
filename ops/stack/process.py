"""Processes the stack starts and, by pid, stops: nothing it did not start is ever signalled.

Each service writes `<name>.pid` in the state directory. A pid counts as ours only while the
process with that pid still has our marker (the service's state directory) on its command line,
so a pid recycled by the OS after a crash is never killed by mistake.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (we can bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP connect to host:port succeeds."""
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


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@dataclass
class ManagedProcess:
    """One service process, tracked through a pid file and a command-line marker."""

    name: str
    state_dir: Path
    marker: str

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our live process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if self.marker in _cmdline(pid) and not _is_zombie(pid):
            return pid
        return None

    def start(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start detached (own session, so Ctrl-C in the CLI does not reach it); log to file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        # Until exec, the forked child still shows our own command line: wait for the marker,
        # so that pid() never mistakes a just-started service for a dead one.
        wait_for(lambda: proc.poll() is not None or self.marker in _cmdline(proc.pid), 10, 0.02)
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after timeout; True when a process of ours was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: self._gone(pid), timeout):
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: self._gone(pid), 10)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _gone(self, pid: int) -> bool:
        # Reap it if it happens to be our child (tests start the stack in-process).
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return self.marker not in _cmdline(pid) or _is_zombie(pid)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the service log, for error messages and `stack logs`."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
