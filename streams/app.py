"""The Faust app of the hub's workers and its normalize agent.

Delivery is at-least-once: a batch's input offsets are acknowledged only after every output of
the batch is acknowledged by Kafka (acks=all, idempotent producer). Faust's exactly_once mode is
not used (open duplicate bugs); projections make the effect exactly-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import faust
from aiokafka.errors import KafkaError
from faust.transport.drivers import aiokafka as faust_aiokafka

from eventlog import admin, topics
from eventlog.retry import retrying
from eventlog.topics import TopicConfig
from schemas.registry import IncompatibleSchemaError, RegistryClient, RegistryError

from . import metrics
from .normalize import STAGE, BatchResult, Normalizer, OutMessage, RawMessage
from .settings import StreamSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Extra = Callable[[faust.App], Any]

RETRY_MAX_S = 10.0


def output_topics() -> dict[str, TopicConfig]:
    """Every topic the worker writes, with its topic configuration."""
    return dict(topics.STREAM_OUTPUTS)


async def ensure_topics(settings: StreamSettings) -> list[str]:
    """Create the output topics and any raw topic that does not exist yet (partitions and
    replication from settings); wait until the broker lists them all. Returns the created ones."""
    wanted = output_topics()
    for topic in settings.raw_topics:
        wanted.setdefault(topic, topics.COMPACT)
    return await admin.ensure_topics(
        settings.kafka,
        wanted,
        partitions=settings.topic_partitions,
        replication_factor=settings.replication_factor,
    )


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with idempotence on (Faust enables it only inside
    transactions, i.e. with exactly_once, which the hub does not use)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class HubApp(faust.App):
    """faust.App whose producer is idempotent with acks=all."""

    def _new_producer(self) -> Any:
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def create_app(settings: StreamSettings) -> faust.App:
    """The hub's Faust app: broker, table store and data dir from settings, web server off."""
    return HubApp(
        settings.app_id,
        broker=[f"kafka://{h}" for h in settings.kafka.servers],
        store=settings.store,
        datadir=settings.data_dir,
        autodiscover=False,
        web_enabled=False,
        producer_acks=-1,
        # Faust's 60 s default keeps a restarted worker (after a crash) idle for a minute
        # while the broker waits for the dead member's session to expire.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
    )


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def register_normalize(
    app: faust.App, settings: StreamSettings, *, create_topics: bool = True
) -> Any:
    """Define the normalize agent over settings.raw_topics on `app`; returns the agent.

    With `create_topics` (default) the app creates the topics normalize needs when it first
    starts, before its consumer subscribes (run_worker does that itself, earlier)."""
    source = _raw_topic(app, *settings.raw_topics)
    sinks = {topic: _raw_topic(app, topic) for topic in output_topics()}
    metrics.DEAD_LETTERS.labels(stage=STAGE)  # exported as 0 before the first dead letter
    for topic in settings.raw_topics:
        metrics.EVENTS.labels(topic=topic)

    @app.agent(source, name="mpphub.normalize")
    async def normalize(stream: faust.StreamT) -> None:
        normalizer = Normalizer(RegistryClient(settings.registry_url))
        try:
            await _retrying(
                lambda: asyncio.to_thread(normalizer.ensure_subjects), "registering schemas"
            )
        except IncompatibleSchemaError as e:
            log.critical("normalize cannot start: %s", e)
            await app.crash(e)
            return
        log.info("normalize: reading %s", ", ".join(settings.raw_topics))
        batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)
        async for events in batches:
            try:
                await _withholding_acks(events, normalize_batch(normalizer, sinks, events))
            except Exception as e:  # noqa: BLE001 - not bad data (that is dead-lettered): a bug
                log.critical("normalize stopped the worker: %s", type(e).__name__, exc_info=True)
                await app.crash(e)
                return

    if create_topics:
        first_start = app.on_first_start

        async def on_first_start() -> None:
            await first_start()
            await ensure_topics(settings)

        app.on_first_start = on_first_start  # type: ignore[method-assign]
    return normalize


async def normalize_batch(
    normalizer: Normalizer, sinks: dict[str, faust.TopicT], events: Sequence[faust.EventT]
) -> BatchResult:
    """Decode, map and encode a batch, produce it and wait for every ack; update metrics."""
    started = time.perf_counter()
    messages = [
        RawMessage(m.topic, m.partition, m.offset, m.key, m.value)
        for m in (e.message for e in events)
    ]
    for schema_id in normalizer.unloaded_schema_ids(messages):
        await _retrying(
            lambda sid=schema_id: asyncio.to_thread(normalizer.load_schema, sid),
            f"fetching schema id {schema_id}",
        )
    result = await _retrying(
        lambda: _as_awaitable(normalizer.process, messages), "normalizing a batch"
    )
    await _retrying(lambda: _produce(sinks, result.out), "producing a batch")
    for topic, n in result.events.items():
        metrics.EVENTS.labels(topic=topic).inc(n)
    if result.dead_letters:
        metrics.DEAD_LETTERS.labels(stage=STAGE).inc(result.dead_letters)
        log.warning("normalize: %d message(s) dead-lettered", result.dead_letters)
    for (agency, rule), n in result.findings.items():
        metrics.DQ_FINDINGS.labels(agency=agency, rule=rule).inc(n)
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    return result


async def _as_awaitable(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


async def _produce(sinks: dict[str, faust.TopicT], out: Iterable[OutMessage]) -> None:
    """Send in order and wait for every acknowledgement; any failure raises (and the caller
    sends the whole batch again: duplicates are fine downstream, a gap or reordering is not)."""
    futures = [await sinks[m.topic].send(key=m.key, value=m.value, force=True) for m in out]
    if futures:
        await asyncio.gather(*futures)


def _transient(error: BaseException) -> bool:
    """Registry or Kafka away: retry. A refused schema or a missing id: no retry heals it."""
    if isinstance(error, IncompatibleSchemaError | LookupError):
        return False
    return isinstance(error, RegistryError | KafkaError | OSError)


async def _retrying(make: Callable[[], Awaitable[T]], what: str) -> T:
    """Await make() until it succeeds; transient failures (registry or Kafka unreachable) are
    retried with backoff, anything else raises. Cancellation (shutdown) ends the wait."""

    def report(e: BaseException, _delay: float) -> None:
        log.warning("normalize: %s failed (%s: %s); retrying", what, type(e).__name__, e)

    return await retrying(make, transient=_transient, on_retry=report, max_s=RETRY_MAX_S)


async def _withholding_acks(events: Sequence[faust.EventT], work: Awaitable[Any]) -> None:
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


def run_worker(settings: StreamSettings, extra: Iterable[Extra] = ()) -> int:
    """Run a worker until Ctrl-C / SIGTERM: topics, the app with normalize and each
    `extra(app)`. Returns the exit code (0 on a clean stop)."""
    # httpx logs every registry request at INFO: noise in a worker's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(ensure_topics(settings))
    except BaseException:
        loop.close()
        raise
    app = create_app(settings)
    register_normalize(app, settings, create_topics=False)
    for register in extra:
        register(app)
    worker = faust.Worker(
        app, loop=loop, loglevel=settings.log_level, redirect_stdouts=False, quiet=True
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
