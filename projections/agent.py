"""The projection as a Faust agent: the writer agent over the four canonical topics, the
timers that keep open permits and their gauges current, and the projection-only worker.

The agent acks a batch only after the Projector committed it, so Kafka's committed offsets may
lag the database (kill -9) but never run ahead of it. Faust's exactly_once is not used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP

from eventlog import admin
from eventlog.committed import CommittedReadingApp
from eventlog.topics import KEEP_FOREVER

from .facts import CONSUMER, ProjectionTopics
from .projector import Projector, RawMessage
from .settings import ProjectionSettings

log = logging.getLogger(__name__)

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


def writer_agent(
    projector: Projector, settings: ProjectionSettings
) -> Callable[[faust.StreamT], Awaitable[None]]:
    """The agent body: batches of raw messages to the projector, acked after the commit."""

    async def project(stream: faust.StreamT) -> None:
        # noack_take: events are acked here, after the commit, never on the way out of a
        # cancelled batch (take_events acks in a finally), so Kafka offsets never pass what
        # the database holds.
        batches = stream.noack_take(settings.batch_size, within=settings.batch_within_s)
        async for events in batches:
            raw: list[RawMessage] = [
                (
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                )
                for e in events
            ]
            await projector.process(raw)
            for e in events:
                await stream.ack(e)

    return project


def in_charge(app: faust.App, topics: ProjectionTopics) -> bool:
    """Whether this process refreshes open permits and reports their (global) gauges: the
    owner of the permit topic's partition 0."""
    # Not Faust's on_leader: the hub's app runs without the leader topic
    # (topic_disable_leader), where no worker is ever leader.
    try:
        return TP(topics.permit, 0) in app.consumer.assignment()
    except Exception:  # noqa: BLE001 - no consumer (yet): not in charge
        return False


def in_charge_timer(
    app: faust.App, topics: ProjectionTopics, work: Callable[[], Any], failure: str
) -> Callable[[], Awaitable[None]]:
    """A timer body running `work` in a thread when this process is in charge; a failure is
    logged as `failure`, and the next tick tries again."""

    async def tick() -> None:
        if not in_charge(app, topics):
            return
        try:
            await asyncio.to_thread(work)
        except Exception:  # noqa: BLE001 - a timer must not die; the next tick tries again
            log.exception(failure)

    return tick


def create_topics_on_first_start(
    app: faust.App, settings: ProjectionSettings, topics: ProjectionTopics
) -> None:
    """Create the canonical topics when `app` first starts, after its own first-start work."""
    first_start = app.on_first_start

    async def on_first_start() -> None:
        # Before the consumer subscribes: a topic created later would only be seen at the
        # next metadata refresh, minutes away.
        await first_start()
        created = await ensure_topics(settings, topics)
        if created:
            log.info("created canonical topics %s", ", ".join(created))

    app.on_first_start = on_first_start  # type: ignore[method-assign]


def register_projection(
    app: faust.App,
    settings: ProjectionSettings,
    *,
    topics: ProjectionTopics | None = None,
    consumer: str = CONSUMER,
    projector: Projector | None = None,
) -> Projector:
    """Add the projection agent (over the four canonical topics, default the hub's) and its
    timers to `app`."""
    projector = projector or Projector(settings, topics=topics, consumer=consumer)
    topics = projector.topics
    channel = app.topic(
        *topics.names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.agent(channel, name=f"{consumer}.writer")(writer_agent(projector, settings))
    app.timer(REFRESH_INTERVAL_S, name=f"{consumer}.refresh")(
        in_charge_timer(app, topics, projector.refresh, "refresh of open permits failed")
    )
    app.timer(GAUGE_INTERVAL_S, name=f"{consumer}.gauges")(
        in_charge_timer(app, topics, projector.update_gauges, "open-permit gauges not updated")
    )
    create_topics_on_first_start(app, settings, topics)
    return projector


def projection_app(
    settings: ProjectionSettings,
    *,
    topics: ProjectionTopics | None = None,
    consumer: str = CONSUMER,
    **faust_options: Any,
) -> faust.App:
    """A Faust app running only the projection (consumer group `<app_id>-projections`), for
    scaling the read side apart from the stream processors."""
    options: dict[str, Any] = {
        "broker": [f"kafka://{h}" for h in settings.kafka.servers],
        "broker_credentials": settings.kafka.faust_credentials(),
        "store": "memory://",
        "web_enabled": False,
        "datadir": settings.data_dir,
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.replication_factor,
        "producer_acks": -1,
        "topic_disable_leader": True,
        # Faust's 4,096 stops delivery while one batch commits; the worker's size (streams/app.py).
        "stream_buffer_maxsize": 32768,
    }
    options.update(faust_options)
    # Committed records only: the identity log is written in transactions (a fenced or killed
    # resolver's aborted batch stays in it).
    app = CommittedReadingApp(
        settings.kafka.topics.group(f"{settings.app_id}-projections"), **options
    )
    register_projection(app, settings, topics=topics, consumer=consumer)
    return app


def run_projection_worker(
    settings: ProjectionSettings,
    *,
    topics: ProjectionTopics | None = None,
    consumer: str = CONSUMER,
    **faust_options: Any,
) -> None:
    """Run the projection-only worker until stopped."""
    app = projection_app(settings, topics=topics, consumer=consumer, **faust_options)
    worker = faust.Worker(app, loglevel=settings.log_level)
    worker.execute_from_commandline()
