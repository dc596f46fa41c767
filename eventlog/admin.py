"""Topic administration: the one place the hub calls Kafka's admin API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from . import topics
from .settings import KafkaSettings
from .topics import TopicConfig

log = logging.getLogger(__name__)

TOPIC_WAIT_S = 30.0


class KafkaUnreachable(RuntimeError):
    """The cluster did not answer; the message names the bootstrap servers."""


async def _admin(kafka: KafkaSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    try:
        await admin.start()
    except (KafkaError, OSError) as e:
        await admin.close()
        raise KafkaUnreachable(
            f"Kafka not reachable at {kafka.bootstrap}: {type(e).__name__}: {e}"
        ) from e
    return admin


async def ensure_topics(
    kafka: KafkaSettings,
    wanted: Mapping[str, TopicConfig],
    *,
    partitions: int | Mapping[str, int],
    replication_factor: int,
    wait_s: float = TOPIC_WAIT_S,
) -> list[str]:
    """Create the topics of `wanted` (name -> config) that do not exist yet and wait until the
    broker lists them all; the names created. A topic another process created first is fine.

    `partitions` is a count for every topic, or one per topic; a topic with a count of its own
    (topics.PARTITIONS) always gets that one. An existing topic is never changed: when it has
    another count than its own, a warning says so (ordering across partitions is lost)."""
    admin = await _admin(kafka)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=_count(name, partitions),
                replication_factor=replication_factor,
                topic_configs=dict(config),
            )
            for name, config in wanted.items()
            if name not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another worker or connector won the race
            log.info("created topics: %s", ", ".join(t.name for t in new))
        deadline = time.monotonic() + wait_s
        while missing := set(wanted) - set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topics not created within {wait_s:.0f}s on {kafka.bootstrap}:"
                    f" {', '.join(sorted(missing))}"
                )
            await asyncio.sleep(0.2)  # polling the broker's metadata, not a fixed wait
        await _warn_partition_counts(admin, [n for n in wanted if n in existing])
        return [t.name for t in new]
    finally:
        await admin.close()


def _count(topic: str, partitions: int | Mapping[str, int]) -> int:
    if topic in topics.PARTITIONS:
        return topics.PARTITIONS[topic]
    if isinstance(partitions, int):
        return partitions
    return partitions[topic]


async def _warn_partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Warn about existing topics whose partition count is not their own (topics.PARTITIONS)."""
    fixed = [n for n in names if n in topics.PARTITIONS]
    if not fixed:
        return
    for d in await admin.describe_topics(fixed):
        have, want = len(d["partitions"]), topics.PARTITIONS.get(d["topic"])
        if d["error_code"] == 0 and want is not None and have != want:
            log.warning(
                "topic %s has %d partitions, not %d: its order is not one sequence; recreate it"
                " (and replay its producers) to fix that",
                d["topic"],
                have,
                want,
            )


async def topic_partitions(kafka: KafkaSettings, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of the topics that exist, sorted; a missing topic contributes none."""
    # The admin call, not consumer.partitions_for_topic(): that one answers from a metadata
    # cache which consumer.topics() does not fill, and silently says "no partitions".
    admin = await _admin(kafka)
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(
        TopicPartition(d["topic"], p["partition"])
        for d in described
        if d["error_code"] == 0
        for p in d["partitions"]
    )
