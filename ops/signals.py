"""Stop requests by signal (SIGINT, SIGTERM, SIGHUP) for a process that has to stop its children.

The handler only appends to a list: no lock, no I/O, so a second signal arriving while the
first is handled (or while the main thread holds a lock) cannot deadlock or abort the stop.
The main thread waits on a self-pipe the C-level handler writes to (``signal.set_wakeup_fd``).
"""

from __future__ import annotations

import os
import select
import signal
import time
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """While entered, every stop signal is recorded instead of raising or ending the process."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.received: list[int] = []
        self._previous: dict[int, object] = {}
        self._pipe: tuple[int, int] | None = None
        self._previous_fd = -1

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)  # a C call under the GIL: no Python-level lock

    def __enter__(self) -> StopSignals:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)  # a full pipe drops the byte instead of blocking the handler
        self._pipe = (r, w)
        self._previous_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in self.signals:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # nohup (or a shell's `&`) asked us to ignore it: keep doing so
            self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_fd)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    @property
    def requested(self) -> bool:
        """True once any stop signal has arrived."""
        return bool(self.received)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once on a signal; returns ``requested``."""
        deadline = time.monotonic() + timeout
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            if self._pipe is None:
                time.sleep(min(left, 0.1))
                continue
            try:
                select.select([self._pipe[0]], [], [], left)
                os.read(self._pipe[0], 512)
            except (BlockingIOError, InterruptedError):
                pass
        return self.requested
