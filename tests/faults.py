"""Faults the integration tests inject, written once: the projection worker killed -9 right
after its first commit.

The projection worker's own run (tests/projections/conftest.py) and the whole pipeline
(tests/test_pipeline.py) kill the worker at the same moment for the same reason: a batch is
committed and a backlog is left, so the restarted worker must neither lose nor double a message.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Protocol

from ops.processes import wait_for
from ops.stage_process import signal_worker


class Killable(Protocol):
    """A worker run as a child process (ops.processes.ChildProcess has this shape)."""

    def start(self) -> None: ...
    def alive(self) -> bool: ...
    def kill9(self) -> None: ...
    def tail(self, lines: int = 40) -> str: ...


def kill_9_after_first_commit(
    worker: Killable,
    checkpointed: Callable[[], int],
    timeout: float = 90.0,
    settled: Callable[[], object] | None = None,
) -> int:
    """Start the worker and SIGKILL it as soon as `checkpointed()` shows its first committed
    batch; the messages checkpointed at the kill, read after `settled()` returns (e.g. once the
    database has ended the killed worker's sessions, so a COMMIT in flight has landed).
    Restarting it is the caller's next step."""
    worker.start()
    # A short poll: the kill must land while the backlog is still being written.
    if not wait_for(lambda: checkpointed() > 0 or not worker.alive(), timeout, 0.02):
        raise AssertionError(f"no first commit of the worker within {timeout:.0f}s")
    assert worker.alive(), worker.tail(80)
    kill9_with_children(worker)
    if settled is not None:
        settled()
    return checkpointed()


def kill9_with_children(worker: Killable) -> None:
    """SIGKILL the worker and, in the same instant, its projection child (`--projections
    process`): a crash of the host, not a child left to stop cleanly on its parent's death."""
    proc = getattr(worker, "proc", None)
    if proc is not None:
        signal_worker(proc.pid, signal.SIGKILL)
    worker.kill9()
