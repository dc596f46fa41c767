"""How the worker's agents deliver: retry while Kafka or the registry is away, and keep a batch's
input offsets uncommitted until every output of the batch is acknowledged (at-least-once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
from aiokafka.errors import KafkaError

from eventlog.retry import retrying
from schemas.registry import IncompatibleSchemaError, RegistryError

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_MAX_S = 10.0


def transient(error: BaseException) -> bool:
    """Registry or Kafka away: retry. A refused schema or a missing id: no retry heals it."""
    if isinstance(error, IncompatibleSchemaError | LookupError):
        return False
    return isinstance(error, RegistryError | KafkaError | OSError)


async def retrying_io(make: Callable[[], Awaitable[T]], what: str, stage: str) -> T:
    """Await make() until it succeeds; transient failures (registry or Kafka unreachable) are
    retried with backoff, anything else raises. Cancellation (shutdown) ends the wait."""

    def report(e: BaseException, _delay: float) -> None:
        log.warning("%s: %s failed (%s: %s); retrying", stage, what, type(e).__name__, e)

    return await retrying(make, transient=transient, on_retry=report, max_s=RETRY_MAX_S)


async def subjects_registered(
    app: faust.App, ensure_subjects: Callable[[], Any], stage: str
) -> bool:
    """Register a stage's schemas, retrying while the registry is away; a schema the registry
    refuses stops the worker (no data can be written) and returns False."""
    try:
        await retrying_io(lambda: asyncio.to_thread(ensure_subjects), "registering schemas", stage)
    except IncompatibleSchemaError as e:
        log.critical("%s cannot start: %s", stage, e)
        await app.crash(e)
        return False
    return True


async def as_awaitable(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) as an awaitable, for retrying_io."""
    return fn(*args)


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    """A topic (or several, as one channel) of bytes as they are on the wire."""
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


async def withholding_acks(events: Sequence[faust.EventT], work: Awaitable[Any]) -> None:
    """Run one batch; if it does not get through (the worker stops, or it fails), keep its
    offsets from being committed.

    Faust acknowledges a take_events() batch in the generator's `finally`, which also runs when
    the agent is cancelled or fails mid-batch, before the outputs are produced: that would
    commit offsets of messages that never made it. Marking their messages acked without telling
    the consumer leaves a gap, and Faust commits only up to the first gap: they are read again
    after a restart."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except BaseException:
        if not task.done():
            task.cancel()
        for event in events:
            event.message.acked = True
        raise
