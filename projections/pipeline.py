"""Pipeline health for operations, read from Kafka by the API process (eventlog helpers only;
the same figures `mpphub agency status` and `mpphub deadletter` give, without importing ops):
per source table (a raw change topic mpp.<agency>.<table>) the changes captured, the worker's
lag on them and when the last change was captured; the dead letters by agency, table and
reason; and how far the projections have applied the canonical topics (checkpoints in the
projection database against the topics' end offsets)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorNotAvailableError, NotCoordinatorError
from sqlalchemy.orm import Session

from eventlog import KafkaSettings
from eventlog.admin import topic_partitions
from eventlog.reading import read_to_end
from eventlog.retry import retrying
from schemas import catalog
from schemas.codec import CodecError, Deserializer
from schemas.registry import RegistryAuth, RegistryClient

from .facts import CONSUMER
from .writer import read_checkpoints

LAST_RECORD_WAIT_MS = 3000
# A group's coordinator can be briefly unknown (the broker creating __consumer_offsets on a new
# cluster, a coordinator moving after a broker restart): asked again for this long, then 503.
COORDINATOR_WAIT_S = 5.0
HUB_NAMESPACES = frozenset({"hub", "canonical"})  # mpp.hub.deadletter, mpp.canonical.person
REASON_MAX = 160  # characters of a dead letter's reason shown (they group by it)


@dataclass(frozen=True)
class TableHealth:
    """One source table: captured changes, the worker's lag on them, the last change seen."""

    agency: str
    table: str
    topic: str
    captured: int
    lag: int | None  # None: the worker's group never committed on this topic
    last_change: dt.datetime | None  # when the newest change was written (UTC)


@dataclass(frozen=True)
class Letters:
    """Dead letters of one agency, table and reason."""

    agency: str
    table: str
    reason: str
    count: int
    last: dt.datetime | None


@dataclass
class PipelineHealth:
    """What the pipeline health page shows."""

    tables: list[TableHealth] = field(default_factory=list)
    letters: list[Letters] = field(default_factory=list)
    unreadable_letters: int = 0
    # topic -> end (None: not on the cluster), applied
    projection: dict[str, tuple[int | None, int]] = field(default_factory=dict)


