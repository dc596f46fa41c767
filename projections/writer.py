"""The projection writer: one batch of consumed canonical events -> the read models, in one
transaction together with the consumer checkpoint of every topic partition in the batch.

That checkpoint is the idempotency record (as in eventsourcing's process applications): a
message at or below the checkpoint of its partition was applied already and is skipped, and a
crash before the commit leaves neither rows nor checkpoint behind. Within the checkpoint, rows
are idempotent on their own (source position, source time), so that at-least-once capture
upstream also repeats nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from .citizen import apply_person_facts, recompute_citizens
from .facts import (
    CONSUMER,
    DEFAULT_TOPICS,
    IDENTITY,
    PERMIT,
    PERSON,
    SERVICE,
    Message,
    ProjectionTopics,
    utc_naive,
)
from .findings import apply_findings
from .identity import apply_decisions
from .models import Checkpoint
from .permit import Observation, apply_service_events, project_permits
from .rows import write_rows
from .store import local_today

TopicPartition = tuple[str, int]


@dataclass
class BatchResult:
    """What one apply_batch did (the agent turns it into metrics after the commit)."""

    received: int = 0
    applied: int = 0  # beyond the checkpoint (the rest had been applied before)
    per_topic: Counter[str] = field(default_factory=Counter)
    source_ts: list[dt.datetime] = field(default_factory=list)  # naive UTC, applied events
    finished: list[Observation] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)  # identity decisions per kind
    reviews_changed: bool = False
    checkpoints: dict[TopicPartition, int] = field(default_factory=dict)


def apply_batch(
    session: Session,
    messages: Iterable[Message | tuple],
    *,
    topics: ProjectionTopics = DEFAULT_TOPICS,
    consumer: str = CONSUMER,
    today: dt.date | None = None,
) -> BatchResult:
    """Apply (topic, partition, offset, key, decoded value) messages and commit, checkpoints
    included, in one transaction; rolls back and re-raises on any error."""
    batch = [m if isinstance(m, Message) else Message(*m) for m in messages]
    result = BatchResult(received=len(batch))
    try:
        _apply(session, batch, topics, consumer, today or local_today(), result)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _apply(
    session: Session,
    batch: list[Message],
    topics: ProjectionTopics,
    consumer: str,
    today: dt.date,
    result: BatchResult,
) -> None:
    tps = {(m.topic, m.partition) for m in batch}
    if not tps:
        return
    done = _checkpoints(session, consumer, tps)
    last = dict(done)
    by_kind: dict[str, list[dict[str, Any]]] = {
        PERSON: [],
        PERMIT: [],
        SERVICE: [],
        IDENTITY: [],
    }
    for m in batch:
        tp = (m.topic, m.partition)
        if m.offset <= last.get(tp, -1):
            continue  # applied in an earlier batch (or twice in this one)
        last[tp] = m.offset
        result.applied += 1
        result.per_topic[m.topic] += 1
        kind = topics.kind(m.topic)
        if kind is None or not isinstance(m.value, dict):
            continue  # a tombstone, or no canonical event: nothing to project, still done
        by_kind[kind].append(m.value)
        ts = utc_naive(m.value.get("source_ts"))  # decisions: none (no source change)
        if ts is not None:
            result.source_ts.append(ts)

    # Services, records and decisions first, so permits see their SLA and applicant's person in
    # the same batch. Facts before decisions: a decision then finds its record's row.
    services = apply_service_events(session, by_kind[SERVICE])
    people = apply_person_facts(session, by_kind[PERSON])
    apply_findings(session, by_kind[PERSON])
    identity = apply_decisions(session, by_kind[IDENTITY])
    people.update(identity)
    recompute_citizens(session, people.person_ids)
    result.decisions = identity.kinds
    result.reviews_changed = identity.reviews_changed
    result.finished = project_permits(
        session, by_kind[PERMIT], today, services=services, applicant_refs=people.refs
    )
    inserts = [
        {"consumer": consumer, "topic": t, "partition": p, "offset": o}
        for (t, p), o in sorted(last.items())
        if (t, p) not in done
    ]
    updates = [
        {"consumer": consumer, "topic": t, "partition": p, "offset": o}
        for (t, p), o in sorted(last.items())
        if (t, p) in done and done[(t, p)] != o
    ]
    write_rows(session, Checkpoint, inserts, updates)
    result.checkpoints = last


def _checkpoints(
    session: Session, consumer: str, tps: set[TopicPartition]
) -> dict[TopicPartition, int]:
    """The checkpoints of `tps`, locked: a second worker given the same partitions during a
    rebalance waits here for the first one's commit, then sees its offsets."""
    # Exactly these rows (not all partitions of the topics): workers that own other
    # partitions must not wait for this one.
    rows = session.execute(
        select(Checkpoint.topic, Checkpoint.partition, Checkpoint.offset)
        .where(
            Checkpoint.consumer == consumer,
            tuple_(Checkpoint.topic, Checkpoint.partition).in_(sorted(tps)),
        )
        .order_by(Checkpoint.topic, Checkpoint.partition)
        .with_for_update()
    )
    return {(t, p): o for t, p, o in rows}


def read_checkpoints(session: Session, consumer: str = CONSUMER) -> dict[TopicPartition, int]:
    """Every checkpoint of a consumer: (topic, partition) -> last applied offset."""
    rows = session.execute(
        select(Checkpoint.topic, Checkpoint.partition, Checkpoint.offset).where(
            Checkpoint.consumer == consumer
        )
    )
    return {(t, p): o for t, p, o in rows}


def set_checkpoints(
    session: Session, offsets: dict[TopicPartition, int], consumer: str = CONSUMER
) -> None:
    """Set checkpoints (last applied offsets) and commit; what a rebuild leaves at the end."""
    try:
        done = _checkpoints(session, consumer, set(offsets))
        rows = [
            {"consumer": consumer, "topic": t, "partition": p, "offset": o}
            for (t, p), o in sorted(offsets.items())
        ]
        write_rows(
            session,
            Checkpoint,
            [r for r in rows if (r["topic"], r["partition"]) not in done],
            [r for r in rows if (r["topic"], r["partition"]) in done],
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
