"""The Faust app's configuration and its agents' registration, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from domain.tokens import Tokens
from eventlog import KafkaSettings
from schemas import catalog
from streams import app as app_module
from streams.app import _IdempotentProducer, create_app, output_topics, register_normalize
from streams.identity import register_identity
from streams.settings import StreamSettings

TOKENS = Tokens(b"a test secret of 32 bytes.......")

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
    agent = register_normalize(app, SETTINGS, TOKENS)
    assert agent.channel.topics == SETTINGS.raw_topics
    assert agent.channel.key_serializer == agent.channel.value_serializer == "raw"


def test_identity_reads_person_facts_and_review_commands_as_one_channel() -> None:
    app = create_app(SETTINGS)
    agent = register_identity(app, SETTINGS, TOKENS, model=object())  # type: ignore[arg-type]
    assert agent.channel.topics == ("mpp.canonical.person", "mpp.hub.identity-reviews")
    assert agent.channel.key_serializer == agent.channel.value_serializer == "raw"


def test_output_topics_keep_the_canonical_log_and_services_whole() -> None:
    topics = output_topics(SETTINGS)
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


def test_a_prefixed_hub_names_its_group_and_every_topic_with_its_prefix() -> None:
    hub = SETTINGS.model_copy(
        update={"kafka": KafkaSettings(bootstrap="k1:9092", topic_prefix="kota-b.")}
    )
    app = create_app(hub)
    assert app.conf.id == "kota-b.test-app"  # the consumer group and Faust's own topics
    normalize = register_normalize(app, hub, TOKENS, create_topics=False)
    assert normalize.channel.topics == (
        "kota-b.mpp.disdukcapil.biodata_wni",
        "kota-b.mpp.dpmptsp.tmpermohonan",
    )
    identity = register_identity(app, hub, TOKENS, model=object())  # type: ignore[arg-type]
    assert identity.channel.topics == (
        "kota-b.mpp.canonical.person",
        "kota-b.mpp.hub.identity-reviews",
    )
    assert all(t.startswith("kota-b.mpp.") for t in output_topics(hub))


def test_dead_letters_and_findings_are_kept_as_long_as_the_settings_say() -> None:
    for ms, kept in ((-1, "-1"), (90 * 86_400_000, "7776000000")):
        hub = SETTINGS.model_copy(
            update={"kafka": KafkaSettings(bootstrap="k1:9092", record_retention_ms=ms)}
        )
        topics = output_topics(hub)
        for name in (catalog.DEADLETTER_TOPIC, catalog.DQ_FINDINGS_TOPIC):
            assert topics[name] == {"cleanup.policy": "delete", "retention.ms": kept}


def test_run_worker_registers_normalize_identity_and_the_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict = {}

    async def topics(settings: StreamSettings) -> list[str]:
        seen["topics"] = settings
        return []

    class Worker:
        def __init__(self, app, stop_timeout_s, **kw) -> None:
            seen["worker"] = (app, kw)
            seen["stop_timeout_s"] = stop_timeout_s

        def execute_from_commandline(self) -> None:
            raise SystemExit(0)  # what faust's worker does on a clean stop

    monkeypatch.setattr(app_module, "ensure_topics", topics)
    # run_worker's worker is BoundedStopWorker (a faust.Worker whose stop is bounded).
    monkeypatch.setattr(app_module, "BoundedStopWorker", Worker)

    def extra(app) -> None:
        seen["extra"] = app

    def on_stop() -> None:
        pass

    assert app_module.run_worker(SETTINGS, TOKENS, extra=[extra], on_stop=on_stop) == 0
    app, kw = seen["worker"]
    assert kw["on_stop"] is on_stop  # the projection child's stop begins with the worker's
    assert seen["extra"] is app
    assert seen["topics"] is SETTINGS
    assert {"mpphub.normalize", "mpphub.identity"} <= set(app.agents)
    assert kw["loglevel"] == "info"
    assert seen["stop_timeout_s"] == SETTINGS.stop_timeout_s
    loop = app.loop
    asyncio.set_event_loop(None)
    loop.close()  # faust's real worker closes its loop when it stops
