"""The Faust app of the hub's workers and its normalize agent.

`run_worker(settings)` is what `mpphub worker` runs: topics first (Faust creates only its
internal topics, and brokers run with auto-create off), then the app with the normalize agent
(and whatever `extra` registers, e.g. the projection agent), a Prometheus endpoint, and a clean
stop on Ctrl-C / SIGTERM.

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
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faust.transport.drivers import aiokafka as faust_aiokafka
from prometheus_client import start_http_server

from schemas import catalog
from schemas.registry import IncompatibleSchemaError, RegistryClient, RegistryError

from . import metrics
from .normalize import STAGE, BatchResult, Normalizer, OutMessage, RawMessage
from .settings import WorkerSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Extra = Callable[[faust.App, WorkerSettings], Any]

RETRY_MAX_S = 10.0
TOPIC_WAIT_S = 30.0

# The canonical log is the source of truth that projections are rebuilt from: kept forever.
# Services are state by key (compacted); raw change topics are compacted like the connectors
# create them (the key is the row's primary key).
_KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1"}
_COMPACT = {"cleanup.policy": "compact"}
_DELETE = {"cleanup.policy": "delete"}


def output_topics() -> dict[str, dict[str, str]]:
    """Every topic the worker writes, with its topic configuration."""
    return {
        catalog.PERSON_TOPIC: _KEEP_FOREVER,
        catalog.PERMIT_TOPIC: _KEEP_FOREVER,
        # Kept whole, not compacted: a delete event carries only the key, and a rebuild must
        # still see the service it deletes (the live projection did).
        catalog.SERVICE_TOPIC: _KEEP_FOREVER,
        catalog.DQ_FINDINGS_TOPIC: _DELETE,
        catalog.DEADLETTER_TOPIC: _DELETE,
    }


def _bootstrap(settings: WorkerSettings) -> list[str]:
    return [h.strip() for h in settings.kafka_bootstrap.split(",") if h.strip()]


async def ensure_topics(settings: WorkerSettings, *, timeout: float = TOPIC_WAIT_S) -> list[str]:
    """Create the output topics and any raw topic that does not exist yet (partitions and
    replication from settings); wait until the broker lists them all. Returns the created ones."""
    wanted = dict(output_topics())
    for topic in settings.raw_topics:
        wanted.setdefault(topic, _COMPACT)
    admin = AIOKafkaAdminClient(bootstrap_servers=_bootstrap(settings), client_id=settings.app_id)
    try:
        await admin.start()
    except (KafkaError, OSError) as e:
        raise RuntimeError(
            f"Kafka not reachable at {settings.kafka_bootstrap} (MPPHUB_KAFKA_BOOTSTRAP):"
            f" {type(e).__name__}: {e}"
        ) from e
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                topic,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.replication_factor,
                topic_configs=config,
            )
            for topic, config in wanted.items()
            if topic not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another worker (or a connector) created one first
            log.info("created topics: %s", ", ".join(t.name for t in new))
        deadline = time.monotonic() + timeout
        while missing := set(wanted) - set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topics not created within {timeout:.0f}s on {settings.kafka_bootstrap}:"
                    f" {', '.join(sorted(missing))}"
                )
            await asyncio.sleep(0.2)  # polling the broker's metadata, not a fixed wait
        return [t.name for t in new]
    finally:
        await admin.close()


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with idempotence on (Faust enables it only inside
    transactions, i.e. with exactly_once, which the hub does not use)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class HubApp(faust.App):
    """faust.App whose producer is idempotent with acks=all."""

    def _new_producer(self) -> Any:
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def create_app(settings: WorkerSettings) -> faust.App:
    """The hub's Faust app: broker, table store and data dir from settings, web server off."""
    return HubApp(
        settings.app_id,
        broker=[f"kafka://{h}" for h in _bootstrap(settings)],
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
    app: faust.App, settings: WorkerSettings, *, create_topics: bool = True
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
    result = await _retrying(lambda: _call(normalizer.process, messages), "normalizing a batch")
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


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


async def _produce(sinks: dict[str, faust.TopicT], out: Iterable[OutMessage]) -> None:
    """Send in order and wait for every acknowledgement; any failure raises (and the caller
    sends the whole batch again: duplicates are fine downstream, a gap or reordering is not)."""
    futures = [await sinks[m.topic].send(key=m.key, value=m.value, force=True) for m in out]
    if futures:
        await asyncio.gather(*futures)


async def _retrying(make: Callable[[], Awaitable[T]], what: str) -> T:
    """Await make() until it succeeds; transient failures (registry or Kafka unreachable) are
    retried with backoff, anything else raises. Cancellation (shutdown) ends the wait."""
    delay = 0.5
    while True:
        try:
            return await make()
        except IncompatibleSchemaError:
            raise
        except (RegistryError, KafkaError, OSError) as e:
            if isinstance(e, LookupError):
                raise
            log.warning("normalize: %s failed (%s: %s); retrying", what, type(e).__name__, e)
        await asyncio.sleep(delay)  # backoff between retries
        delay = min(delay * 2, RETRY_MAX_S)


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


def run_worker(settings: WorkerSettings, extra: Iterable[Extra] = ()) -> int:
    """Run a worker until Ctrl-C / SIGTERM: topics, the app with normalize and each
    `extra(app, settings)`, the metrics endpoint. Returns the exit code (0 on a clean stop)."""
    # httpx logs every registry request at INFO: noise in a worker's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.metrics_port:
        try:
            start_http_server(settings.metrics_port, addr=settings.metrics_addr)
        except OSError as e:
            raise RuntimeError(
                f"metrics port {settings.metrics_addr}:{settings.metrics_port}"
                f" (MPPHUB_METRICS_PORT): {e.strerror or e}"
            ) from e
        log.info("metrics on http://%s:%d/metrics", settings.metrics_addr, settings.metrics_port)
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
        register(app, settings)
    worker = faust.Worker(
        app, loop=loop, loglevel=settings.log_level, redirect_stdouts=False, quiet=True
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
