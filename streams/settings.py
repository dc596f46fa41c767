"""The worker's settings: one typed object, built from the environment once at start and passed
down explicitly (no module reads the environment on its own)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The raw change topics the worker reads by default: the demo agencies' tables
# (topic = mpp.<agency>.<table lower-cased>, as the connectors name them).
DEFAULT_RAW_TOPICS = (
    "mpp.disdukcapil.biodata_wni",
    "mpp.disdukcapil.data_keluarga",
    "mpp.disdukcapil.pindah_datang",
    "mpp.dpmptsp.tmpemohon",
    "mpp.dpmptsp.trperizinan",
    "mpp.dpmptsp.tmpermohonan",
    "mpp.dpmptsp.trstspermohonan_log",
)


class SettingsError(ValueError):
    """A setting the worker refuses to start with; the message names the variable."""


class WorkerSettings(BaseModel):
    """Everything `mpphub worker` (and the projection tools) need to know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = "mpphub-worker"
    kafka_bootstrap: str = "127.0.0.1:9092"
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    projection_db_url: str = "sqlite:///.mpphub/projections.db"
    raw_topics: tuple[str, ...] = DEFAULT_RAW_TOPICS
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Faust table store: memory:// locally and in tests, rocksdb:// in production.
    store: str = "memory://"
    data_dir: str = ".mpphub/worker"
    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.2, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> WorkerSettings:
        """Defaults < MPPHUB_* environment variables < explicit overrides (CLI flags)."""
        env = dict(os.environ if env is None else env)
        keys = {
            "MPPHUB_APP_ID": "app_id",
            "MPPHUB_KAFKA_BOOTSTRAP": "kafka_bootstrap",
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
            "MPPHUB_LOG_LEVEL": "log_level",
        }
        data: dict = {}
        for var, field in keys.items():
            if env.get(var):
                value = env[var]
                data[field] = (
                    tuple(t.strip() for t in value.split(",") if t.strip())
                    if field == "raw_topics"
                    else value
                )
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            var = next((v for v, f in keys.items() if f == field), field)
            raise SettingsError(f"{var}: {err['msg']}") from None
