"""eventlog/settings.py: one client configuration, turned into aiokafka options."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventlog import KafkaSettings


def test_plaintext_gives_only_the_servers() -> None:
    kafka = KafkaSettings(bootstrap=" k1:9092 , k2:9093 ,")
    assert kafka.bootstrap == "k1:9092,k2:9093"
    assert kafka.client_options() == {"bootstrap_servers": ["k1:9092", "k2:9093"]}


@pytest.mark.parametrize("bootstrap", ["", "kafka", "k1:9092,kafka"])
def test_a_bootstrap_without_ports_is_refused(bootstrap: str) -> None:
    with pytest.raises(ValidationError, match="host:port"):
        KafkaSettings(bootstrap=bootstrap)


def test_sasl_ssl_reads_the_password_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret\n")
    kafka = KafkaSettings(
        bootstrap="k1:9094",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="mpphub",
        sasl_password_file=secret,
        client_id="mpphub-worker",
    )
    options = kafka.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("mpphub", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["client_id"] == "mpphub-worker"
    assert "s3cret" not in repr(kafka)  # the settings hold the file's path, not the secret


def test_sasl_without_a_password_file_is_refused() -> None:
    with pytest.raises(ValidationError, match="sasl_password_file"):
        KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u")
