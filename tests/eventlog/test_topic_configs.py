"""Topic configs on the real broker: set at creation, brought back on every start for topics
that exist (an operator's edit or an older hub's default does not stay), read back here from
the broker itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from eventlog import KafkaSettings, admin, topics
from ops.stack import Stack

pytestmark = pytest.mark.integration

DAY_MS = 24 * 3600 * 1000


def kafka(stack: Stack, **options: object) -> KafkaSettings:
    return KafkaSettings(bootstrap=stack.bootstrap, **options)  # type: ignore[arg-type]


def ensure(settings: KafkaSettings, wanted: dict, **options: object) -> list[str]:
    return asyncio.run(
        admin.ensure_topics(settings, wanted, partitions=1, replication_factor=1, **options)
    )


def configs(settings: KafkaSettings, *names: str) -> dict[str, dict[str, str]]:
    return asyncio.run(admin.describe_topic_configs(settings, names))


async def _set_by_hand(settings: KafkaSettings, name: str, config: dict[str, str]) -> None:
    client = await admin._admin(settings)
    try:
        await admin.reconcile_configs(client, {name: config})
    finally:
        await client.close()


def test_dead_letters_and_findings_are_kept_forever_by_default(stack: Stack) -> None:
    hub = kafka(stack, topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    outputs = hub.topics.stream_outputs
    ensure(hub, outputs)
    found = configs(hub, hub.topics.deadletter, hub.topics.dq_findings, hub.topics.person)
    for name in (hub.topics.deadletter, hub.topics.dq_findings, hub.topics.person):
        assert found[name]["retention.ms"] == "-1", name
        assert found[name]["cleanup.policy"] == "delete", name


def test_an_existing_topics_config_is_reconciled_and_others_kept(stack: Stack) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    old = kafka(stack, topic_prefix=prefix, record_retention_ms=DAY_MS)
    ensure(old, old.topics.stream_outputs)
    dlq = old.topics.deadletter
    assert configs(old, dlq)[dlq]["retention.ms"] == str(DAY_MS)
    # An operator sets a size limit by hand and shortens the retention.
    asyncio.run(_set_by_hand(old, dlq, {"max.message.bytes": "2000000", "retention.ms": "60000"}))
    assert configs(old, dlq)[dlq]["retention.ms"] == "60000"

    # The hub starts again with a 30-day retention: the existing topic takes it.
    new = kafka(stack, topic_prefix=prefix, record_retention_ms=30 * DAY_MS)
    assert ensure(new, new.topics.stream_outputs) == []  # nothing created, configs set
    found = configs(new, dlq, new.topics.dq_findings)
    assert found[dlq]["retention.ms"] == str(30 * DAY_MS)
    assert found[new.topics.dq_findings]["retention.ms"] == str(30 * DAY_MS)
    assert found[dlq]["max.message.bytes"] == "2000000"  # not the hub's to change


def test_compaction_is_reconciled_only_where_asked(stack: Stack) -> None:
    hub = kafka(stack)
    keyed, other = (f"mpp.t{uuid.uuid4().hex[:8]}.{n}" for n in ("keyed", "other"))
    ensure(hub, {keyed: topics.DELETE, other: topics.DELETE})
    ensure(hub, {keyed: topics.COMPACT, other: topics.COMPACT}, reconcile=[keyed])
    found = configs(hub, keyed, other)
    assert found[keyed]["cleanup.policy"] == "compact"
    assert found[other]["cleanup.policy"] == "delete"
