"""`mpphub agency status`: per table of an agency, how far the hub has got: the change events
captured, how many the worker has not taken yet (lag of its consumer group), when the last
change was captured, the data-quality findings and the dead letters it caused."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from eventlog import KafkaSettings
from eventlog.admin import topic_partitions
from eventlog.reading import read_to_end
from schemas import catalog
from schemas.codec import CodecError, Deserializer
from schemas.registry import RegistryAuth, RegistryClient

from ..deadletter import Source, load


@dataclass(frozen=True)
class TableStatus:
    """Where one table of an agency stands."""

    table: str
    topic: str
    captured: int  # change events on its topic
    lag: int | None  # of those, not yet taken by the worker (None: the worker never committed)
    last_change: dt.datetime | None  # when the newest was captured
    findings: int
    dead_letters: int


def agency_status(
    kafka: KafkaSettings,
    registry_url: str,
    registry_auth: RegistryAuth,
    agency: str,
    tables: list[str],
    group: str,
) -> list[TableStatus]:
    """The status of each table (its topic, the hub's prefix applied); `group` is the worker's
    app id (its consumer group, the prefix applied too)."""
    topics = {t: kafka.topics.raw(agency, t) for t in tables}
    raw = asyncio.run(_topic_state(kafka, list(topics.values()), kafka.topics.group(group)))
    findings = _findings(kafka, registry_url, registry_auth, agency)
    letters = Counter(
        (d.source_table or "").lower()
        for d in load(Source(kafka, registry_url, registry_auth=registry_auth)).letters
        if d.agency == agency
    )
    out = []
    for table, topic in topics.items():
        end, committed, last = raw.get(topic, (0, None, None))
        lag = None if committed is None else max(end - committed, 0)
        out.append(TableStatus(table, topic, end, lag, last, findings[table.lower()],
                               letters[table.lower()]))  # fmt: skip
    return out


async def _topic_state(
    kafka: KafkaSettings, topics: list[str], group: str
) -> dict[str, tuple[int, int | None, dt.datetime | None]]:
    tps = await topic_partitions(kafka, topics)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        out: dict[str, tuple[int, int | None, dt.datetime | None]] = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            last = await _last_time(consumer, tp, ends[tp])
            end0, com0, last0 = out.get(tp.topic, (0, None, None))
            com = None if committed is None and com0 is None else (com0 or 0) + (committed or 0)
            newest = max((t for t in (last0, last) if t is not None), default=None)
            out[tp.topic] = (end0 + ends[tp], com, newest)
        return out
    finally:
        await consumer.stop()


async def _last_time(consumer: AIOKafkaConsumer, tp, end: int) -> dt.datetime | None:
    """The time of the newest record of a partition (a tombstone counts: it is a change)."""
    if end == 0:
        return None
    consumer.assign([tp])
    consumer.seek(tp, end - 1)
    batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
    records = batch.get(tp, [])
    if not records:
        return None
    return dt.datetime.fromtimestamp(records[-1].timestamp / 1000, dt.UTC)


def _findings(
    kafka: KafkaSettings, registry_url: str, auth: RegistryAuth, agency: str
) -> Counter[str]:
    values = asyncio.run(_values(kafka, kafka.topics.dq_findings))
    out: Counter[str] = Counter()
    if not values:
        return out
    with RegistryClient(registry_url, **auth.options()) as registry:
        decode = Deserializer(registry, reader_schema=catalog.get("data_quality_finding").schema)
        for value in values:
            try:
                f = decode(value)
            except (CodecError, TypeError):
                continue
            if f["agency"] == agency:
                out[str(f["table"]).lower()] += 1
    return out


async def _values(kafka: KafkaSettings, topic: str) -> list[bytes]:
    return [m.value async for batch in read_to_end(kafka, topic) for m in batch if m.value]
