"""The local stack against the real processes: lifecycle, idempotence, cluster shape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from ops.processes import port_is_free
from ops.stack import Stack, StackConfig, StackError
from ops.stack.kafka import BrokerSpec, server_properties
from tests.conftest import test_stack_config

pytestmark = pytest.mark.integration


def _java_pids_with(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if marker in cmd and "java" in cmd and state != "Z":
            pids.append(int(proc.name))
    return pids


def test_up_twice_starts_one_broker_and_down_leaves_nothing(tmp_path: Path) -> None:
    cfg = test_stack_config(tmp_path / "s", base=200)
    s = Stack(cfg, log=lambda m: None)
    try:
        first = {st.name: st.pid for st in s.up(timeout=180)}
        second = {st.name: st.pid for st in Stack(cfg, log=lambda m: None).up(timeout=60)}
        assert first == second, "a second `up` must not start new processes"
        assert len(_java_pids_with(str(tmp_path / "s"))) == 2  # one broker, one registry
    finally:
        stopped = Stack(cfg, log=lambda m: None).down()
    assert sorted(stopped) == ["kafka-1", "registry"]
    assert _java_pids_with(str(tmp_path / "s")) == []
    for port in cfg.ports().values():
        assert port_is_free(port), f"port {port} still listening after down"


def test_up_refuses_a_port_in_use_with_one_line(tmp_path: Path, stack: Stack) -> None:
    # The session stack holds its ports: a second stack on them must be refused, not started.
    cfg = StackConfig(
        state_dir=tmp_path / "other",
        dist_dir=stack.config.dist_dir,
        kafka_port=stack.config.kafka_port,
        controller_port=stack.config.controller_port + 300,
        registry_port=stack.config.registry_port + 300,
    )
    with pytest.raises(StackError) as err:
        Stack(cfg, log=lambda m: None).up(timeout=30)
    msg = str(err.value)
    assert f"port {stack.config.kafka_port}" in msg and "--kafka-port" in msg
    assert "\n" not in msg
    assert _java_pids_with(str(tmp_path / "other")) == []


def test_missing_java_is_refused_with_how_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(StackError, match="apt-get install -y openjdk-17"):
        Stack(test_stack_config(tmp_path / "s", base=400), log=lambda m: None).up(timeout=5)


def test_status_reports_health_pid_and_address(stack: Stack) -> None:
    statuses = {s.name: s for s in Stack(stack.config, log=lambda m: None).status()}
    assert statuses["kafka-1"].healthy and statuses["kafka-1"].pid
    assert statuses["kafka-1"].address == f"127.0.0.1:{stack.config.kafka_port}"
    assert statuses["registry"].healthy and statuses["registry"].address == stack.registry_url


def test_three_broker_mode_forms_one_cluster(tmp_path: Path) -> None:
    cfg = test_stack_config(tmp_path / "s3", brokers=3, base=500)
    s = Stack(cfg, log=lambda m: None)
    try:
        s.up(timeout=240)
        admin = KafkaAdminClient(bootstrap_servers=s.bootstrap, request_timeout_ms=10000)
        try:
            brokers = {b["broker_id"] for b in admin.describe_cluster()["brokers"]}
        finally:
            admin.close()
        assert brokers == {1, 2, 3}
        props = (tmp_path / "s3" / "kafka-2" / "server.properties").read_text()
        assert "default.replication.factor=3" in props and "min.insync.replicas=2" in props
    finally:
        s.down()
    assert _java_pids_with(str(tmp_path / "s3")) == []
    # Each broker ended cleanly (Kafka writes the marker only then): one by one, the last
    # controller had no quorum for its controlled shutdown and was killed after 30 s.
    unclean = [
        n
        for n in ("kafka-1", "kafka-2", "kafka-3")
        if not (tmp_path / "s3" / n / "data" / ".kafka_cleanshutdown").exists()
    ]
    assert unclean == []


def test_single_node_config_is_standalone_and_loopback_only() -> None:
    spec = BrokerSpec(1, 9092, 9093, Path("/x/kafka-1"))
    props = server_properties(spec, [spec])
    assert "controller.quorum.bootstrap.servers=127.0.0.1:9093" in props
    assert "controller.quorum.voters" not in props
    listeners = [ln for ln in props.splitlines() if ln.startswith("listeners=")][0]
    assert "0.0.0.0" not in listeners and listeners.count("127.0.0.1") == 2


def test_bad_port_in_environment_is_refused_naming_the_key() -> None:
    with pytest.raises(StackError, match="MPPHUB_KAFKA_PORT"):
        StackConfig.from_env({**os.environ, "MPPHUB_KAFKA_PORT": "ninety"})
