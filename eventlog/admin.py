"""Topic administration: the one place the hub calls Kafka's admin API. Topics are created with
their configuration, and an existing topic's configuration is brought back to what the hub says
(an operator's change, or a topic made by an older version, does not stay)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

from .retry import retrying
from .settings import KafkaSettings, unreachable_message
from .topics import TopicConfig

log = logging.getLogger(__name__)

TOPIC_WAIT_S = 30.0
T = TypeVar("T")


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
    broker lists them all; the names created (by this call). A topic another process created
    first is fine, and so are the moments after while the new topic's metadata reaches every
    broker (unknown topic, no leader yet): those are tried again with backoff for up to wait_s,
    then one line names the topic.
    The existing ones of `reconcile` (default: all of `wanted`) get their config set back to
    the wanted one (other topic-level settings stay); leave out topics another stage owns.

    `partitions` is a count for every topic, or one per topic; a topic with a count of its own
    (Topics.partitions) always gets that one. An existing topic's partitions are never changed:
    when it has another count than its own, a warning says so (ordering across partitions is
    lost)."""
    own = kafka.topics.partitions
    admin = await _admin(kafka)
    try:
        created: list[str] = []

        async def create() -> None:
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
                created.extend(_created(await admin.create_topics(new)))

        await _settled(create, wait_s)
        if created:
            log.info("created topics: %s", ", ".join(created))
        deadline = time.monotonic() + wait_s
        while missing := set(wanted) - set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topics not created within {wait_s:.0f}s on {kafka.bootstrap}:"
                    f" {', '.join(sorted(missing))}"
                )
            await asyncio.sleep(0.2)  # polling the broker's metadata, not a fixed wait
        existing = [n for n in wanted if n not in created]  # before us, or by a racing process
        await _warn_partition_counts(admin, own, existing)
        names = set(wanted if reconcile is None else reconcile) & set(existing)
        ours = {n: wanted[n] for n in sorted(names)}
        await _settled(lambda: reconcile_configs(admin, ours), wait_s)
        return created
    finally:
        await admin.close()


class TopicError(RuntimeError):
    """The broker answered a topic request with an error code; the message names the topic."""

    def __init__(self, topic: str, what: str, code: int, message: str | None) -> None:
        name = for_code(code).__name__.removesuffix("Error")
        super().__init__(f"topic {topic}: {what}: {message or name} (Kafka error {code})")
        self.code = code


# What a cluster answers in the moment after a topic is created (here or by another process)
# while its metadata has not reached every broker: unknown topic, no leader yet, not the
# controller, timed out. Tried again until it settles.
SETTLING_CODES = frozenset({3, 5, 7, 41})
TOPIC_ALREADY_EXISTS = 36


def _created(response: Any) -> list[str]:
    """The topics a CreateTopics response says were created; one another process created first
    is fine, any other error raises naming the topic."""
    done = []
    for name, code, *message in response.topic_errors:
        if code == 0:
            done.append(name)
        elif code != TOPIC_ALREADY_EXISTS:
            raise TopicError(name, "not created", code, message[0] if message else None)
    return done


def _settling(error: BaseException) -> bool:
    if isinstance(error, TopicError):
        return error.code in SETTLING_CODES
    return isinstance(error, KafkaError) and error.retriable


async def _settled(attempt: Callable[[], Awaitable[T]], wait_s: float) -> T:
    """attempt() again with backoff while the cluster is settling; after wait_s the last
    error, one line naming the topic."""

    def report(error: BaseException, delay: float) -> None:
        log.info("%s; trying again in %.1fs", error, delay)

    try:
        return await retrying(
            attempt, transient=_settling, on_retry=report, first_s=0.1, max_s=2.0, give_up_s=wait_s
        )
    except (TopicError, KafkaError) as e:
        if not _settling(e):
            raise
        raise RuntimeError(f"{e}; still so after {wait_s:.0f}s") from e


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
                raise TopicError(name, "config not changed", code, message)
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
                raise TopicError(name, "config not readable", code, message)
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
