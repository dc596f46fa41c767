"""Fixtures of the projection tests: a fresh SQLite store, and the session's one live run of the
projection worker against the real stack (killed -9 in the middle, restarted)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from domain.tokens import load_secret
from eventlog import KafkaSettings
from ops.processes import free_port
from projections.facts import ProjectionTopics
from projections.settings import ProjectionSettings
from projections.store import Store, make_engine, open_store
from tests.faults import kill_9_after_first_commit
from tests.projections.harness import (
    CanonicalProducer,
    checkpointed,
    create_topics,
    projection_worker,
    scenario,
    unique_topics,
)
from tests.waiting import wait_until


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh SQLite projection database (a file, WAL mode, as in production)."""
    s = open_store(f"sqlite:///{tmp_path / 'projections.db'}")
    try:
        yield s
    finally:
        s.close()


# Unknown schema id, and bytes that are no Confluent frame at all.
POISON = [("permit", b"\x00\x00\x0f\xff\xf0garbage"), ("person", b"{not avro}")]


@dataclass
class LiveRun:
    """The projection worker's one live run of the session, and what went into it."""

    topics: ProjectionTopics
    settings: ProjectionSettings
    engine: Engine
    events: list[tuple[str, Any]]  # the scenario, without the poison messages
    total: int  # messages produced, poison included
    at_kill: int  # messages checkpointed when the worker was killed
    metrics: str  # the worker's /metrics at the end
    postgres: Any


def _safe_checkpointed(engine: Engine) -> int:
    try:
        return checkpointed(engine)
    except Exception:  # noqa: BLE001 - tables not created yet by the worker
        return 0


def _other_sessions(engine: Engine) -> int:
    """Server sessions on this database besides the one asking (the worker's, while alive)."""
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


def _metrics_with(port: int, needle: str) -> str | None:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return body if needle in body else None


@pytest.fixture(scope="session")
def live(stack, postgres_server, tmp_path_factory) -> Iterator[LiveRun]:
    """Canonical events of a scenario -> the Faust projection worker (a subprocess) ->
    PostgreSQL; the worker is killed -9 after its first commit, more events (and two poison
    messages) are produced, the worker is restarted and runs until every message is
    checkpointed."""
    tmp: Path = tmp_path_factory.mktemp("projection-worker")
    name = f"t_projection_live_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    topics = unique_topics()
    create_topics(stack, topics)
    events = scenario(people=40, permits=300)
    half = len(events) // 2
    first, second = events[:half], POISON + events[half:]
    metrics_port = free_port()
    secret = tmp / "secret"
    load_secret(secret, create=True)
    settings = ProjectionSettings(
        app_id=f"t-{uuid.uuid4().hex[:8]}",
        kafka=KafkaSettings(bootstrap=stack.bootstrap),
        registry_url=stack.registry_url,
        db_url=url,
        batch_size=20,
        batch_within_s=0.05,
        secret_file=secret,
    )
    env = {
        "MPPHUB_APP_ID": settings.app_id,
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": url,
        "MPPHUB_WORKER_DATA_DIR": str(tmp / "data"),
        "MPPHUB_BATCH_SIZE": "20",
        "MPPHUB_SECRET_FILE": str(secret),
        "MPPHUB_METRICS_PORT": str(metrics_port),
        "MPPHUB_TEST_PROJECTION_TOPICS": ",".join(topics.names),
    }
    producer = CanonicalProducer(stack, topics)
    worker = projection_worker(env, tmp / "worker.log")
    engine = make_engine(url)
    try:
        producer.send_all(first)
        # A COMMIT the worker sent just before the kill still lands: count once its server
        # sessions are gone.
        at_kill = kill_9_after_first_commit(
            worker,
            lambda: _safe_checkpointed(engine),
            settled=lambda: wait_until(
                lambda: _other_sessions(engine) == 0, 30, "the killed worker's sessions to end"
            ),
        )
        producer.send_all(second)
        total = len(first) + len(second)
        worker.start()
        wait_until(
            lambda: _safe_checkpointed(engine) >= total or not worker.alive(),
            90,
            f"checkpoints to cover all {total} messages",
        )
        assert worker.alive(), worker.tail()
        # The open-permit gauges come from a timer of the group leader.
        metrics = wait_until(
            lambda: _metrics_with(metrics_port, "mpphub_permits_open{"),
            30,
            "the open-permit gauges",
            step=0.5,
        )
    except BaseException:
        print(worker.tail(80))
        raise
    finally:
        worker.stop()
        producer.close()
    yield LiveRun(topics, settings, engine, events, total, at_kill, metrics, postgres_server)
    engine.dispose()
    postgres_server.drop_database(name)
