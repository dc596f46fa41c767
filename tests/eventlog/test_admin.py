"""Topic creation without a broker: the partition count each topic is created with, and the
warning for an existing topic whose count is not its own."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from eventlog import KafkaSettings, admin, topics

KAFKA = KafkaSettings(bootstrap="k1:9092")


class FakeAdmin:
    """The calls ensure_topics makes of AIOKafkaAdminClient, on a dict of topic -> partitions."""

    def __init__(self, existing: dict[str, int]) -> None:
        self.topics = dict(existing)
        self.created: dict[str, int] = {}
        self.reconciled: dict[str, Any] = {}

    async def list_topics(self) -> list[str]:
        return list(self.topics)

    async def create_topics(self, new: list[Any]) -> Any:
        for t in new:
            self.topics[t.name] = self.created[t.name] = t.num_partitions
        return SimpleNamespace(topic_errors=[(t.name, 0, None) for t in new])

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {"topic": n, "error_code": 0, "partitions": [{"partition": p} for p in range(c)]}
            for n, c in self.topics.items()
            if n in names
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAdmin:
    client = FakeAdmin({"mpp.canonical.permit": 3})

    async def connect(_: KafkaSettings) -> FakeAdmin:
        return client

    async def reconcile(_: FakeAdmin, wanted: dict[str, Any]) -> None:
        client.reconciled.update(wanted)

    monkeypatch.setattr(admin, "_admin", connect)
    monkeypatch.setattr(admin, "reconcile_configs", reconcile)
    return client


def ensure(
    wanted: dict[str, Any], partitions: Any, kafka: KafkaSettings = KAFKA, **options: Any
) -> list[str]:
    return asyncio.run(
        admin.ensure_topics(kafka, wanted, partitions=partitions, replication_factor=1, **options)
    )


def test_the_identity_sequence_topics_get_one_partition_whatever_the_default(
    fake: FakeAdmin,
) -> None:
    wanted = {t: topics.KEEP_FOREVER for t in ("mpp.x.raw", *topics.PARTITIONS)}
    created = ensure(wanted, 6)
    assert sorted(created) == sorted(wanted)
    assert fake.created == {
        "mpp.x.raw": 6,
        topics.PERSON_TOPIC: 1,
        topics.IDENTITY_TOPIC: 1,
        topics.IDENTITY_REVIEWS_TOPIC: 1,
    }


def test_partitions_may_be_given_per_topic(fake: FakeAdmin) -> None:
    ensure({"a": topics.DELETE, "b": topics.DELETE}, {"a": 2, "b": 5})
    assert fake.created == {"a": 2, "b": 5}


def test_an_existing_topic_with_another_count_is_left_alone_and_warned_about(
    fake: FakeAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    fake.topics[topics.PERSON_TOPIC] = 3
    with caplog.at_level(logging.WARNING, logger="eventlog.admin"):
        created = ensure({topics.PERSON_TOPIC: topics.KEEP_FOREVER, "mpp.canonical.permit": {}}, 1)
    assert created == [] and fake.topics[topics.PERSON_TOPIC] == 3
    (warning,) = caplog.records
    assert warning.getMessage().startswith("topic mpp.canonical.person has 3 partitions, not 1")


def test_existing_topics_with_their_own_count_raise_no_warning(
    fake: FakeAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    fake.topics[topics.IDENTITY_TOPIC] = 1
    with caplog.at_level(logging.WARNING, logger="eventlog.admin"):
        ensure({topics.IDENTITY_TOPIC: topics.KEEP_FOREVER}, 3)
    assert caplog.records == []


def test_a_prefixed_hub_gives_its_own_sequence_topics_one_partition(fake: FakeAdmin) -> None:
    hub = KafkaSettings(bootstrap="k1:9092", topic_prefix="kota-b.")
    wanted = dict.fromkeys(hub.topics.stream_outputs, topics.KEEP_FOREVER)
    ensure(wanted, 6, hub)
    assert fake.created[f"kota-b.{topics.PERSON_TOPIC}"] == 1
    assert fake.created[f"kota-b.{topics.IDENTITY_TOPIC}"] == 1
    assert fake.created[f"kota-b.{topics.PERMIT_TOPIC}"] == 6


def test_existing_topics_are_reconciled_unless_another_stage_owns_them(fake: FakeAdmin) -> None:
    fake.topics.update({"mpp.a.keyless": 3, topics.DEADLETTER_TOPIC: 3})
    wanted = {"mpp.a.keyless": topics.COMPACT, topics.DEADLETTER_TOPIC: topics.DELETE, "new": {}}
    ensure(wanted, 3, reconcile=[topics.DEADLETTER_TOPIC, "new"])
    # A new topic is created with its config; the raw topic's config is its connector's.
    assert fake.reconciled == {topics.DEADLETTER_TOPIC: topics.DELETE}


class RacingAdmin(FakeAdmin):
    """Another process creates the topics between our list and our create, and the broker we
    ask for configs has not seen them yet: `unknown` answers of error 3 first."""

    def __init__(self, unknown: int) -> None:
        super().__init__({})
        self.unknown = unknown

    async def create_topics(self, new: list[Any]) -> Any:
        for t in new:
            self.topics[t.name] = t.num_partitions
        return SimpleNamespace(topic_errors=[(t.name, 36, "exists") for t in new])


def racing(monkeypatch: pytest.MonkeyPatch, unknown: int) -> RacingAdmin:
    client = RacingAdmin(unknown)

    async def connect(_: KafkaSettings) -> RacingAdmin:
        return client

    async def reconcile(_: RacingAdmin, wanted: dict[str, Any]) -> None:
        if client.unknown:
            client.unknown -= 1
            raise admin.TopicError(next(iter(wanted)), "config not readable", 3, None)
        client.reconciled.update(wanted)

    monkeypatch.setattr(admin, "_admin", connect)
    monkeypatch.setattr(admin, "reconcile_configs", reconcile)
    return client


def test_a_topic_another_process_created_is_reconciled_once_the_cluster_knows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = racing(monkeypatch, unknown=3)
    assert ensure({"mpp.a.raw": topics.DELETE}, 1) == []  # not ours: the other one made it
    assert client.reconciled == {"mpp.a.raw": topics.DELETE} and client.unknown == 0


def test_a_topic_that_never_settles_fails_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    racing(monkeypatch, unknown=1000)
    with pytest.raises(RuntimeError) as failed:
        ensure({"mpp.a.raw": topics.DELETE}, 1, wait_s=1.0)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("topic mpp.a.raw: config not readable: UnknownTopicOrPartition")
    assert "(Kafka error 3); still so after 1s" in message
