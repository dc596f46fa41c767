"""The stack's services as processes it starts and, by pid, stops: nothing it did not start is
ever signalled.

Each service writes `<name>.pid` in the state directory. A pid counts as ours only while the
process with that pid still has our marker (the service's state directory) on its command line,
so a pid recycled by the OS after a crash is never killed by mistake (ops/processes.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..processes import command_line, die_with_parent, pid_in_file, stop_process, wait_for


@dataclass
class ManagedProcess:
    """One service process, tracked through a pid file and a command-line marker."""

    name: str
    state_dir: Path
    marker: str
    die_with_parent: bool = False  # the demo's stack ends with the demo; `stack up`'s outlives it

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our live process, or None."""
        return pid_in_file(self.pid_file, self.marker)

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
                # Kept across exec, so the JVM itself gets SIGTERM when its starter dies.
                preexec_fn=die_with_parent() if self.die_with_parent else None,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        # Until exec, the forked child still shows our own command line: wait for the marker,
        # so that pid() never mistakes a just-started service for a dead one.
        wait_for(lambda: proc.poll() is not None or self.marker in command_line(proc.pid), 10, 0.02)
        return proc.pid

    def terminate(self) -> None:
        """SIGTERM without waiting (stop() waits): to let several services stop together."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGTERM)

    def stop(self, timeout: float = 30.0, *, signalled: bool = False) -> bool:
        """SIGTERM (unless terminate() already sent it, as ChildProcess.stop), then SIGKILL
        after timeout; True when a process of ours was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        sig = 0 if signalled else signal.SIGTERM  # signal 0 sends nothing
        stop_process(pid, marker=self.marker, sig=sig, timeout=timeout)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the service log, for error messages and `stack logs`."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
