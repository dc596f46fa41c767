"""ops/settings.py: MPPHUB_* variables and CLI options reach each stage's own settings; a bad
value is refused naming its variable."""

from __future__ import annotations

import pytest

from ops.settings import ENV_VARS, HubSettings, SettingsError
from projections.settings import ApiSettings, ProjectionSettings
from streams.settings import StreamSettings


def test_without_variables_each_stage_keeps_its_own_defaults() -> None:
    hub = HubSettings.from_env({})
    assert hub.stream == StreamSettings()
    assert hub.projection == ProjectionSettings()
    assert hub.api == ApiSettings()
    assert hub.metrics_port is None


def test_a_shared_variable_reaches_every_stage_that_uses_it() -> None:
    hub = HubSettings.from_env(
        {
            "MPPHUB_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
            "MPPHUB_REGISTRY_URL": "http://registry:8080/apis/ccompat/v7",
            "MPPHUB_PROJECTION_DB_URL": "postgresql+psycopg://hub@db/hub",
            "MPPHUB_APP_ID": "mpphub-a",
            "MPPHUB_LOG_LEVEL": "warning",
        }
    )
    assert hub.stream.kafka.servers == hub.projection.kafka.servers == ["k1:9092", "k2:9092"]
    assert hub.stream.registry_url == hub.projection.registry_url
    assert hub.projection.db_url == hub.api.db_url == "postgresql+psycopg://hub@db/hub"
    assert hub.stream.app_id == hub.projection.app_id == "mpphub-a"
    assert {hub.stream.log_level, hub.projection.log_level, hub.api.log_level} == {"warning"}


def test_stage_only_variables_and_types() -> None:
    hub = HubSettings.from_env(
        {
            "MPPHUB_RAW_TOPICS": " mpp.a.t1 , mpp.b.t2,",
            "MPPHUB_TOPIC_PARTITIONS": "6",
            "MPPHUB_METRICS_PORT": "9400",
            "MPPHUB_API_PORT": "8123",
        }
    )
    assert hub.stream.raw_topics == ("mpp.a.t1", "mpp.b.t2")
    assert hub.stream.topic_partitions == hub.projection.topic_partitions == 6
    assert (hub.metrics_port, hub.api.port) == (9400, 8123)


def test_the_batch_wait_reaches_both_stages_and_keeps_its_default_unset() -> None:
    assert StreamSettings().batch_within_s == ProjectionSettings().batch_within_s == 0.2
    hub = HubSettings.from_env({"MPPHUB_BATCH_WITHIN_S": "0.05"})
    assert hub.stream.batch_within_s == hub.projection.batch_within_s == 0.05


def test_command_line_options_win_over_the_environment() -> None:
    hub = HubSettings.from_env(
        {"MPPHUB_PROJECTION_DB_URL": "sqlite:///env.db", "MPPHUB_METRICS_PORT": "9400"},
        overrides={"MPPHUB_PROJECTION_DB_URL": "sqlite:///cli.db", "MPPHUB_METRICS_PORT": None},
    )
    assert hub.projection.db_url == hub.api.db_url == "sqlite:///cli.db"
    assert hub.metrics_port == 9400  # an option not given leaves the variable's value


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MPPHUB_TOPIC_PARTITIONS": "0"}, "MPPHUB_TOPIC_PARTITIONS"),
        ({"MPPHUB_BATCH_SIZE": "many"}, "MPPHUB_BATCH_SIZE"),
        ({"MPPHUB_BATCH_WITHIN_S": "0"}, "MPPHUB_BATCH_WITHIN_S"),
        ({"MPPHUB_BATCH_WITHIN_S": "-0.1"}, "MPPHUB_BATCH_WITHIN_S"),
        ({"MPPHUB_METRICS_PORT": "70000"}, "MPPHUB_METRICS_PORT"),
        ({"MPPHUB_LOG_LEVEL": "loud"}, "MPPHUB_LOG_LEVEL"),
        ({"MPPHUB_KAFKA_BOOTSTRAP": "no-port"}, "MPPHUB_KAFKA_BOOTSTRAP"),
        ({"MPPHUB_KAFKA_SECURITY_PROTOCOL": "TLS"}, "MPPHUB_KAFKA_SECURITY_PROTOCOL"),
        ({"MPPHUB_TOPIC_PREFIX": "kota b."}, "MPPHUB_TOPIC_PREFIX"),
        ({"MPPHUB_TOPIC_PREFIX": "kotab"}, "MPPHUB_TOPIC_PREFIX"),
        ({"MPPHUB_RECORD_RETENTION_MS": "0"}, "MPPHUB_RECORD_RETENTION_MS"),
        ({"MPPHUB_RECORD_RETENTION_MS": "a week"}, "MPPHUB_RECORD_RETENTION_MS"),
        ({"MPPHUB_TIME_ZONE": "WITA"}, "MPPHUB_TIME_ZONE"),
        ({"MPPHUB_TIME_ZONE": "../../etc/passwd"}, "MPPHUB_TIME_ZONE"),
    ],
)
def test_a_bad_value_is_refused_with_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as e:
        HubSettings.from_env(env)
    assert str(e.value).startswith(f"{variable}: ")


def test_the_topic_prefix_and_record_retention_reach_every_kafka_client() -> None:
    hub = HubSettings.from_env(
        {"MPPHUB_TOPIC_PREFIX": "kota-b.", "MPPHUB_RECORD_RETENTION_MS": "604800000"}
    )
    for kafka in (hub.stream.kafka, hub.projection.kafka, hub.api.kafka):
        assert kafka.topics.deadletter == "kota-b.mpp.hub.deadletter"
        assert kafka.topics.kept_records["retention.ms"] == "604800000"
    assert hub.stream.kafka.topics.group(hub.stream.app_id) == f"kota-b.{hub.stream.app_id}"
    with pytest.raises(SettingsError, match=r"^MPPHUB_TOPIC_PREFIX: 'kota b\.' is not a"):
        HubSettings.from_env({"MPPHUB_TOPIC_PREFIX": "kota b."})


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(SettingsError) as e:
        HubSettings.from_env({"MPPHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert str(e.value).startswith("MPPHUB_KAFKA_SECURITY_PROTOCOL: ")
    assert "needs sasl_mechanism, sasl_username and sasl_password_file" in str(e.value)


def test_every_variable_sets_a_real_field() -> None:
    fields = {
        "": HubSettings.model_fields,
        "stream": StreamSettings.model_fields,
        "projection": ProjectionSettings.model_fields,
        "api": ApiSettings.model_fields,
    }
    for var, paths in ENV_VARS.items():
        for path in paths:
            parts = path.split(".")
            owner = parts[0] if len(parts) > 1 else ""
            assert parts[1 if owner else 0] in fields[owner], (var, path)
