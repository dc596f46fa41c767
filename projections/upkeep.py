"""What every projection worker does besides projecting (inline agent or plain consumer): create
the canonical topics it reads, and the intervals of its open-permit timers."""

from __future__ import annotations

from eventlog import admin
from eventlog.topics import KEEP_FOREVER

from .facts import ProjectionTopics
from .settings import ProjectionSettings

REFRESH_INTERVAL_S = 30.0
GAUGE_INTERVAL_S = 5.0


async def ensure_topics(
    settings: ProjectionSettings, topics: ProjectionTopics | None = None
) -> list[str]:
    """Create the canonical topics (default: the hub's) that do not exist yet (kept forever:
    projections are rebuilt from them); the names created. Person facts and identity decisions
    get their own partition count (one: eventlog.topics.PARTITIONS)."""
    topics = topics or ProjectionTopics.of(settings.kafka.topics)
    return await admin.ensure_topics(
        settings.kafka,
        dict.fromkeys(topics.names, KEEP_FOREVER),
        partitions=settings.topic_partitions,
        replication_factor=settings.replication_factor,
    )