async def table_health(kafka: KafkaSettings, group: str) -> list[TableHealth]:
    """Every raw change topic of this hub with its end, the worker group's lag and last time.
    A few calls for all partitions at once (a cluster holds many source tables)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        raw = sorted(t for t in await consumer.topics() if _is_source(kafka, t))
        # topics() reads a metadata snapshot the consumer keeps no partitions of: ask the admin.
        tps = await topic_partitions(kafka, raw)
        ends = await consumer.end_offsets(tps) if tps else {}
        committed = await _committed(kafka, group)
        last = await _last_times(consumer, ends)
    finally:
        await consumer.stop()
    out = []
    for topic in raw:
        mine = [tp for tp in tps if tp.topic == topic]
        taken = [committed[tp] for tp in mine if tp in committed]
        lag = sum(max(ends[tp] - committed.get(tp, 0), 0) for tp in mine) if taken else None
        newest = max((last[tp] for tp in mine if tp in last), default=None)
        agency, table = kafka.topics.agency_table(topic)
        out.append(TableHealth(agency or "", table or "", topic,
                               sum(ends[tp] for tp in mine), lag, newest))  # fmt: skip
    return out


async def _committed(kafka: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, all partitions in one call."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        found = await retrying(
            lambda: admin.list_consumer_group_offsets(group),
            transient=lambda e: isinstance(e, CoordinatorNotAvailableError | NotCoordinatorError),
            on_retry=lambda e, delay: None,
            first_s=0.25,
            max_s=1.0,
            give_up_s=COORDINATOR_WAIT_S,
        )
    finally:
        await admin.close()
    return {tp: m.offset for tp, m in found.items() if m is not None and m.offset >= 0}


async def _last_times(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
) -> dict[TopicPartition, dt.datetime]:
    """The time of the newest record of each non-empty partition (a tombstone counts)."""
    wanted = {tp: end for tp, end in ends.items() if end > 0}
    if not wanted:
        return {}
    consumer.assign(list(wanted))
    for tp, end in wanted.items():
        consumer.seek(tp, end - 1)
    out: dict[TopicPartition, dt.datetime] = {}
    deadline = asyncio.get_running_loop().time() + LAST_RECORD_WAIT_MS / 1000
    while len(out) < len(wanted) and asyncio.get_running_loop().time() < deadline:
        for tp, records in (await consumer.getmany(timeout_ms=500)).items():
            if records:
                out[tp] = dt.datetime.fromtimestamp(records[-1].timestamp / 1000, dt.UTC)
                consumer.pause(tp)
    return out


def _is_source(kafka: KafkaSettings, topic: str) -> bool:
    """A source table's change topic: mpp.<agency>.<table>, not the hub's own mpp.hub.* and
    mpp.canonical.* (named in the same namespace)."""
    agency, _ = kafka.topics.agency_table(topic)
    return agency is not None and agency not in HUB_NAMESPACES


async def dead_letters(
    kafka: KafkaSettings, registry_url: str, auth: RegistryAuth
) -> tuple[list[Letters], int]:
    """The dead letters counted by agency, table and reason (most first), and how many could
    not be read at all."""
    values = [m.value async for b in read_to_end(kafka, kafka.topics.deadletter) for m in b]
    counts: Counter[tuple[str, str, str]] = Counter()
    last: dict[tuple[str, str, str], dt.datetime] = {}
    bad = 0
    if not values:
        return [], 0
    with RegistryClient(registry_url, **auth.options()) as registry:
        decode = Deserializer(registry, reader_schema=catalog.get("dead_letter").schema)
        for value in values:
            try:
                d = decode(value)
            except (CodecError, TypeError):
                bad += 1
                continue
            key = (d.get("agency") or "-", d.get("source_table") or "-", _reason(d))
            counts[key] += 1
            ts = d.get("ts")
            if isinstance(ts, dt.datetime) and (key not in last or ts > last[key]):
                last[key] = ts
    letters = [Letters(*k, n, last.get(k)) for k, n in counts.most_common()]
    return letters, bad


def _reason(d: dict) -> str:
    text = str(d.get("reason") or d.get("error_type") or "-")
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


async def projection_progress(
    kafka: KafkaSettings, session: Session, consumer: str = CONSUMER
) -> dict[str, tuple[int | None, int]]:
    """Per canonical topic: its end offset (None: the topic is not on this cluster any more, e.g.
    deleted or renamed; asking its end would wait for metadata that never comes) and the
    offsets the projection has applied."""
    done = read_checkpoints(session, consumer)
    topics = sorted({t for t, _ in done})
    if not topics:
        return {}
    present = await topic_partitions(kafka, topics)
    ends: dict[TopicPartition, int] = {}
    if present:
        probe = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
        await probe.start()
        try:
            ends = await probe.end_offsets(present)
        finally:
            await probe.stop()
    out: dict[str, tuple[int | None, int]] = {}
    for (topic, partition), offset in sorted(done.items()):
        end, applied = out.get(topic, (0, 0))
        tp_end = ends.get(TopicPartition(topic, partition))
        end = None if end is None or tp_end is None else end + tp_end
        out[topic] = (end, applied + offset + 1)
    return out


def pipeline_health(
    kafka: KafkaSettings,
    registry_url: str,
    auth: RegistryAuth,
    session: Session,
    worker_group: str,
) -> PipelineHealth:
    """Everything the page shows, read now (blocking: run it off the event loop)."""

    async def read() -> PipelineHealth:
        tables = await table_health(kafka, kafka.topics.group(worker_group))
        letters, bad = await dead_letters(kafka, registry_url, auth)
        progress = await projection_progress(kafka, session)
        return PipelineHealth(tables, letters, bad, progress)

    return asyncio.run(read())
