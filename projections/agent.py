"""The projection as a Faust agent of the worker's app (inline): the writer agent over the four
canonical topics and the timers that keep open permits and their gauges current. The
projection-only worker is a plain consumer (projections/sink.py).

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

from .facts import CONSUMER, ProjectionTopics
from .projector import Projector, RawMessage
from .settings import ProjectionSettings
from .upkeep import GAUGE_INTERVAL_S, REFRESH_INTERVAL_S, ensure_topics

log = logging.getLogger(__name__)


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
