"""The stream stage's settings: one plain object handed down by ops/ (which reads the
environment and the command line); nothing in streams/ reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eventlog import KafkaSettings
from schemas.registry import RegistryAuth

from .mappings import raw_topics

# The raw change topics the worker reads by default: every table of every agency's mapping file
# (streams/mappings/agencies/; topic = mpp.<agency>.<table lower-cased>, as the connectors name
# them), so that a new agency is a new file, not a change here. Names within the hub: the worker
# puts its topic prefix (KafkaSettings.topic_prefix) before them.
DEFAULT_RAW_TOPICS = raw_topics()


class StreamSettings(BaseModel):
    """What the Faust worker and its agents (normalize, identity) need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = "mpphub-worker"
    kafka: KafkaSettings = KafkaSettings()
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    registry_auth: RegistryAuth = RegistryAuth()
    raw_topics: tuple[str, ...] = DEFAULT_RAW_TOPICS
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Faust table store: memory:// locally and in tests, rocksdb:// in production.
    store: str = "memory://"
    data_dir: str = ".mpphub/worker"
    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.2, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # A stop (SIGTERM/SIGINT) is graceful up to this many seconds, then the process exits: with
    # the brokers gone (the demo killed, a network cut) Faust's own stop waits on commits and
    # flushes that never complete. Nothing is lost by it: projection checkpoints commit with
    # their rows and the identity log is transactional.
    stop_timeout_s: float = Field(default=15.0, gt=0, le=600)
    # The hub's secret: record keys and person ids are keyed tokens under it (domain/tokens.py).
    # Created once per hub and kept (a new secret gives every record a new key).
    secret_file: Path = Path(".mpphub/secret")
