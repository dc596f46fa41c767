"""The event producer's librdkafka settings follow the hub's Kafka settings."""

from __future__ import annotations

from pathlib import Path

from connectors.producer import EventProducer, librdkafka_options
from eventlog import KafkaSettings


def test_plaintext_names_only_the_servers() -> None:
    assert librdkafka_options(KafkaSettings(bootstrap="a:1,b:2")) == {
        "bootstrap.servers": "a:1,b:2"
    }


def test_sasl_ssl_reads_the_password_from_its_file(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    ca = tmp_path / "ca.pem"
    kafka = KafkaSettings(
        bootstrap="127.0.0.1:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="hub",
        sasl_password_file=password,
        ssl_cafile=ca,
    )
    assert librdkafka_options(kafka) == {
        "bootstrap.servers": "127.0.0.1:9093",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(ca),
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "hub",
        "sasl.password": "s3cret",
    }


def test_events_are_sent_with_acks_all_idempotence_linger_and_lz4() -> None:
    conf = EventProducer(KafkaSettings(), "c", linger_ms=20).conf
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert conf["compression.type"] == "lz4" and conf["linger.ms"] == 20
    assert conf["partitioner"] == "murmur2_random"  # the Java client's, as aiokafka's default
