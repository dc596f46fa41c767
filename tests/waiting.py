"""Waiting for a condition with a deadline, never a fixed sleep: the one helper every
integration test polls with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    predicate: Callable[[], Any], timeout: float = 60, what: str = "condition", step: float = 0.1
) -> Any:
    """Poll `predicate` until it returns something truthy and return that; an AssertionError
    inside it counts as "not yet". At the deadline, AssertionError naming `what` (and the last
    assertion that failed)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            value = predicate()
        except AssertionError as e:
            last_error, value = e, None
        if value:
            return value
        if time.monotonic() > deadline:
            why = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{why}")
        time.sleep(step)  # poll interval of a deadline wait
