"""Rate limits on login and search, per user and per client address (the `limits` library's
moving window, in this process's memory: one API process per MPP). Over the limit: 429 with
Retry-After, so a script backs off and a guessing run at passwords or names stalls."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimited(Exception):
    """Too many requests: `retry_after` seconds until the next one may pass."""

    def __init__(self, what: str, retry_after: int):
        super().__init__(f"too many {what} requests; retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    """One limiter per kind of request ("login", "search"), each counted per key."""

    def __init__(self, rates: dict[str, str]):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[str, RateLimitItem] = {k: parse(v) for k, v in rates.items()}

    def hit(self, what: str, *keys: str) -> None:
        """Count one request of kind `what` against every key (a user, an address); RateLimited
        when any of them is over its limit (none is counted then)."""
        item = self._items[what]
        for key in keys:
            if not self._limiter.test(item, what, key):
                reset = self._limiter.get_window_stats(item, what, key).reset_time
                raise RateLimited(what, max(1, math.ceil(reset - time.time())))
        for key in keys:
            self._limiter.hit(item, what, key)
