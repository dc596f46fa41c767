"""The Faust app of the hub's workers, its normalize agent, and run_worker (normalize and the
identity resolver, streams/identity.py).

Delivery is at-least-once: a batch's input offsets are acknowledged only after every output of
the batch is acknowledged by Kafka (acks=all, idempotent producer). Faust's exactly_once mode is
not used (open duplicate bugs); projections make the effect exactly-once. The identity log alone
is written in transactions, to fence a stale resolver (streams/fencing.py): the worker reads
committed records only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import ProducerT

from domain.tokens import Tokens
from eventlog import KafkaSettings, admin, topics
from eventlog.committed import CommittedReadingApp
from eventlog.topics import TopicConfig
from schemas.registry import RegistryClient

from . import metrics
from .delivery import (
    as_awaitable,
    raw_topic,
    retrying_io,
    subjects_registered,
    withholding_acks,
)
from .identity import register_identity
from .normalize import STAGE, BatchResult, Normalizer, OutMessage, RawMessage
from .settings import StreamSettings

if TYPE_CHECKING:
    from domain.matching.resolver import Scorer

log = logging.getLogger(__name__)

Extra = Callable[[faust.App], Any]
# Events each agent may have waiting (raw bytes: about 1 KB each).
STREAM_BUFFER_MAXSIZE = 32768


def output_topics(settings: StreamSettings) -> dict[str, TopicConfig]:
    """Every topic the worker writes, with its topic configuration."""
    return settings.kafka.topics.stream_outputs


def raw_topics(settings: StreamSettings) -> list[str]:
    """The change topics the worker reads, by their names on the cluster."""
    return [settings.kafka.topics.name(t) for t in settings.raw_topics]


async def ensure_topics(settings: StreamSettings) -> list[str]:
    """Create the output topics, the review commands' topic and any raw topic that does not
    exist yet (partitions and replication from settings, but for topics with a count of their
    own); wait until the broker lists them all. Returns the created ones. The configs of its
    own topics are set back to the hub's (a raw topic's config is its connector's)."""
    own = output_topics(settings) | settings.kafka.topics.stream_commands
    wanted = dict(own)
    for topic in raw_topics(settings):
        wanted.setdefault(topic, topics.COMPACT)
    return await admin.ensure_topics(
        settings.kafka,
        wanted,
        partitions=settings.topic_partitions,
        replication_factor=settings.replication_factor,
        reconcile=own,
    )


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with idempotence on (Faust enables it only inside
    transactions, i.e. with exactly_once, which the hub does not use)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class HubApp(CommittedReadingApp):
    """faust.App whose producer is idempotent with acks=all and whose consumer reads committed
    records only."""

    def _new_producer(self) -> Any:
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def broker_credentials(kafka: KafkaSettings) -> Any:
    """The Faust form of the hub's Kafka security settings (None for plaintext)."""
    return kafka.faust_credentials()


def create_app(settings: StreamSettings, group_suffix: str = "") -> faust.App:
    """The hub's Faust app: broker, table store and data dir from settings, web server off; its
    consumer group is the app id's (+ `group_suffix`: a stage run in a process of its own)."""
    return HubApp(
        settings.kafka.topics.group(settings.app_id + group_suffix),
        broker=[f"kafka://{h}" for h in settings.kafka.servers],
        broker_credentials=broker_credentials(settings.kafka),
        store=settings.store,
        datadir=settings.data_dir,
        autodiscover=False,
        web_enabled=False,
        producer_acks=-1,
        # Record batches of a normalize batch's outputs: a few ms of linger fills them, lz4
        # shrinks them (still acks=all and idempotent: _IdempotentProducer).
        producer_linger=0.005,
        producer_compression_type="lz4",
        producer_max_batch_size=256 * 1024,
        # Faust's 4,096: a full queue of one agent stops the one consumer's delivery to all of
        # them (normalize, identity, the projection) until it drains; larger, they overlap.
        stream_buffer_maxsize=STREAM_BUFFER_MAXSIZE,
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


def register_normalize(
    app: faust.App, settings: StreamSettings, tokens: Tokens, *, create_topics: bool = True
) -> Any:
    """Define the normalize agent over settings.raw_topics on `app`; returns the agent.
    `tokens` key the person facts (under the hub's secret).

    With `create_topics` (default) the app creates the topics normalize needs when it first
    starts, before its consumer subscribes (run_worker does that itself, earlier)."""
    source = raw_topic(app, *raw_topics(settings))
    metrics.DEAD_LETTERS.labels(stage=STAGE)  # exported as 0 before the first dead letter
    for topic in raw_topics(settings):
        metrics.EVENTS.labels(topic=topic)

    @app.agent(source, name="mpphub.normalize")
    async def normalize(stream: faust.StreamT) -> None:
        registry = RegistryClient(settings.registry_url, **settings.registry_auth.options())
        normalizer = Normalizer(registry, tokens, topics=settings.kafka.topics)
        if not await subjects_registered(app, normalizer.ensure_subjects, STAGE):
            return
        log.info("normalize: reading %s", ", ".join(raw_topics(settings)))
        producer = await app.maybe_start_producer()
        batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)
        async for events in batches:
            try:
                await withholding_acks(events, normalize_batch(normalizer, producer, events))
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
    normalizer: Normalizer, producer: ProducerT, events: Sequence[faust.EventT]
) -> BatchResult:
    """Decode, map and encode a batch, produce it and wait for every ack; update metrics."""
    started = time.perf_counter()
    messages = [
        RawMessage(m.topic, m.partition, m.offset, m.key, m.value)
        for m in (e.message for e in events)
    ]
    for schema_id in normalizer.unloaded_schema_ids(messages):
        await retrying_io(
            lambda sid=schema_id: asyncio.to_thread(normalizer.load_schema, sid),
            f"fetching schema id {schema_id}",
            STAGE,
        )
    result = await retrying_io(
        lambda: as_awaitable(normalizer.process, messages), "normalizing a batch", STAGE
    )
    await retrying_io(lambda: _produce(producer, result.out), "producing a batch", STAGE)
    for topic, n in result.events.items():
        metrics.EVENTS.labels(topic=topic).inc(n)
    if result.dead_letters:
        metrics.DEAD_LETTERS.labels(stage=STAGE).inc(result.dead_letters)
        log.warning("normalize: %d message(s) dead-lettered", result.dead_letters)
    for (agency, rule), n in result.findings.items():
        metrics.DQ_FINDINGS.labels(agency=agency, rule=rule).inc(n)
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    return result


