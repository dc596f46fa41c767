"""`stack up --secure`: SASL_SSL (SCRAM-SHA-512) brokers and an HTTPS registry with basic auth.

The hub's own settings reach both; a plaintext client, a wrong password and a missing
credential are refused quickly, with one line naming the setting to check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from eventlog.admin import ensure_topics
from eventlog.settings import KafkaSettings, connection_hint
from ops.stack import Stack
from ops.stack.kafka import BrokerSpec, server_properties
from ops.stack.secure import StackSecrets
from schemas.registry import RegistryAuth, RegistryClient, RegistryError
from tests.conftest import test_stack_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("secure")
    cfg = dataclasses.replace(test_stack_config(tmp / "s", base=700), secure=True)
    s = Stack(cfg, log=lambda m: None)
    try:
        s.up(timeout=180)
        yield s
    finally:
        s.down()


def _env(stack: Stack, **extra: str) -> dict[str, str]:
    """The process environment of a hub command: the stack's client.env, then `extra`."""
    assert stack.secrets is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPHUB_")}
    for line in stack.secrets.client_env.read_text().splitlines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    env.update(extra)
    return env


# --- without a stack -------------------------------------------------------------------------
def test_secure_broker_config_keeps_the_controller_plaintext_on_loopback(tmp_path: Path) -> None:
    secrets = StackSecrets(tmp_path / "secure")
    secrets.make()
    spec = BrokerSpec(1, 9092, 9093, tmp_path / "kafka-1")
    props = dict(ln.split("=", 1) for ln in server_properties(spec, [spec], secrets).splitlines())
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert "ScramLoginModule" in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    for secret in (secrets.hub_password, secrets.registry_password, secrets.server_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    # Made once: a second `make` keeps the credentials clients already hold.
    before = secrets.hub_password.read_text()
    secrets.make()
    assert secrets.hub_password.read_text() == before


def test_each_connection_failure_names_the_setting_to_check() -> None:
    assert "MPPHUB_KAFKA_SASL_PASSWORD_FILE" in connection_hint(
        "Unable connect to x: [Error 58] SaslAuthenticationFailed: invalid credentials"
    )
    assert "MPPHUB_KAFKA_SSL_CAFILE" in connection_hint("[SSL: CERTIFICATE_VERIFY_FAILED] ...")
    assert "MPPHUB_KAFKA_SECURITY_PROTOCOL" in connection_hint("Connection at x closed")
    expired = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"
    assert "has expired" in connection_hint(expired) and "MPPHUB_KAFKA_SSL_CAFILE" in (
        connection_hint(expired)
    )
    refused = 'Unable connect to "127.0.0.1:1": [Errno 111] Connect call failed'
    assert "MPPHUB_KAFKA_BOOTSTRAP" in connection_hint(refused)
    assert connection_hint("something else") is None


def test_registry_auth_needs_username_and_password_file_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        RegistryAuth(username="hub")


# --- against a secured stack -----------------------------------------------------------------
@pytest.mark.integration
def test_the_hub_settings_produce_and_consume(secure_stack: Stack) -> None:
    kafka = secure_stack.kafka_settings()
    assert kafka.security_protocol == "SASL_SSL" and kafka.sasl_mechanism == "SCRAM-SHA-512"

    async def roundtrip() -> list[bytes]:
        await ensure_topics(kafka, {"t.secure": {}}, partitions=1, replication_factor=1)
        producer = AIOKafkaProducer(**kafka.client_options(), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait("t.secure", b"hello")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            "t.secure", **kafka.client_options(), auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=10000)
            return [r.value for records in batch.values() for r in records]
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == [b"hello"]


@pytest.mark.integration
def test_a_plaintext_client_is_refused_quickly(secure_stack: Stack) -> None:
    async def plaintext() -> None:
        plain = KafkaSettings(bootstrap=secure_stack.bootstrap)
        producer = AIOKafkaProducer(**plain.client_options())
        try:
            await asyncio.wait_for(producer.start(), 20)
        finally:
            await producer.stop()

    started = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        asyncio.run(plaintext())
    assert time.monotonic() - started < 20


@pytest.mark.integration
def test_a_wrong_password_is_one_line_and_a_failed_command(
    secure_stack: Stack, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"agency: test\nsource: {{mode: file, directory: {tmp_path}}}\n"
        "tables: [{name: t, key: [id]}]\n"
    )
    argv = [sys.executable, "-m", "ops.cli", "connect", str(config), "--status"]
    ok = subprocess.run(argv, env=_env(secure_stack), capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        argv,
        env=_env(secure_stack, MPPHUB_KAFKA_SASL_PASSWORD_FILE=str(wrong)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1, bad.stderr
    assert "MPPHUB_KAFKA_SASL_PASSWORD_FILE" in lines[0]
    assert "not-the-password" not in bad.stderr + bad.stdout


@pytest.mark.integration
def test_the_registry_answers_https_with_credentials_only(secure_stack: Stack) -> None:
    secrets = secure_stack.secrets
    assert secrets is not None and secure_stack.registry_url.startswith("https://")
    auth = RegistryAuth(username="hub", password_file=secrets.registry_password, cafile=secrets.ca)
    with RegistryClient(secure_stack.registry_url, **auth.options()) as registry:
        schema_id = registry.register("t.secure-value", '"string"')
        assert registry.get_schema(schema_id) == "string"
    anonymous = RegistryAuth(cafile=secrets.ca)
    with RegistryClient(secure_stack.registry_url, retries=1, **anonymous.options()) as registry:
        with pytest.raises(RegistryError, match="HTTP 401.*password file"):
            registry.subjects()
    plain = secure_stack.registry_url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{plain}/subjects", timeout=5)


# --- settings from the environment -----------------------------------------------------------
def test_registry_credentials_reach_every_stage(tmp_path: Path) -> None:
    from ops.settings import HubSettings

    hub = HubSettings.from_env(
        {
            "MPPHUB_REGISTRY_USERNAME": "hub",
            "MPPHUB_REGISTRY_PASSWORD_FILE": str(tmp_path / "pw"),
            "MPPHUB_REGISTRY_CAFILE": str(tmp_path / "ca.pem"),
        }
    )
    for auth in (hub.stream.registry_auth, hub.projection.registry_auth, hub.api.registry_auth):
        assert auth.options() == {
            "username": "hub",
            "password_file": tmp_path / "pw",
            "cafile": tmp_path / "ca.pem",
        }


# --- the pipeline against a secured stack ----------------------------------------------------
@pytest.mark.integration
def test_a_connector_and_the_worker_run_against_the_secured_stack(
    secure_stack: Stack, tmp_path: Path
) -> None:
    import sqlalchemy as sa
    import yaml

    from domain.tokens import load_secret
    from ops.demo import SIAK_TABLES
    from ops.processes import ChildProcess
    from ops.samples import create_siak
    from tests.waiting import wait_until

    siak = sa.create_engine(f"sqlite:///{tmp_path / 'siak.db'}")
    create_siak(siak, n_people=12, seed=5)
    with siak.connect() as c:
        niks = set(c.scalars(sa.text("SELECT NIK FROM BIODATA_WNI")))
    assert len(niks) >= 12
    secret = tmp_path / "secret"
    load_secret(secret, create=True)
    config = tmp_path / "siak.yaml"
    # Kafka and the registry (and their credentials) come from the environment, as in compose.
    config.write_text(
        yaml.safe_dump(
            {
                "agency": "disdukcapil",
                "name": "siak",
                "source": {"mode": "polling", "url": str(siak.url), "poll_interval_s": 0.2},
                "tables": SIAK_TABLES,
            }
        )
    )
    db = tmp_path / "projections.db"
    env = _env(
        secure_stack,
        MPPHUB_APP_ID="t-secure",
        MPPHUB_PROJECTION_DB_URL=f"sqlite:///{db}",
        MPPHUB_WORKER_DATA_DIR=str(tmp_path / "worker"),
        MPPHUB_SECRET_FILE=str(secret),
    )
    cli = [sys.executable, "-m", "ops.cli"]
    connector = ChildProcess(
        "connector",
        [*cli, "connect", str(config), "--no-progress"],
        tmp_path / "c.log",
        env,
        cwd=REPO,
    )
    worker = ChildProcess("worker", [*cli, "worker"], tmp_path / "w.log", env, cwd=REPO)

    def projected() -> bool:
        for p in (connector, worker):
            assert p.alive(), p.log.read_text(errors="replace")[-2000:]
        if not db.exists():
            return False
        with sa.create_engine(f"sqlite:///{db}").connect() as c:
            try:
                got = set(c.scalars(sa.text("SELECT nik FROM citizen")))
            except sa.exc.OperationalError:
                return False
        return got == niks

    try:
        connector.start()
        worker.start()
        wait_until(projected, 90, "the civil registry projected through the secured stack")
    finally:
        for p in (worker, connector):
            p.stop()


@pytest.mark.integration
def test_schemas_check_reads_the_registry_credentials_from_the_environment(
    secure_stack: Stack,
) -> None:
    argv = [sys.executable, "-m", "ops.cli", "schemas", "check"]
    run = dict(capture_output=True, text=True, timeout=120, cwd=REPO)
    ok = subprocess.run(argv, env=_env(secure_stack), **run)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    half = subprocess.run(argv, env=_env(secure_stack, MPPHUB_REGISTRY_USERNAME=""), **run)
    assert half.returncode == 1 and "go together" in half.stderr
    no_credentials = _env(secure_stack, MPPHUB_REGISTRY_USERNAME="")
    del no_credentials["MPPHUB_REGISTRY_PASSWORD_FILE"]
    anonymous = subprocess.run(argv, env=no_credentials, **run)
    assert anonymous.returncode == 2 and "HTTP 401" in anonymous.stdout


@pytest.mark.integration
def test_three_secured_brokers_replicate_over_sasl_ssl(tmp_path: Path) -> None:
    # acks=all on replication factor 3, min ISR 2: the followers fetch over the SASL_SSL
    # inter-broker listener with the broker's SCRAM user.
    cfg = dataclasses.replace(test_stack_config(tmp_path / "s3", brokers=3, base=800), secure=True)
    s = Stack(cfg, log=lambda m: None)
    try:
        assert all(st.healthy for st in s.up(timeout=240))
        kafka = s.kafka_settings()

        async def produce() -> None:
            await ensure_topics(kafka, {"t.secure3": {}}, partitions=3, replication_factor=3)
            producer = AIOKafkaProducer(**kafka.client_options(), acks="all")
            await producer.start()
            try:
                for partition in range(3):
                    await producer.send_and_wait("t.secure3", b"x", partition=partition)
            finally:
                await producer.stop()

        asyncio.run(produce())
    finally:
        s.down()


# --- bad input: one line naming the setting, a failed command, never a hang --------------------
_EXPIRED_CA_CNF = """[ca]
default_ca = expired
[expired]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
[any]
commonName = supplied
[v3_ca]
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
keyUsage = critical, keyCertSign, cRLSign
"""


def _expired_ca(stack: Stack, tmp: Path) -> Path:
    """The stack's CA certificate again (same key, same name) but valid only in 2020: every
    certificate it signed now chains to an expired one (openssl ca sets past dates)."""
    assert stack.secrets is not None
    d = tmp / "expired-ca"
    d.mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("01\n")
    (d / "ca.cnf").write_text(_EXPIRED_CA_CNF.format(dir=d))
    key = stack.secrets.dir / "ca.key"
    subject = subprocess.run(
        ["openssl", "x509", "-in", str(stack.secrets.ca), "-noout", "-subject", "-nameopt",
         "compat"], capture_output=True, text=True, check=True,
    ).stdout.strip().removeprefix("subject=")  # fmt: skip
    subprocess.run(
        ["openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(d / "ca.csr")],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "ca", "-batch", "-selfsign", "-config", str(d / "ca.cnf"), "-keyfile",
         str(key), "-in", str(d / "ca.csr"), "-extensions", "v3_ca", "-startdate",
         "20200101000000Z", "-enddate", "20201231000000Z", "-out", str(d / "ca.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    dates = subprocess.run(
        ["openssl", "x509", "-in", str(d / "ca.pem"), "-noout", "-checkend", "0"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert dates.returncode == 1 and "will expire" in dates.stdout  # expired already
    return d / "ca.pem"


def _bad_env(fault: str, stack: Stack, tmp: Path) -> tuple[dict[str, str], str]:
    """The hub's environment with one fault, and the variable the error must name."""
    if fault == "wrong password":
        wrong = tmp / "wrong.password"
        wrong.write_text("not-the-password\n")
        return {"MPPHUB_KAFKA_SASL_PASSWORD_FILE": str(wrong)}, "MPPHUB_KAFKA_SASL_PASSWORD_FILE"
    if fault == "expired certificate":
        return {"MPPHUB_KAFKA_SSL_CAFILE": str(_expired_ca(stack, tmp))}, "MPPHUB_KAFKA_SSL_CAFILE"
    assert fault == "unreachable broker"
    from ops.processes import free_port

    return {"MPPHUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}, "MPPHUB_KAFKA_BOOTSTRAP"


def _commands(tmp: Path) -> dict[str, list[str]]:
    """A command of each kind of client: connector, worker, rebuild, dead-letter CLI."""
    config = tmp / "c.yaml"
    config.write_text(
        f"agency: test\nsource: {{mode: file, directory: {tmp}}}\n"
        "tables: [{name: t, key: [id]}]\n"
    )
    return {
        "connect": ["connect", str(config), "--status"],
        "worker": ["worker"],
        "rebuild": ["rebuild", "--db", f"sqlite:///{tmp / 'rebuilt.db'}", "--no-progress"],
        "deadletter": ["deadletter", "list"],
    }


@pytest.mark.integration
@pytest.mark.parametrize("fault", ["wrong password", "expired certificate", "unreachable broker"])
def test_a_bad_setting_fails_every_client_in_one_line_naming_it(
    secure_stack: Stack, tmp_path: Path, fault: str
) -> None:
    from domain.tokens import load_secret

    secret = tmp_path / "secret"
    load_secret(secret, create=True)
    bad, variable = _bad_env(fault, secure_stack, tmp_path)
    base = {
        "MPPHUB_SECRET_FILE": str(secret),
        "MPPHUB_WORKER_DATA_DIR": str(tmp_path / "worker"),
        "MPPHUB_PROJECTION_DB_URL": f"sqlite:///{tmp_path / 'projections.db'}",
    }
    for name, args in _commands(tmp_path).items():
        # A hang fails here (TimeoutExpired): every client gives up within its own timeouts.
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", *args], env=_env(secure_stack, **base, **bad),
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, (name, done.stderr[-2000:])
        assert len(lines) == 1, (name, done.stderr[-2000:])
        assert lines[0].startswith("error: cannot connect to Kafka"), (name, lines[0])
        assert variable in lines[0], (name, lines[0])
        assert "not-the-password" not in done.stderr + done.stdout


def test_every_kafka_client_of_the_workers_gets_the_credentials_and_the_prefix(
    tmp_path: Path,
) -> None:
    import faust

    from ops.settings import HubSettings
    from projections.sink import ProjectionSink
    from streams.app import create_app

    (tmp_path / "pw").write_text("s3cret\n")
    hub = HubSettings.from_env(
        {
            "MPPHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "MPPHUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "MPPHUB_KAFKA_SASL_USERNAME": "hub",
            "MPPHUB_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "pw"),
            "MPPHUB_TOPIC_PREFIX": "kota-b.",
        }
    )
    app = create_app(hub.stream)
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials), app.conf.id
    assert (credentials.username, credentials.password) == ("hub", "s3cret")
    assert app.conf.id.startswith("kota-b.")
    # The projection-only worker's plain consumer (projections/sink.py).
    options = ProjectionSink(hub.projection).consumer_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("hub", "s3cret")
    assert options["ssl_context"] is not None
    assert options["group_id"].startswith("kota-b.")
    assert options["isolation_level"] == "read_committed"
