"""The Faust app's configuration and the agent's delivery guards, without a broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from eventlog import KafkaSettings
from schemas import catalog
from schemas.registry import IncompatibleSchemaError, RegistryUnavailableError
from streams import app as app_module
from streams.app import (
    _IdempotentProducer,
    _retrying,
    _withholding_acks,
    create_app,
    output_topics,
    register_normalize,
)
from streams.settings import StreamSettings

SETTINGS = StreamSettings(
    app_id="test-app",
    kafka=KafkaSettings(bootstrap="k1:9092, k2:9092"),
    raw_topics=("mpp.disdukcapil.biodata_wni", "mpp.dpmptsp.tmpermohonan"),
    store="memory://",
    topic_partitions=6,
    replication_factor=3,
)


def test_the_app_is_configured_from_settings() -> None:
    app = create_app(SETTINGS)
    conf = app.conf
    assert conf.id == "test-app"
    assert [str(u) for u in conf.broker] == ["kafka://k1:9092", "kafka://k2:9092"]
    assert conf.web_enabled is False
    assert conf.producer_acks == -1
    assert conf.processing_guarantee.value == "at_least_once"
    assert (conf.topic_partitions, conf.topic_replication_factor) == (6, 3)


def test_the_producer_is_idempotent_with_acks_all() -> None:
    producer = create_app(SETTINGS).producer
    assert isinstance(producer, _IdempotentProducer)
    assert producer._settings_extra() == {"acks": "all", "enable_idempotence": True}


def test_normalize_reads_every_raw_topic_as_bytes() -> None:
    app = create_app(SETTINGS)
    agent = register_normalize(app, SETTINGS)
    assert agent.channel.topics == SETTINGS.raw_topics
    assert agent.channel.key_serializer == agent.channel.value_serializer == "raw"


def test_output_topics_keep_the_canonical_log_and_services_whole() -> None:
    topics = output_topics()
    assert topics[catalog.PERSON_TOPIC]["retention.ms"] == "-1"
    assert topics[catalog.PERMIT_TOPIC]["retention.ms"] == "-1"
    # Not compacted: a service delete carries only its key, and a rebuild must still see the
    # service it deletes.
    assert topics[catalog.SERVICE_TOPIC] == {"cleanup.policy": "delete", "retention.ms": "-1"}
    assert set(topics) == {
        catalog.PERSON_TOPIC,
        catalog.PERMIT_TOPIC,
        catalog.SERVICE_TOPIC,
        catalog.IDENTITY_TOPIC,
        catalog.DQ_FINDINGS_TOPIC,
        catalog.DEADLETTER_TOPIC,
    }
    assert topics[catalog.IDENTITY_TOPIC]["retention.ms"] == "-1"


def events(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(acked=False)) for _ in range(n)]


def test_a_batch_that_gets_through_leaves_acks_to_faust() -> None:
    batch = events(2)

    async def work() -> None:
        await asyncio.sleep(0)

    asyncio.run(_withholding_acks(batch, work()))  # type: ignore[arg-type]
    assert [e.message.acked for e in batch] == [False, False]


def test_a_batch_cancelled_midway_keeps_its_offsets_uncommitted() -> None:
    batch = events(3)

    async def main() -> None:
        gate = asyncio.Event()

        async def work() -> None:
            gate.set()
            await asyncio.sleep(3600)  # a produce that never gets its acks

        task = asyncio.ensure_future(_withholding_acks(batch, work()))  # type: ignore[arg-type]
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert all(e.message.acked for e in batch)  # acked for Faust's bookkeeping only


def test_a_failed_batch_keeps_its_offsets_uncommitted() -> None:
    batch = events(1)

    async def work() -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        asyncio.run(_withholding_acks(batch, work()))  # type: ignore[arg-type]
    assert batch[0].message.acked


def test_transient_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "RETRY_MAX_S", 0.0)
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RegistryUnavailableError("down")
        return "ok"

    async def no_sleep(_: float) -> None:
        return None

    monkeypatch.setattr(app_module.asyncio, "sleep", no_sleep)
    assert asyncio.run(_retrying(flaky, "test")) == "ok"
    assert len(calls) == 3


def test_an_incompatible_schema_is_not_retried() -> None:
    async def refused() -> None:
        raise IncompatibleSchemaError("s", "no", [])

    with pytest.raises(IncompatibleSchemaError):
        asyncio.run(_retrying(refused, "test"))


def test_run_worker_registers_normalize_and_the_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    async def topics(settings: StreamSettings) -> list[str]:
        seen["topics"] = settings
        return []

    class Worker:
        def __init__(self, app, **kw) -> None:
            seen["worker"] = (app, kw)

        def execute_from_commandline(self) -> None:
            raise SystemExit(0)  # what faust's worker does on a clean stop

    monkeypatch.setattr(app_module, "ensure_topics", topics)
    monkeypatch.setattr(app_module.faust, "Worker", Worker)

    def extra(app) -> None:
        seen["extra"] = app

    assert app_module.run_worker(SETTINGS, extra=[extra]) == 0
    app, kw = seen["worker"]
    assert seen["extra"] is app
    assert seen["topics"] is SETTINGS
    assert "mpphub.normalize" in app.agents
    assert kw["loglevel"] == "info"
    loop = app.loop
    asyncio.set_event_loop(None)
    loop.close()  # faust's real worker closes its loop when it stops
