"""A connector's configuration: one YAML file per agency database, validated once at start.

Unknown or misspelt keys are refused with their path (`source.pol_interval_s: unknown key`).
`${VAR}` in source.url is resolved from the environment mapping ops/ hands to `load_config` (this
package never reads os.environ), and `url_file` keeps credentials out of the file too. The URL is
never logged: `safe_url` gives the form with the password hidden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from eventlog import KafkaSettings
from eventlog.topics import check_prefix, check_retention
from schemas.registry import RegistryAuth

from .mode import MODES

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class ConfigError(ValueError):
    """A configuration the connector refuses to start with; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableConfig(_Strict):
    """One captured table."""

    name: str
    key: list[str] | None = Field(
        default=None, description="Key columns, when the table has no primary key."
    )
    timestamp_column: str | None = Field(
        default=None, description="Polling: the last-modified column (TGL_UBAH, updated_at)."
    )
    incrementing_column: str | None = Field(
        default=None, description="Polling: a strictly increasing column; default the key."
    )
    file: str | None = Field(
        default=None, description="File drop: file name pattern, default <table>*.csv / .xlsx."
    )


class SourceConfig(_Strict):
    mode: str = Field(description="The capture mode: a name in connectors.mode.MODES.")
    url: str | None = None
    url_file: Path | None = None
    # polling
    poll_interval_s: float = Field(default=1.0, gt=0)
    safety_delay_s: float = Field(default=5.0, ge=0)
    diff_interval_s: float = Field(default=60.0, gt=0)
    time_zone: str | None = Field(
        default=None,
        description=(
            "Polling: the zone of the wall-clock time the source's timestamp columns hold (IANA"
            " name, e.g. Asia/Makassar); default the hub's local time. A hub container on UTC"
            " reading WITA stamps would otherwise hold every change back eight hours."
        ),
    )
    # postgres
    slot: str | None = None
    publication: str | None = None
    create_slot: bool = True
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    # mariadb
    server_id: int = Field(default=4242, ge=1)
    # file drop
    directory: Path | None = None
    archive_directory: Path | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _known_mode(cls, v: object) -> object:
        if not isinstance(v, str) or v not in MODES:
            *names, last = (repr(n) for n in MODES)
            raise ValueError(f"Input should be {', '.join(names)} or {last}")
        return v

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (an IANA name: Asia/Makassar)") from None
        return v

    @model_validator(mode="after")
    def _needs_location(self) -> SourceConfig:
        if self.mode == "file":
            if self.directory is None:
                raise ValueError("source.directory is required for mode 'file'")
        elif not (self.url or self.url_file):
            raise ValueError(f"source.url or source.url_file is required for mode '{self.mode}'")
        return self


