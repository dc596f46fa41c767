"""eventlog/retry.py: transient errors are retried with a doubling, capped delay; others raise."""

from __future__ import annotations

import asyncio

import pytest

from eventlog import retry


def test_transient_errors_are_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def no_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(retry.asyncio, "sleep", no_sleep)
    failures = iter([OSError("down")] * 5)
    reported: list[tuple[str, float]] = []

    async def attempt() -> str:
        error = next(failures, None)
        if error:
            raise error
        return "ok"

    result = asyncio.run(
        retry.retrying(
            attempt,
            transient=lambda e: isinstance(e, OSError),
            on_retry=lambda e, d: reported.append((str(e), d)),
            first_s=0.5,
            max_s=3.0,
        )
    )
    assert result == "ok"
    assert slept == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert reported == [("down", d) for d in slept]


def test_an_error_that_is_not_transient_raises_at_once() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("no such schema")

    with pytest.raises(KeyError):
        asyncio.run(
            retry.retrying(
                attempt, transient=lambda e: isinstance(e, OSError), on_retry=lambda e, d: None
            )
        )
    assert calls == 1


def test_a_bounded_retry_gives_up_with_the_last_error(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]

    async def sleep(delay: float) -> None:
        now[0] += delay

    monkeypatch.setattr(retry.asyncio, "sleep", sleep)
    monkeypatch.setattr(retry, "monotonic", lambda: now[0])
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise OSError(f"still down ({calls})")

    with pytest.raises(OSError, match=r"still down \(4\)"):
        asyncio.run(
            retry.retrying(
                attempt,
                transient=lambda e: isinstance(e, OSError),
                on_retry=lambda e, d: None,
                first_s=1.0,
                max_s=4.0,
                give_up_s=8.0,
            )
        )
    assert now[0] == 7.0  # slept 1 + 2 + 4; a fourth wait of 4 s would end past 8 s
