"""The hub's settings, read once from MPPHUB_* variables (and command-line options, which win)
and handed to each stage as its own plain object: StreamSettings, ProjectionSettings,
ApiSettings. The only place that reads the environment for the worker, the API and rebuild;
defaults live with each stage's settings, not here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projections.settings import ApiSettings, ProjectionSettings
from streams.settings import StreamSettings


class SettingsError(ValueError):
    """A setting the hub refuses to start with; the message names the variable."""


_KAFKA = ("stream.kafka", "projection.kafka", "api.kafka")
_BOTH = ("stream", "projection")

# Environment variable -> the settings it sets (dotted paths into HubSettings).
ENV_VARS: dict[str, tuple[str, ...]] = {
    "MPPHUB_APP_ID": (*(f"{s}.app_id" for s in _BOTH), "api.worker_app_id"),
    # Before the other Kafka variables: a check across the client's fields names this one.
    "MPPHUB_KAFKA_SECURITY_PROTOCOL": tuple(f"{k}.security_protocol" for k in _KAFKA),
    "MPPHUB_KAFKA_BOOTSTRAP": tuple(f"{k}.bootstrap" for k in _KAFKA),
    "MPPHUB_KAFKA_SASL_MECHANISM": tuple(f"{k}.sasl_mechanism" for k in _KAFKA),
    "MPPHUB_KAFKA_SASL_USERNAME": tuple(f"{k}.sasl_username" for k in _KAFKA),
    "MPPHUB_KAFKA_SASL_PASSWORD_FILE": tuple(f"{k}.sasl_password_file" for k in _KAFKA),
    "MPPHUB_KAFKA_SSL_CAFILE": tuple(f"{k}.ssl_cafile" for k in _KAFKA),
    # Put before every topic and consumer group: hubs with different prefixes share a cluster.
    "MPPHUB_TOPIC_PREFIX": tuple(f"{k}.topic_prefix" for k in _KAFKA),
    # How long dead letters and data-quality findings are kept (ms; -1: forever).
    "MPPHUB_RECORD_RETENTION_MS": tuple(f"{k}.record_retention_ms" for k in _KAFKA),
    "MPPHUB_REGISTRY_URL": tuple(f"{s}.registry_url" for s in (*_BOTH, "api")),
    "MPPHUB_REGISTRY_USERNAME": tuple(f"{s}.registry_auth.username" for s in (*_BOTH, "api")),
    "MPPHUB_REGISTRY_PASSWORD_FILE": tuple(
        f"{s}.registry_auth.password_file" for s in (*_BOTH, "api")
    ),
    "MPPHUB_REGISTRY_CAFILE": tuple(f"{s}.registry_auth.cafile" for s in (*_BOTH, "api")),
    "MPPHUB_PROJECTION_DB_URL": ("projection.db_url", "api.db_url"),
    "MPPHUB_PROJECTION_LOCK_TIMEOUT_S": ("projection.lock_timeout_s",),
    "MPPHUB_PROJECTION_IDLE_TX_TIMEOUT_S": ("projection.idle_in_transaction_timeout_s",),
    "MPPHUB_RAW_TOPICS": ("stream.raw_topics",),
    "MPPHUB_TOPIC_PARTITIONS": tuple(f"{s}.topic_partitions" for s in _BOTH),
    "MPPHUB_REPLICATION_FACTOR": tuple(f"{s}.replication_factor" for s in _BOTH),
    "MPPHUB_WORKER_STORE": ("stream.store",),
    "MPPHUB_WORKER_DATA_DIR": tuple(f"{s}.data_dir" for s in _BOTH),
    "MPPHUB_WORKER_STOP_TIMEOUT_S": ("stream.stop_timeout_s",),
    "MPPHUB_BATCH_SIZE": tuple(f"{s}.batch_size" for s in _BOTH),
    # Seconds a stage waits to fill a batch (> 0): lower for freshness, higher for throughput.
    "MPPHUB_BATCH_WITHIN_S": tuple(f"{s}.batch_within_s" for s in _BOTH),
    "MPPHUB_METRICS_PORT": ("metrics_port",),
    "MPPHUB_METRICS_ADDR": ("metrics_addr",),
    "MPPHUB_API_HOST": ("api.host",),
    "MPPHUB_API_PORT": ("api.port",),
    # Comma-separated Prometheus endpoints the pipeline health page links to.
    "MPPHUB_METRICS_URLS": ("api.metrics_urls",),
    # The regency's IANA time zone: the pages show the hub's own (UTC) times in it.
    "MPPHUB_TIME_ZONE": ("api.time_zone",),
    "MPPHUB_LOG_LEVEL": tuple(f"{s}.log_level" for s in (*_BOTH, "api")),
    "MPPHUB_SECRET_FILE": ("stream.secret_file", "projection.secret_file", "api.secret_file"),
    "MPPHUB_AUDIT_DB_URL": ("api.audit_db_url",),
    "MPPHUB_AUDIT_HEAD_INTERVAL_S": ("api.audit_head_interval_s",),
    # Front-office login (projections/auth): built-in accounts, an OIDC provider, rate limits.
    "MPPHUB_ACCOUNTS_DB_URL": ("api.auth.accounts_db_url",),
    "MPPHUB_OIDC_ISSUER": ("api.auth.oidc_issuer",),
    "MPPHUB_OIDC_AUDIENCE": ("api.auth.oidc_audience",),
    "MPPHUB_OIDC_ROLES_CLAIM": ("api.auth.oidc_roles_claim",),
    "MPPHUB_OIDC_AGENCY_CLAIM": ("api.auth.oidc_agency_claim",),
    "MPPHUB_OIDC_USERNAME_CLAIM": ("api.auth.oidc_username_claim",),
    "MPPHUB_LOGIN_RATE": ("api.auth.login_rate",),
    "MPPHUB_SEARCH_RATE": ("api.auth.search_rate",),
}


class HubSettings(BaseModel):
    """Every setting of `mpphub worker`, `api` and `rebuild`: each stage's own, and the
    process's metrics endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stream: StreamSettings = StreamSettings()
    projection: ProjectionSettings = ProjectionSettings()
    api: ApiSettings = ApiSettings()
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> HubSettings:
        """Defaults < MPPHUB_* environment variables < `overrides` (CLI options, by the name of
        the variable they stand for); a bad value is refused with the name of its variable."""
        values = {k: v for k, v in (os.environ if env is None else env).items() if v}
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        data: dict[str, Any] = {}
        for var, paths in ENV_VARS.items():
            if var not in values:
                continue
            value = values[var]
            if var in ("MPPHUB_RAW_TOPICS", "MPPHUB_METRICS_URLS") and isinstance(value, str):
                value = tuple(t.strip() for t in value.split(",") if t.strip())
            for path in paths:
                _put(data, path, value)
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            raise SettingsError(f"{_variable(path)}: {message}") from None


def _variable(path: str) -> str:
    """The variable that sets a field, or, for a check across fields (`stream.kafka`), the
    first variable under it."""
    for var, paths in ENV_VARS.items():
        if any(p == path or p.startswith(f"{path}.") for p in paths):
            return var
    return path or "?"


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        data = data.setdefault(p, {})
    data[leaf] = value
