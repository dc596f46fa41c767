"""Apache Kafka brokers in KRaft mode (combined broker + controller), from the Maven jars."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from .cds import JvmArchives
from .dist import Dist, StackError, find_java
from .process import ManagedProcess
from .secure import StackSecrets

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


@dataclass(frozen=True)
class BrokerSpec:
    """One node of the local cluster: ids and ports derived from the base ports."""

    node_id: int
    port: int
    controller_port: int
    state_dir: Path

    @property
    def name(self) -> str:
        return f"kafka-{self.node_id}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def broker_specs(n: int, port: int, controller_port: int, state_dir: Path) -> list[BrokerSpec]:
    """Node i listens on port + 2i and controller_port + 2i (9092/9093, 9094/9095, ...)."""
    return [
        BrokerSpec(i + 1, port + 2 * i, controller_port + 2 * i, state_dir / f"kafka-{i + 1}")
        for i in range(n)
    ]


def server_properties(
    spec: BrokerSpec, cluster: list[BrokerSpec], secure: StackSecrets | None = None
) -> str:
    """The broker config: loopback only, replication and min ISR fitted to the cluster size;
    `secure`: clients and brokers talk SASL_SSL (SCRAM-SHA-512), the controllers stay plaintext
    on loopback."""
    n = len(cluster)
    rf, min_isr = (3, 2) if n >= 3 else (1, 1)
    lines = {
        "process.roles": "broker,controller",
        "node.id": spec.node_id,
        "listeners": f"PLAINTEXT://127.0.0.1:{spec.port},CONTROLLER://127.0.0.1:{spec.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{spec.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(spec.state_dir / "data"),
        "num.partitions": 3,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        # Tests and the demo want consumers to join at once, not after 3 s.
        "group.initial.rebalance.delay.ms": 0,
        "auto.create.topics.enable": "false",
        "log.retention.hours": 168,
    }
    if secure is not None:
        lines["listeners"] = (
            f"SASL_SSL://127.0.0.1:{spec.port},CONTROLLER://127.0.0.1:{spec.controller_port}"
        )
        lines["advertised.listeners"] = f"SASL_SSL://127.0.0.1:{spec.port}"
        lines["listener.security.protocol.map"] = "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
        lines["inter.broker.listener.name"] = "SASL_SSL"
        lines.update(secure.broker_properties())
    if n == 1:
        # Dynamic quorum, formatted with --standalone.
        lines["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{spec.controller_port}"
    else:
        lines["controller.quorum.voters"] = ",".join(
            f"{b.node_id}@127.0.0.1:{b.controller_port}" for b in cluster
        )
    return "".join(f"{k}={v}\n" for k, v in lines.items())


class KafkaNode:
    """Formats, starts and stops one broker process."""

    def __init__(
        self,
        spec: BrokerSpec,
        cluster: list[BrokerSpec],
        dist: Dist,
        heap_mb: int,
        secure: StackSecrets | None = None,
        archives: JvmArchives | None = None,
    ):
        self.spec = spec
        self.archives = archives
        self.secure = secure
        self.cluster = cluster
        self.dist = dist
        self.heap_mb = heap_mb
        self.proc = ManagedProcess(spec.name, spec.state_dir, marker=str(spec.state_dir))

    @property
    def config_file(self) -> Path:
        return self.spec.state_dir / "server.properties"

    @property
    def classpath(self) -> str:
        return f"{self.dist.kafka_libs}/*"

    def _java(self, main: str, *args: str, heap_mb: int = 256, tool: bool = False) -> list[str]:
        program = "kafka-format" if tool else "kafka"
        return [
            find_java(),
            f"-Xms{min(heap_mb, 256)}m",
            f"-Xmx{heap_mb}m",
            # A tool runs a second: the quick compiler and the simplest collector suit it.
            *(["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] if tool else ["-XX:+UseG1GC"]),
            *(self.archives.flags(program) if self.archives is not None else []),
            f"-Dlog4j2.configurationFile={self.spec.state_dir / 'log4j2.properties'}",
            "-cp",
            self.classpath,
            main,
            *args,
        ]

    def prepare(self, cluster_id: str) -> None:
        """Write the config and format storage, once (a formatted node keeps its data)."""
        self.spec.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(server_properties(self.spec, self.cluster, self.secure))
        if self.secure is not None:
            os.chmod(self.config_file, 0o600)  # it holds the broker's SCRAM password
        (self.spec.state_dir / "log4j2.properties").write_text(
            LOG4J2.format(log=self.spec.state_dir / "server.log")
        )
        if (self.spec.state_dir / "data" / "meta.properties").exists():
            return
        fmt = ["format", "-t", cluster_id, "-c", str(self.config_file)]
        if len(self.cluster) == 1:
            fmt.append("--standalone")
        if self.secure is not None:
            fmt += self.secure.scram_args()
        out = subprocess.run(
            self._java("kafka.tools.StorageTool", *fmt, tool=True), capture_output=True, text=True
        )
        if out.returncode != 0:
            detail = (out.stderr or out.stdout).strip().splitlines()
            raise StackError(
                f"{self.spec.name}: storage format failed: {detail[-1] if detail else ''}"
            )

    def start(self) -> int:
        """Start the broker JVM; returns its pid."""
        return self.proc.start(
            self._java("kafka.Kafka", str(self.config_file), heap_mb=self.heap_mb),
            cwd=self.spec.state_dir,
        )


def cluster_id_for(state_dir: Path) -> str:
    """A stable KRaft cluster id per state directory (kept in a file, made once)."""
    path = state_dir / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    cid = "-"
    while cid.startswith("-"):  # as Kafka's Uuid.randomUuid: an id must not read as a flag
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(cid + "\n")
    return cid
