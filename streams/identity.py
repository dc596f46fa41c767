"""The identity agent: one resolver in the worker, over one ordered stream of person facts and
supervisors' review commands (two single-partition topics, one Faust channel, so one worker holds
both), deciding into mpp.canonical.identity.

Its index is recovered by replaying the decision log to its end into a fresh resolver, before
the first batch and after every reassignment (another worker may have decided meanwhile), not
kept in a Faust table: the log is already the durable, ordered truth, and a changelog would be a
second copy that can disagree with it. Each input's decisions are written as one record batch
with the input's offset (streams/resolution.py), so a replay skips what is decided.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import faust
from aiokafka import AIOKafkaProducer

from domain.matching.decisions import DecisionKind
from domain.tokens import Tokens
from eventlog.heap import SETTLER
from eventlog.reading import read_to_end
from eventlog.settings import KafkaSettings
from schemas.codec import CodecError
from schemas.registry import RegistryClient

from . import metrics
from .delivery import raw_topic, retrying_io, subjects_registered, withholding_acks
from .fencing import Fenced, IdentityWriter
from .identity_records import kafka_ms
from .resolution import STAGE, IdentityResult, IdentityStep
from .settings import StreamSettings
from .wire import RawMessage

if TYPE_CHECKING:
    from domain.matching.resolver import Scorer

log = logging.getLogger(__name__)

# A record batch (one or more inputs' decisions, never part of one) stays under the broker's
# default message size limit (1 MiB).
BATCH_BYTES = 512 * 1024
_RECORD_OVERHEAD = 64  # bytes a record adds in a batch beyond its key, value and headers


def register_identity(
    app: faust.App, settings: StreamSettings, tokens: Tokens, model: Scorer | None = None
) -> Any:
    """Define the identity agent on `app` (topics are created by run_worker); returns it.
    `model` defaults to the shipped MatchModel; `tokens` mint the person ids."""
    topics = settings.kafka.topics
    inputs = (topics.person, topics.identity_reviews)
    source = raw_topic(app, *inputs)
    metrics.DEAD_LETTERS.labels(stage=STAGE)  # exported as 0 before the first dead letter
    for kind in DecisionKind:
        metrics.IDENTITY_DECISIONS.labels(kind=kind.value)
    steps: list[IdentityStep] = []
    writer = IdentityWriter(
        settings.kafka,
        settings.kafka.topics.group(f"{settings.app_id}.identity"),
        max_batch_size=BATCH_BYTES,
    )

    turn = asyncio.Lock()  # the writer and the resolver: one batch (or warm-up) at a time

    async def warm_up() -> None:
        # Start the writer (fencing the last one) and replay the log now, while the first
        # batch is still being fetched: its coordinator round trips and the replay's own
        # consumer (about 2 s on the bench) are then off the first batch's path.
        try:
            async with turn:
                await writer.current()
                for step in steps:
                    if step.stale:
                        await replay(step, settings.kafka)
        except Exception as e:  # noqa: BLE001 - the first batch does it again, with retries
            log.info("identity: warm-up left to the first batch (%s)", type(e).__name__)

    async def on_assigned(_sender: Any, assigned: Any, **_: Any) -> None:
        if any(tp.topic in inputs for tp in assigned):
            for step in steps:
                step.stale = True  # another worker may have decided since we last held them
            writer.renew()  # ... and this worker is the log's writer now: fence the last one
            warming.add(task := asyncio.ensure_future(warm_up()))
            task.add_done_callback(warming.discard)

    warming: set[asyncio.Future[None]] = set()

    app.on_partitions_assigned.connect(on_assigned)

    @app.agent(source, name="mpphub.identity")
    async def identity(stream: faust.StreamT) -> None:
        scorer = model if model is not None else await asyncio.to_thread(_default_model)
        step = IdentityStep(
            RegistryClient(settings.registry_url, **settings.registry_auth.options()),
            tokens,
            scorer,
            topics=topics,
        )
        steps.append(step)
        if not await subjects_registered(app, step.ensure_subjects, STAGE):
            return
        log.info("identity: reading %s and %s", *inputs)
        try:
            batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)
            async for events in batches:
                work = identity_batch(step, writer, settings.kafka, events, turn)
                try:
                    await withholding_acks(events, work)
                except Fenced:
                    # Its offsets stay uncommitted: whoever holds the inputs now decides them.
                    log.warning(
                        "identity: fenced by the worker that holds the inputs now;"
                        " a batch of %d left to it",
                        len(events),
                    )
                except Exception as e:  # noqa: BLE001 - bad input is dead-lettered: this is a bug
                    log.critical("identity stopped the worker: %s", type(e).__name__, exc_info=True)
                    await app.crash(e)
                    return
        finally:
            await writer.close()

    return identity


def _default_model() -> Scorer:
    from domain.matching.model import MatchModel

    return MatchModel.load()


async def identity_batch(
    step: IdentityStep,
    writer: IdentityWriter,
    kafka: KafkaSettings,
    events: Sequence[faust.EventT],
    turn: asyncio.Lock | None = None,
) -> None:
    """Resolve a batch, produce its decisions in one transaction and wait for its commit;
    update metrics. A failed attempt leaves the resolver stale: it is rebuilt from the log and
    the batch tried again (the log says which inputs are decided: none is decided twice).
    Fenced when a newer writer took the log over (streams/fencing.py). Each attempt holds
    `turn` (shared with the warm-up at assignment), so no two use the writer at once."""
    turn = turn or asyncio.Lock()
    pending = [
        RawMessage(m.topic, m.partition, m.offset, m.key, m.value, kafka_ms(m.timestamp))
        for m in (e.message for e in events)
    ]
    while pending:

        async def attempt(messages: list[RawMessage] = pending) -> IdentityResult:
            async with turn:
                try:
                    producer = await writer.current()  # a new one fences the previous writer
                    if step.stale:
                        await replay(step, kafka)  # ... and then sees all it had committed
                    await _load_schemas(step, [m.value for m in messages])
                    result = step.process(messages)
                    async with producer.transaction():
                        await produce(producer, result)
                    return result
                except BaseException as e:
                    step.stale = True  # the resolver may hold decisions the log does not
                    writer.check(e)  # Fenced: no retry by this worker can write
                    raise

        result = await retrying_io(attempt, "resolving a batch", STAGE)
        _count(step, result)
        pending = result.rest
    SETTLER.after_batch(len(step.resolver))  # eventlog/heap.py


async def replay(step: IdentityStep, kafka: KafkaSettings) -> None:
    """Rebuild the resolver from the decision log, from its beginning to its end now."""
    step.reset()
    log_topic = step.topics.identity
    n = unreadable = 0
    # Committed decisions only: a fenced writer's aborted batch is in the log, marked aborted.
    async for records in read_to_end(kafka, log_topic, isolation_level="read_committed"):
        await _load_schemas(step, [r.value for r in records])
        for r in records:
            try:
                step.replay(r.value, r.headers)
                n += 1
            except (CodecError, ValueError, KeyError, TypeError) as e:
                unreadable += 1
                log.warning(
                    "identity: decision at %s/%d/%d unreadable (%s); skipped",
                    r.topic,
                    r.partition,
                    r.offset,
                    type(e).__name__,
                )
    stats = step.resolver.stats
    log.info(
        "identity: replayed %d decisions (%d unreadable): %d records, %d persons",
        n,
        unreadable,
        stats["records"],
        stats["persons"],
    )


async def _load_schemas(step: IdentityStep, values: list[bytes | None]) -> None:
    for schema_id in step.wire.unloaded_schema_ids(values):
        await retrying_io(
            lambda sid=schema_id: asyncio.to_thread(step.wire.load_schema, sid),
            f"fetching schema id {schema_id}",
            STAGE,
        )


async def produce(producer: AIOKafkaProducer, result: IdentityResult) -> None:
    """Send every decision group (each whole in one record batch, in order), then the findings
    and dead letters, and wait for every acknowledgement (inside the caller's transaction)."""
    futures = []
    batch = None
    topic = ""
    for group in result.groups:
        topic = group[0].topic  # the identity log's name
        size = sum(len(m.key or b"") + len(m.value) + _RECORD_OVERHEAD for m in group)
        if batch is not None and batch.size() + size > BATCH_BYTES:
            futures.append(await producer.send_batch(batch, topic, partition=0))
            batch = None
        if batch is None:
            batch = producer.create_batch()
        for m in group:
            headers = list(m.headers)  # aiokafka's batch takes a list only
            if batch.append(timestamp=None, key=m.key, value=m.value, headers=headers) is None:
                raise RuntimeError("an input's identity decisions do not fit in one record batch")
    if batch is not None:
        futures.append(await producer.send_batch(batch, topic, partition=0))
    for m in result.other:
        futures.append(await producer.send(m.topic, m.value, key=m.key))
    if futures:
        await asyncio.gather(*futures)


def _count(step: IdentityStep, result: IdentityResult) -> None:
    for kind, n in result.decisions.items():
        metrics.IDENTITY_DECISIONS.labels(kind=kind).inc(n)
    for seconds in result.seconds:
        metrics.IDENTITY_RESOLVE_SECONDS.observe(seconds)
    metrics.IDENTITY_CANDIDATES.inc(result.candidates)
    if result.dead_letters:
        metrics.DEAD_LETTERS.labels(stage=STAGE).inc(result.dead_letters)
        log.warning("identity: %d input(s) dead-lettered", result.dead_letters)
    for (agency, rule), n in result.findings.items():
        metrics.DQ_FINDINGS.labels(agency=agency, rule=rule).inc(n)
    stats = step.resolver.stats
    metrics.IDENTITY_PERSONS.set(stats["persons"])
    metrics.IDENTITY_REVIEW_QUEUE.set(stats["open_reviews"])
