"""Kafka client settings shared by every stage: bootstrap servers and, for a secured cluster, the
security protocol, SASL credentials and CA file; and the hub's place on the cluster (its topic
prefix, how long it keeps records). One object, turned into client options and topic names here."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .topics import Topics, check_prefix, check_retention


class KafkaSettings(BaseModel):
    """Where the cluster is and how to authenticate to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    # A file, not the password: secrets stay out of environment dumps and process listings.
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    client_id: str | None = Field(default=None, description="Shown in the broker's logs.")
    # Put before every topic and consumer group of the hub: two hubs can share a cluster.
    topic_prefix: str = ""
    # retention.ms of dead letters and data-quality findings: -1 keeps them forever.
    record_retention_ms: int = -1

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return check_prefix(v)

    @field_validator("record_retention_ms")
    @classmethod
    def _retention(cls, v: int) -> int:
        return check_retention(v)

    @field_validator("bootstrap")
    @classmethod
    def _hosts(cls, v: str) -> str:
        hosts = [h.strip() for h in v.split(",") if h.strip()]
        if not hosts or any(":" not in h for h in hosts):
            raise ValueError("expected host:port[,host:port...]")
        return ",".join(hosts)

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password_file
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism,"
                " sasl_username and sasl_password_file"
            )
        return self

    @property
    def topics(self) -> Topics:
        """The names (and configurations) of this hub's topics and consumer groups."""
        return Topics(self.topic_prefix, self.record_retention_ms)

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list of host:port."""
        return self.bootstrap.split(",")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.servers}
        if self.client_id:
            options["client_id"] = self.client_id
        if self.security_protocol == "PLAINTEXT":
            return options
        options["security_protocol"] = self.security_protocol
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = ssl.create_default_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password_file is not None
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password_file.read_text().strip()
        return options

    def faust_credentials(self) -> Any:
        """The same settings as Faust's broker_credentials (None for plaintext)."""
        import faust  # here: the connectors, which never run Faust, need not load it

        options = self.client_options()
        if self.security_protocol.startswith("SASL_"):
            return faust.SASLCredentials(
                username=options["sasl_plain_username"],
                password=options["sasl_plain_password"],
                ssl_context=options.get("ssl_context"),
                mechanism=options["sasl_mechanism"],
            )
        if self.security_protocol == "SSL":
            return faust.SSLCredentials(options["ssl_context"])
        return None


# What a client's failed connection says (aiokafka logs the reason), and the setting to check.
_HINTS = (
    (
        "SaslAuthenticationFailed",
        "the broker refused the SASL user or password: check"
        " sasl_username and sasl_password_file (MPPHUB_KAFKA_SASL_USERNAME,"
        " MPPHUB_KAFKA_SASL_PASSWORD_FILE)",
    ),
    (
        "certificate has expired",
        "a certificate has expired (the broker's, or the CA in ssl_cafile): renew it, or check"
        " ssl_cafile (MPPHUB_KAFKA_SSL_CAFILE)",
    ),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "the broker's certificate is not trusted: check ssl_cafile (MPPHUB_KAFKA_SSL_CAFILE)",
    ),
    (
        "UnsupportedSaslMechanism",
        "the broker does not offer this SASL mechanism: check"
        " sasl_mechanism (MPPHUB_KAFKA_SASL_MECHANISM)",
    ),
    (
        "closed",
        "the broker closed the connection: does it require TLS or SASL? check"
        " security_protocol (MPPHUB_KAFKA_SECURITY_PROTOCOL)",
    ),
    (
        "WRONG_VERSION_NUMBER",
        "the broker does not speak TLS there: check security_protocol"
        " (MPPHUB_KAFKA_SECURITY_PROTOCOL)",
    ),
    (
        "Connect call failed",  # asyncio's words; uvloop's are "Connection refused"
        "nothing answers there: check bootstrap (MPPHUB_KAFKA_BOOTSTRAP) and that the brokers run",
    ),
    (
        "Connection refused",
        "nothing answers there: check bootstrap (MPPHUB_KAFKA_BOOTSTRAP) and that the brokers run",
    ),
    (
        "Name or service not known",
        "the broker's host name is unknown: check bootstrap (MPPHUB_KAFKA_BOOTSTRAP)",
    ),
)
# Said when the client logged nothing we recognise (e.g. no answer before its timeout).
UNREACHABLE_HINT = (
    "no broker answered: check bootstrap (MPPHUB_KAFKA_BOOTSTRAP) and that the brokers run"
)


def connection_hint(reason: str) -> str | None:
    """The setting to check, for the reason a client could not connect (None: no idea)."""
    return next((hint for key, hint in _HINTS if key in reason), None)


class _LastFailure(logging.Handler):
    """Keeps the last connection failure aiokafka logged: its exception says only "Unable to
    bootstrap", the log line says why (refused credentials, expired certificate...)."""

    reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "nable connect to" in text or "Authentication failed" in text:
            _LastFailure.reason = text


logging.getLogger("aiokafka").addHandler(_LastFailure(logging.ERROR))


def last_connection_failure() -> str:
    """What the last failed connection of this process said ('' when none failed)."""
    return _LastFailure.reason


def unreachable_message(kafka: KafkaSettings) -> str:
    """One line for a client that could not connect: where, and the setting to check."""
    hint = connection_hint(_LastFailure.reason) or UNREACHABLE_HINT
    return f"cannot connect to Kafka at {kafka.bootstrap}: {hint}"
