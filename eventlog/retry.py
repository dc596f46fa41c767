"""Retry with exponential backoff, for work that fails while a server is away and goes through
once it is back (Kafka, the registry, the projection database)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    on_retry: Callable[[BaseException, float], None],
    first_s: float = 0.5,
    max_s: float = 10.0,
) -> T:
    """Await attempt() until it succeeds. An error `transient` accepts is reported to
    on_retry(error, delay) and tried again after the delay (doubling up to max_s); any other
    error raises. Cancellation (shutdown) ends the wait."""
    delay = first_s
    while True:
        try:
            return await attempt()
        except Exception as e:
            if not transient(e):
                raise
            on_retry(e, delay)
        await asyncio.sleep(delay)  # backoff between tries, not a wait for a condition
        delay = min(delay * 2, max_s)
