"""The read side's settings: the projection writer (and rebuild) and the front-office API, plain
objects handed down by ops/; nothing in projections/ reads the environment."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eventlog import KafkaSettings
from schemas.registry import RegistryAuth

from .auth.settings import AuthSettings

DEFAULT_DB_URL = "sqlite:///.mpphub/projections.db"
DEFAULT_AUDIT_DB_URL = "sqlite:///.mpphub/audit.db"
DEFAULT_REGISTRY_URL = "http://127.0.0.1:8081/apis/ccompat/v7"


class ProjectionSettings(BaseModel):
    """What the projection agent, a projection-only worker and `mpphub rebuild` need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = "mpphub-worker"
    kafka: KafkaSettings = KafkaSettings()
    registry_url: str = DEFAULT_REGISTRY_URL
    registry_auth: RegistryAuth = RegistryAuth()
    db_url: str = DEFAULT_DB_URL
    # Used when the projection creates the canonical topics it reads (before normalize did).
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    data_dir: str = ".mpphub/worker"
    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.2, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # PostgreSQL only (store.LockTimeouts): a row lock waited for longer fails the batch, which
    # is retried; a session idle inside a transaction longer is ended by the server (a stopped
    # worker's locks released). 0 disables.
    lock_timeout_s: float = Field(default=10.0, ge=0)
    idle_in_transaction_timeout_s: float = Field(default=30.0, ge=0)
    # The hub's secret (domain/tokens.py): on PostgreSQL the join locks' names are keyed under
    # it (store.lock_key), as they hold source record ids that may be NIKs.
    secret_file: Path = Path(".mpphub/secret")


class ApiSettings(BaseModel):
    """What the front-office API needs: its database, and Kafka and the registry for the
    supervisors' review decisions it produces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str = DEFAULT_DB_URL
    kafka: KafkaSettings = KafkaSettings()
    registry_url: str = DEFAULT_REGISTRY_URL
    registry_auth: RegistryAuth = RegistryAuth()
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The audit of reads (projections/audit): a database of its own, never the projections'
    # (the worker is never given its URL).
    audit_db_url: str = DEFAULT_AUDIT_DB_URL
    # How often the audit chain's head is published to Kafka, in seconds (0: never).
    audit_head_interval_s: float = Field(default=60.0, ge=0)
    # The hub's secret (domain/tokens.py): NIK tokens in the audit, and its chain's HMAC.
    secret_file: Path = Path(".mpphub/secret")
    # Who may call it: built-in accounts (their own database), OIDC tokens, rate limits.
    auth: AuthSettings = AuthSettings()
    # Pipeline health (projections/pipeline.py): the worker's app id (its consumer group: the lag
    # on the source tables), and the Prometheus metrics endpoints the page links to.
    worker_app_id: str = "mpphub-worker"
    metrics_urls: tuple[str, ...] = ()
    # The regency's time zone (IANA name): the pages show the hub's own times (stored in UTC:
    # review queue, pipeline health, a slip's print time) in it, with its abbreviation (WITA).
    # Agencies' times (a permit's status times, a record's change time) are their local times
    # as the agency stored them and are shown as they are.
    time_zone: str = "Asia/Makassar"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"not an IANA time zone: {value!r} (Asia/Jakarta, Asia/Makassar, Asia/Jayapura)"
            ) from None
        return value
