"""Several processes (a connector, workers) starting at once on a three-broker cluster all
create the same new topics and read their configs back while the metadata is still reaching
the other brokers: every one of them starts, and the topics carry the hub's configs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from eventlog import KafkaSettings, admin
from eventlog.topics import TopicConfig
from ops.stack import Stack
from tests.conftest import test_stack_config

pytestmark = pytest.mark.integration

STARTERS = 4
DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("race3")
    s = Stack(test_stack_config(tmp, brokers=3), log=lambda m: None)
    try:
        s.up(timeout=240)
        yield s
    finally:
        s.down(purge=True)


def start_all(hub: KafkaSettings) -> list[list[str]]:
    """ensure_topics from STARTERS threads at once, each with its own client and event loop
    (as separate processes would); the topics each one created."""

    def start(_: int) -> list[str]:
        return asyncio.run(
            admin.ensure_topics(hub, hub.topics.stream_outputs, partitions=3, replication_factor=3)
        )

    with ThreadPoolExecutor(STARTERS) as pool:
        return list(pool.map(start, range(STARTERS)))


def read_back(hub: KafkaSettings, want: Mapping[str, TopicConfig]) -> dict[str, dict[str, str]]:
    """The configs of `want`'s topics (its keys only) once every broker asked agrees with
    `want`, or as they are after 30 s: a broker applies a config change a moment after the
    controller has committed it, so the first read may come from one not there yet."""
    deadline = time.monotonic() + 30
    while True:
        found = asyncio.run(admin.describe_topic_configs(hub, want))
        have = {n: {k: found[n][k] for k in c} for n, c in want.items()}
        if have == want or time.monotonic() > deadline:
            return have
        time.sleep(0.2)  # polling the brokers' metadata, not a fixed wait


def test_concurrent_starts_create_and_reconcile_the_same_topics(cluster: Stack) -> None:
    prefix = f"r{uuid.uuid4().hex[:8]}."
    hub = KafkaSettings(bootstrap=cluster.bootstrap, topic_prefix=prefix)
    wanted = hub.topics.stream_outputs

    created = start_all(hub)  # raises if any of them failed
    every = sorted(n for names in created for n in names)
    assert every == sorted(wanted)  # each topic created once: the others found it there
    assert read_back(hub, wanted) == wanted

    # Restarted at once with another retention: all reconcile the existing topics.
    longer = KafkaSettings(
        bootstrap=cluster.bootstrap, topic_prefix=prefix, record_retention_ms=90 * DAY_MS
    )
    assert start_all(longer) == [[]] * STARTERS
    found = read_back(longer, longer.topics.stream_outputs)
    assert found[longer.topics.deadletter]["retention.ms"] == str(90 * DAY_MS)
    assert found[longer.topics.person]["retention.ms"] == "-1"