async def _produce(producer: ProducerT, out: Iterable[OutMessage]) -> None:
    """Send in order and wait for every acknowledgement; any failure raises (and the caller
    sends the whole batch again: duplicates are fine downstream, a gap or reordering is not).

    Straight to the app's producer (aiokafka's accumulator: record batches per partition,
    acks=all, idempotent), not through Faust's Topic.send, whose per-message bookkeeping
    (serializers, sensors, pending-message callbacks) cost more than the encoding itself.
    Each send is appended before the next, so a key's messages keep their order."""
    futures = [
        await producer.send(m.topic, m.key, m.value, None, None, list(m.headers) or None)
        for m in out
    ]
    if futures:
        await asyncio.gather(*futures)


class BoundedStopWorker(faust.Worker):
    """A Faust worker whose stop on a signal is graceful for `stop_timeout_s`, then ends the
    process (exit 1, one line on stderr): Faust waits without limit on commits and flushes to
    brokers that may be gone, and a worker that outlives its demo holds its ports."""

    def __init__(
        self,
        app: faust.App,
        stop_timeout_s: float,
        on_stop: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._stop_timeout_s = stop_timeout_s
        self._on_stop = on_stop
        self._deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signal: Any) -> None:
        if self._deadline is None:
            if self._on_stop is not None:
                self._on_stop()  # e.g. the projection child stops alongside, not after
            self._deadline = threading.Timer(self._stop_timeout_s, self._stop_overdue)
            self._deadline.daemon = True
            self._deadline.start()
        super()._schedule_shutdown(signal)

    def _stop_overdue(self) -> None:
        sys.stderr.write(
            f"worker: graceful stop took longer than {self._stop_timeout_s:g} s "
            "(MPPHUB_WORKER_STOP_TIMEOUT_S; brokers unreachable?): exiting now; "
            "uncommitted work is redone on the next start\n"
        )
        sys.stderr.flush()
        os._exit(1)


def run_worker(
    settings: StreamSettings,
    tokens: Tokens,
    extra: Iterable[Extra] = (),
    *,
    model: Scorer | None = None,
    on_stop: Callable[[], None] | None = None,
    normalize: bool = True,
    identity: bool = True,
    group_suffix: str = "",
) -> int:
    """Run a worker until Ctrl-C / SIGTERM: topics, the app with normalize, the identity
    resolver (`model`, default the shipped MatchModel) and each `extra(app)`; `on_stop` is
    called once when a signal starts the stop. Returns the exit code (0 on a clean stop).
    Without `normalize` or `identity` that stage is left to another process, which consumes
    in a group of its own (`group_suffix` names it: ops/stage_process.py)."""
    # httpx logs every registry request at INFO: noise in a worker's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(ensure_topics(settings))
    except BaseException:
        loop.close()
        raise
    app = create_app(settings, group_suffix)
    if normalize:
        register_normalize(app, settings, tokens, create_topics=False)
    if identity:
        register_identity(app, settings, tokens, model)
    for register in extra:
        register(app)
    worker = BoundedStopWorker(
        app,
        settings.stop_timeout_s,
        on_stop=on_stop,
        loop=loop,
        loglevel=settings.log_level,
        redirect_stdouts=False,
        quiet=True,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
