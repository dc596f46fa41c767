"""Topic administration: the one place the hub calls Kafka's admin API. Topics are created with
their configuration, and an existing topic's configuration is brought back to what the hub says
(an operator's change, or a topic made by an older version, does not stay)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .settings import KafkaSettings, unreachable_message
from .topics import TopicConfig

log = logging.getLogger(__name__)

TOPIC_WAIT_S = 30.0


class KafkaUnreachable(RuntimeError):
    """The cluster did not answer or refused us; the message names the bootstrap servers and
    the setting to check."""


async def _admin(kafka: KafkaSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    try:
        await admin.start()
    except (KafkaError, OSError) as e:
        await admin.close()
        raise KafkaUnreachable(unreachable_message(kafka)) from e
    return admin


async def ensure_topics(
    kafka: KafkaSettings,
    wanted: Mapping[str, TopicConfig],
    *,
    partitions: int | Mapping[str, int],
    replication_factor: int,
    wait_s: float = TOPIC_WAIT_S,
    reconcile: Iterable[str] | None = None,
) -> list[str]:
    """Create the topics of `wanted` (name -> config) that do not exist yet and wait until the
    broker lists them all; the names created. A topic another process created first is fine.
    The existing ones of `reconcile` (default: all of `wanted`) get their config set back to
    the wanted one (other topic-level settings stay); leave out topics another stage owns.

    `partitions` is a count for every topic, or one per topic; a topic with a count of its own
    (Topics.partitions) always gets that one. An existing topic's partitions are never changed:
    when it has another count than its own, a warning says so (ordering across partitions is
    lost)."""
    own = kafka.topics.partitions
    admin = await _admin(kafka)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=own.get(name) or _count(name, partitions),
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
        await _warn_partition_counts(admin, own, [n for n in wanted if n in existing])
        names = set(wanted if reconcile is None else reconcile) & existing
        await reconcile_configs(admin, {n: wanted[n] for n in sorted(names)})
        return [t.name for t in new]
    finally:
        await admin.close()


def _count(topic: str, partitions: int | Mapping[str, int]) -> int:
    if isinstance(partitions, int):
        return partitions
    return partitions[topic]


async def reconcile_configs(
    admin: AIOKafkaAdminClient, wanted: Mapping[str, TopicConfig]
) -> dict[str, dict[str, str]]:
    """Set the configs of existing topics to `wanted` where they differ; the changes made
    (topic -> the keys set). Other topic-level settings are sent back unchanged (AlterConfigs
    replaces all of a topic's settings: aiokafka has no incremental call)."""
    current = await topic_configs(admin, list(wanted))
    changes: dict[str, dict[str, str]] = {}
    resources = []
    for name, config in wanted.items():
        values, dynamic = current[name]
        diff = {k: v for k, v in config.items() if values.get(k) != v}
        if diff:
            changes[name] = diff
            resources.append(ConfigResource(ConfigResourceType.TOPIC, name, dynamic | diff))
    if not resources:
        return changes
    for response in await admin.alter_configs(resources):
        for code, message, _type, name in response.resources:
            if code:
                raise RuntimeError(f"topic {name}: config not changed: {message or code}")
    for name, diff in changes.items():
        log.info("topic %s: config set to %s", name, diff)
    return changes


async def topic_configs(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """topic -> (every config value, the ones set on the topic itself)."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    found: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for response in await admin.describe_configs(resources):
        for code, message, _type, name, entries in response.resources:
            if code:
                raise RuntimeError(f"topic {name}: config not readable: {message or code}")
            values = {e[0]: e[1] for e in entries}
            # v0 says is_default, later versions the source (1: set on the topic).
            dynamic = {
                e[0]: e[1]
                for e in entries
                if (e[3] == 1 if response.API_VERSION else not e[3]) and e[1] is not None
            }
            found[name] = (values, dynamic)
    return found


async def describe_topic_configs(
    kafka: KafkaSettings, names: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Every config value of the named topics, as the broker reports them."""
    admin = await _admin(kafka)
    try:
        return {n: v for n, (v, _) in (await topic_configs(admin, list(names))).items()}
    finally:
        await admin.close()


async def _warn_partition_counts(
    admin: AIOKafkaAdminClient, own: Mapping[str, int], names: list[str]
) -> None:
    """Warn about existing topics whose partition count is not their own (Topics.partitions)."""
    fixed = [n for n in names if n in own]
    if not fixed:
        return
    for d in await admin.describe_topics(fixed):
        have, want = len(d["partitions"]), own.get(d["topic"])
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
