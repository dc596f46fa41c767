"""The agents' delivery guards, without a broker: offsets withheld until a batch gets through,
and retries for what a retry can heal."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from schemas.registry import IncompatibleSchemaError, RegistryUnavailableError
from streams import delivery
from streams.delivery import retrying_io, withholding_acks


def events(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(acked=False)) for _ in range(n)]


def test_a_batch_that_gets_through_leaves_acks_to_faust() -> None:
    batch = events(2)

    async def work() -> None:
        await asyncio.sleep(0)

    asyncio.run(withholding_acks(batch, work()))  # type: ignore[arg-type]
    assert [e.message.acked for e in batch] == [False, False]


def test_a_batch_cancelled_midway_keeps_its_offsets_uncommitted() -> None:
    batch = events(3)

    async def main() -> None:
        gate = asyncio.Event()

        async def work() -> None:
            gate.set()
            await asyncio.sleep(3600)  # a produce that never gets its acks

        task = asyncio.ensure_future(withholding_acks(batch, work()))  # type: ignore[arg-type]
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert all(e.message.acked for e in batch)  # acked for Faust's bookkeeping only


def test_a_failed_batch_keeps_its_offsets_uncommitted() -> None:
    batch = events(1)

    async def work() -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        asyncio.run(withholding_acks(batch, work()))  # type: ignore[arg-type]
    assert batch[0].message.acked


def test_transient_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_MAX_S", 0.0)
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RegistryUnavailableError("down")
        return "ok"

    async def no_sleep(_: float) -> None:
        return None

    monkeypatch.setattr(delivery.asyncio, "sleep", no_sleep)
    assert asyncio.run(retrying_io(flaky, "test", "normalize")) == "ok"
    assert len(calls) == 3


def test_an_incompatible_schema_is_not_retried() -> None:
    async def refused() -> None:
        raise IncompatibleSchemaError("s", "no", [])

    with pytest.raises(IncompatibleSchemaError):
        asyncio.run(retrying_io(refused, "test", "normalize"))
