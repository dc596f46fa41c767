"""Retry with exponential backoff, for work that fails while a server is away and goes through
once it is back (Kafka, the registry, the projection database)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import TypeVar

T = TypeVar("T")


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    on_retry: Callable[[BaseException, float], None],
    first_s: float = 0.5,
    max_s: float = 10.0,
    give_up_s: float | None = None,
) -> T:
    """Await attempt() until it succeeds. An error `transient` accepts is reported to
    on_retry(error, delay) and tried again after the delay (doubling up to max_s); any other
    error raises, and so does a transient one once the next try would start more than give_up_s
    after the first (None: never give up). Cancellation (shutdown) ends the wait."""
    delay = first_s
    start = monotonic()
    while True:
        try:
            return await attempt()
        except Exception as e:
            if not transient(e) or _past(start, delay, give_up_s):
                raise
            on_retry(e, delay)
        await asyncio.sleep(delay)  # backoff between tries, not a wait for a condition
        delay = min(delay * 2, max_s)


def _past(start: float, delay: float, give_up_s: float | None) -> bool:
    return give_up_s is not None and monotonic() - start + delay > give_up_s
