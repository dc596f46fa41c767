"""Every topic and consumer group of a hub carries its prefix (eventlog.topics.Topics), so two
hubs can share a cluster: the names come from KafkaSettings.topics, never from a constant used
as it is. Checked on the source (no module talks to Kafka with a bare name) and on the settings
each stage builds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from connectors.config import ConfigError, parse_config
from eventlog import KafkaSettings, topics
from eventlog.topics import Topics

REPO = Path(__file__).resolve().parent.parent
STAGES = ("connectors", "streams", "projections", "ops", "schemas", "eventlog")
# Names within a hub (the *_TOPIC constants) may be imported only where they are data that a
# Topics turns into names: the schema catalog (schema -> topic within the hub) and the
# canonical events' classes (normalize puts the prefix before them).
NAMES_MAY_BE_IMPORTED = {"eventlog/settings.py", "schemas/catalog.py", "streams/canonical.py"}
# A hub's topic written out: only where the names within a hub are defined, and the worker's
# default raw topics (names within the hub too).
_HUB_NAME = re.compile(r"^mpp\.(canonical|hub)\.|^mpp\.[a-z0-9_-]+\.[a-z0-9_]+$")
NAMES_MAY_BE_WRITTEN = {"eventlog/topics.py", "streams/settings.py"}


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for package in STAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            out.append((rel, ast.parse(path.read_text(encoding="utf-8"), rel)))
    return out


MODULES = _modules()


def test_no_stage_imports_a_topic_name_it_would_use_without_the_prefix() -> None:
    found = [
        f"{rel}:{node.lineno} imports {alias.name}"
        for rel, tree in MODULES
        if rel not in NAMES_MAY_BE_IMPORTED and not rel.startswith("eventlog/topics")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("eventlog.topics", "topics")
        for alias in node.names
        if alias.name.endswith(("_TOPIC", "_TOPICS")) or alias.name == "PARTITIONS"
    ]
    assert found == [], "use KafkaSettings.topics (eventlog.topics.Topics) instead"


def test_no_stage_writes_a_hub_topic_name_out() -> None:
    found = [
        f"{rel}:{node.lineno} {node.value!r}"
        for rel, tree in MODULES
        if rel not in NAMES_MAY_BE_WRITTEN
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _HUB_NAME.match(node.value)
    ]
    assert found == [], "use KafkaSettings.topics (eventlog.topics.Topics) instead"


def test_the_unprefixed_projection_topics_are_for_tests_only() -> None:
    found = [
        f"{rel}:{node.lineno}"
        for rel, tree in MODULES
        if rel != "projections/facts.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and node.id == "DEFAULT_TOPICS"
        # apply_batch's default: its only caller outside tests (the Projector) passes the hub's.
        and rel != "projections/writer.py"
    ]
    assert found == []


def test_every_name_of_a_prefixed_hub_carries_the_prefix() -> None:
    t = Topics("kota-b.")
    names = [
        *t.stream_outputs,
        *t.stream_commands,
        *t.partitions,
        t.connect_offsets,
        t.deadletter_replays,
        t.raw("disdukcapil", "BIODATA_WNI"),
        t.group("mpphub-worker"),
    ]
    assert all(n.startswith("kota-b.") for n in names)
    assert t.raw("disdukcapil", "BIODATA_WNI") == "kota-b.mpp.disdukcapil.biodata_wni"
    assert t.agency_table("kota-b.mpp.disdukcapil.biodata_wni") == ("disdukcapil", "biodata_wni")
    # Another hub's change topic is not one of this hub's.
    assert t.agency_table("mpp.disdukcapil.biodata_wni") == (None, None)
    assert t.partitions_of("kota-b.mpp.canonical.person", 6) == 1
    assert t.partitions_of(topics.PERSON_TOPIC, 6) == 6  # the unprefixed hub's, not this one's


def test_without_a_prefix_the_names_are_the_hubs_own() -> None:
    t = KafkaSettings().topics
    assert t.person == topics.PERSON_TOPIC and t.group("mpphub-worker") == "mpphub-worker"
    assert t.deadletter_replays == topics.DEADLETTER_REPLAYS_TOPIC
    assert t.kept_records == {"cleanup.policy": "delete", "retention.ms": "-1"}


@pytest.mark.parametrize("prefix", ["kota b.", "kotab", ".kota.", "kota/b.", "x" * 64 + ".", "ğ."])
def test_a_bad_prefix_is_refused_with_the_rule(prefix: str) -> None:
    with pytest.raises(ValueError, match="is not a topic prefix: use letters, digits"):
        Topics(prefix)


def _connector(kafka: dict) -> dict:
    return {
        "agency": "disdukcapil",
        "source": {"mode": "polling", "url": "sqlite://"},
        "tables": [{"name": "BIODATA_WNI"}],
        "kafka": kafka,
    }


def test_a_connectors_topics_carry_the_hubs_prefix() -> None:
    config = parse_config(_connector({"topic_prefix": "kota-b.", "record_retention_ms": 3600000}))
    assert config.topic("BIODATA_WNI") == "kota-b.mpp.disdukcapil.biodata_wni"
    assert config.offsets_topic == "kota-b.mpp.hub.connect-offsets"
    assert config.deadletter_topic == "kota-b.mpp.hub.deadletter"
    assert config.kafka.client.topics.kept_records["retention.ms"] == "3600000"


def test_a_connectors_bad_prefix_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^c\.yaml: kafka\.topic_prefix: 'mpp' is not a topic"):
        parse_config(_connector({"topic_prefix": "mpp"}), where="c.yaml")
