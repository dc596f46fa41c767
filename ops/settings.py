"""The hub's settings, read once from MPPHUB_* variables and command-line options and handed down
to each stage as its own plain object (streams: StreamSettings, projections: ProjectionSettings
and ApiSettings). The only place that reads the environment for the worker, API and rebuild."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventlog import KafkaSettings
from projections.settings import ApiSettings, ProjectionSettings
from streams.settings import DEFAULT_RAW_TOPICS, StreamSettings


class SettingsError(ValueError):
    """A setting the hub refuses to start with; the message names the variable."""


# Environment variable -> field of HubSettings (dotted for the Kafka client settings).
ENV_VARS: dict[str, str] = {
    "MPPHUB_APP_ID": "app_id",
    "MPPHUB_KAFKA_BOOTSTRAP": "kafka.bootstrap",
    "MPPHUB_KAFKA_SECURITY_PROTOCOL": "kafka.security_protocol",
    "MPPHUB_KAFKA_SASL_MECHANISM": "kafka.sasl_mechanism",
    "MPPHUB_KAFKA_SASL_USERNAME": "kafka.sasl_username",
    "MPPHUB_KAFKA_SASL_PASSWORD_FILE": "kafka.sasl_password_file",
    "MPPHUB_KAFKA_SSL_CAFILE": "kafka.ssl_cafile",
    "MPPHUB_REGISTRY_URL": "registry_url",
    "MPPHUB_PROJECTION_DB_URL": "projection_db_url",
    "MPPHUB_RAW_TOPICS": "raw_topics",
    "MPPHUB_TOPIC_PARTITIONS": "topic_partitions",
    "MPPHUB_REPLICATION_FACTOR": "replication_factor",
    "MPPHUB_WORKER_STORE": "store",
    "MPPHUB_WORKER_DATA_DIR": "data_dir",
    "MPPHUB_BATCH_SIZE": "batch_size",
    "MPPHUB_METRICS_PORT": "metrics_port",
    "MPPHUB_METRICS_ADDR": "metrics_addr",
    "MPPHUB_API_HOST": "api_host",
    "MPPHUB_API_PORT": "api_port",
    "MPPHUB_LOG_LEVEL": "log_level",
}


class HubSettings(BaseModel):
    """Every setting of `mpphub worker`, `api` and `rebuild`, flat as operators set them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = "mpphub-worker"
    kafka: KafkaSettings = KafkaSettings()
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    projection_db_url: str = "sqlite:///.mpphub/projections.db"
    raw_topics: tuple[str, ...] = DEFAULT_RAW_TOPICS
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    store: str = "memory://"
    data_dir: str = ".mpphub/worker"
    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.2, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> HubSettings:
        """Defaults < MPPHUB_* environment variables < explicit overrides (CLI flags); a bad
        value is refused with the name of its variable."""
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        for var, name in ENV_VARS.items():
            if env.get(var):
                value: Any = env[var]
                if name == "raw_topics":
                    value = tuple(t.strip() for t in value.split(",") if t.strip())
                _put(data, name, value)
        for name, value in overrides.items():
            if value is not None:
                _put(data, name, value)
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            name = ".".join(str(p) for p in err["loc"]) or "?"
            var = next((v for v, f in ENV_VARS.items() if f == name), name)
            raise SettingsError(f"{var}: {err['msg'].removeprefix('Value error, ')}") from None

    @property
    def stream(self) -> StreamSettings:
        """What the stream stage gets."""
        return StreamSettings(
            app_id=self.app_id,
            kafka=self.kafka,
            registry_url=self.registry_url,
            raw_topics=self.raw_topics,
            topic_partitions=self.topic_partitions,
            replication_factor=self.replication_factor,
            store=self.store,
            data_dir=self.data_dir,
            batch_size=self.batch_size,
            batch_within_s=self.batch_within_s,
            log_level=self.log_level,
        )

    @property
    def projection(self) -> ProjectionSettings:
        """What the projection writer and rebuild get."""
        return ProjectionSettings(
            app_id=self.app_id,
            kafka=self.kafka,
            registry_url=self.registry_url,
            db_url=self.projection_db_url,
            topic_partitions=self.topic_partitions,
            replication_factor=self.replication_factor,
            data_dir=self.data_dir,
            batch_size=self.batch_size,
            batch_within_s=self.batch_within_s,
            log_level=self.log_level,
        )

    @property
    def api(self) -> ApiSettings:
        """What the front-office API gets."""
        return ApiSettings(
            db_url=self.projection_db_url,
            host=self.api_host,
            port=self.api_port,
            log_level=self.log_level,
        )


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        data = data.setdefault(p, {})
    data[leaf] = value