class KafkaConfig(_Strict):
    bootstrap: str = "127.0.0.1:9092"
    # The hub's prefix of every topic (eventlog.topics.Topics), as MPPHUB_TOPIC_PREFIX; and how
    # long dead letters are kept (-1: forever).
    topic_prefix: str = ""
    record_retention_ms: int = -1
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    linger_ms: int = Field(default=5, ge=0)
    # A secured cluster (as KafkaSettings): the password is read from a file, never written here.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return check_prefix(v)

    @field_validator("record_retention_ms")
    @classmethod
    def _retention(cls, v: int) -> int:
        return check_retention(v)

    @model_validator(mode="after")
    def _security_complete(self) -> KafkaConfig:
        try:
            self.client  # noqa: B018 - KafkaSettings refuses an incomplete SASL setup
        except ValidationError as e:
            raise ValueError(e.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self

    @property
    def client(self) -> KafkaSettings:
        """The event log's client settings for this cluster."""
        return KafkaSettings(
            bootstrap=self.bootstrap,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password_file=self.sasl_password_file,
            ssl_cafile=self.ssl_cafile,
            topic_prefix=self.topic_prefix,
            record_retention_ms=self.record_retention_ms,
        )


class RegistryConfig(_Strict):
    url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    # Basic auth (password from a file) and the CA of an https registry.
    username: str | None = None
    password_file: Path | None = None
    cafile: Path | None = None

    @property
    def auth(self) -> RegistryAuth:
        """The registry client's credentials."""
        return RegistryAuth(
            username=self.username, password_file=self.password_file, cafile=self.cafile
        )

    @model_validator(mode="after")
    def _auth_complete(self) -> RegistryConfig:
        try:
            self.auth  # noqa: B018 - RegistryAuth refuses a username without a password file
        except ValidationError as e:
            raise ValueError(e.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self


class SnapshotConfig(_Strict):
    enabled: bool = True
    chunk_size: int = Field(default=2000, ge=1)
    # How often the snapshot stores its offset (Kafka Connect's offset.flush.interval.ms):
    # always after the acknowledgements it covers, never per chunk.
    offset_flush_interval_s: float = Field(default=5.0, gt=0)


class ConnectorConfig(_Strict):
    """The whole connector: agency, source, tables, where events go."""

    agency: str
    name: str | None = None
    source: SourceConfig
    tables: list[TableConfig] = Field(min_length=1)
    kafka: KafkaConfig = KafkaConfig()
    registry: RegistryConfig = RegistryConfig()
    snapshot: SnapshotConfig = SnapshotConfig()
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    batch_size: int = Field(default=500, ge=1)
    # The values of the ${VAR}s source.url names: private, so no repr or dump shows them.
    _env: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("agency", "name")
    @classmethod
    def _slug(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError("use lower-case letters, digits, '-' and '_' (it names topics)")
        return v

    @model_validator(mode="after")
    def _unique_tables(self) -> ConnectorConfig:
        names = [t.name for t in self.tables]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"tables listed twice: {sorted(dup)}")
        return self

    @property
    def connector_name(self) -> str:
        return self.name or self.agency

    def topic(self, table: str) -> str:
        """[prefix]mpp.<agency>.<table> (lower-cased: Kafka topic names are case-sensitive)."""
        return self.kafka.client.topics.raw(self.agency, table)

    @property
    def offsets_topic(self) -> str:
        """Where the connectors of the hub keep their offsets (compacted, one partition)."""
        return self.kafka.client.topics.connect_offsets

    @property
    def deadletter_topic(self) -> str:
        """The hub's dead-letter topic."""
        return self.kafka.client.topics.deadletter

    def table(self, name: str) -> TableConfig:
        return next(t for t in self.tables if t.name == name)

    def source_url(self) -> str:
        """The database URL with ${VAR} resolved or read from url_file (never log it)."""
        if self.source.url_file is not None:
            try:
                return self.source.url_file.read_text().strip()
            except OSError as e:
                raise ConfigError(
                    f"source.url_file: cannot read {self.source.url_file}: {e.strerror}"
                ) from None
        assert self.source.url is not None
        return _expand(self.source.url, "source.url", self._env)

    def safe_url(self) -> str:
        """The URL with the password hidden, for logs and status."""
        try:
            return make_url(self.source_url()).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a malformed URL is reported elsewhere
            return "<unparsable url>"


def _expand(value: str, key: str, env: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        if var in env:
            return env[var]
        if default is not None:
            return default
        raise ConfigError(f"{key}: environment variable {var} is not set")

    return _ENV_REF.sub(sub, value)


def load_config(
    path: Path | str, overrides: dict | None = None, *, env: Mapping[str, str] | None = None
) -> ConnectorConfig:
    """Read and validate a connector YAML file; errors name the file and the key. `env` holds
    the variables `${VAR}` in source.url may name (ops/ passes os.environ)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse_config(data, where=str(path), env=env)


def parse_config(
    data: dict, where: str = "config", *, env: Mapping[str, str] | None = None
) -> ConnectorConfig:
    """Validate a config mapping; the first problem is reported as `<where>: key.path: why`.

    Only the variables source.url names are kept from `env`; one it lacks is reported when the
    URL is first used (`source.url: environment variable X is not set`)."""
    try:
        config = ConnectorConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(f"{where}: {loc}: {msg}") from None
    env = env or {}
    named = [var for var, _default in _ENV_REF.findall(config.source.url or "")]
    config._env = {var: env[var] for var in named if var in env}
    return config
