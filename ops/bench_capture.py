"""`mpphub bench capture`: the hub's PostgreSQL connector against Debezium's, on the same table, in
the same run: the yardstick of capture speed.

For each connector in turn (Debezium 3.6's PostgreSQL connector in Kafka Connect standalone,
then the hub's `postgres` mode; one at a time, so neither takes CPU from the other): start it on
a table of N rows, time its snapshot from its first record to its last (the records' own
timestamps; start-up reported apart), then commit M updates (transactions of 500 rows) and time
their streaming the same way. Both publish to one-partition topics with lz4; Connect writes
schemaless JSON, the hub Avro through the registry. The Debezium run stops everything it started
(the JVM, its REST port, its replication slot).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.engine import make_url

from .processes import LOOPBACK, ChildProcess, free_port, peak_rss_mb, port_is_free
from .stack import Stack, StackError
from .stack.debezium import ensure_debezium_libs, find_java

TABLE = "biodata_wni"
UPDATE_TX_ROWS = 500


@dataclass
class CaptureOptions:
    """Sizes of one run and where it keeps its files."""

    rows: int = 100_000
    updates: int = 20_000
    dir: Path = Path(".mpphub/bench-capture")
    timeout_s: float = 1800.0


@dataclass
class Measured:
    """What one connector did: start-up, snapshot and streaming rates, peak memory."""

    startup_s: float | None = None
    snapshot_rows_per_s: float | None = None
    streaming_events_per_s: float | None = None
    peak_memory_mb: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "startup_s": self.startup_s,
            "snapshot_rows_per_s": self.snapshot_rows_per_s,
            "streaming_events_per_s": self.streaming_events_per_s,
            "peak_memory_mb": self.peak_memory_mb,
            **self.extra,
        }


# --- the source table -----------------------------------------------------------------------
def create_table(url: str, rows: int) -> None:
    """A civil-registry-shaped table of `rows` synthetic residents (no real person's data)."""
    with _connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"""CREATE TABLE {TABLE} (
                nik char(16) PRIMARY KEY, no_kk char(16) NOT NULL,
                nama_lgkp varchar(60) NOT NULL, jenis_klmin smallint NOT NULL,
                tmpt_lhr varchar(60), tgl_lhr date NOT NULL, agama smallint,
                stat_kwn smallint, jenis_pkrjn smallint, no_kec smallint, no_kel smallint,
                alamat varchar(120), tgl_ubah timestamp NOT NULL)"""
        )
        # FULL: both connectors see the same WAL, with the old row of every update.
        conn.execute(f"ALTER TABLE {TABLE} REPLICA IDENTITY FULL")
        conn.execute(
            f"""INSERT INTO {TABLE}
            SELECT '7413' || lpad(g::text, 12, '0'), '7413' || lpad((g / 4)::text, 12, '0'),
                   'WARGA ' || upper(substr(md5(g::text), 1, 12)), 1 + g %% 2, 'RAHA',
                   date '1950-01-01' + (g %% 20000), 1 + g %% 6, 1 + g %% 4, 1 + g %% 30,
                   1 + g %% 11, 2001 + g %% 20, 'JL. POROS ' || (g %% 500) || ' NO. ' || (g %% 97),
                   timestamp '2024-01-01' + g * interval '1 second'
            FROM generate_series(1, %s) g""",
            (rows,),
        )
        conn.execute(f"ANALYZE {TABLE}")


def update_rows(url: str, count: int, rows: int, round_: int) -> None:
    """`count` updates of distinct rows, committed `UPDATE_TX_ROWS` at a time."""
    with _connect(url) as conn:
        for lo in range(1, count + 1, UPDATE_TX_ROWS):
            hi = min(lo + UPDATE_TX_ROWS, count + 1)
            conn.execute(
                f"UPDATE {TABLE} SET agama = 1 + (agama + %s) %% 6, tgl_ubah = now() "
                f"WHERE nik >= %s AND nik < %s",
                (round_, _nik(lo, rows), _nik(hi, rows)),
            )


def _nik(i: int, rows: int) -> str:
    return "7413" + str(min(i, rows + 1)).zfill(12)


def _connect(url: str) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database,
        autocommit=True,
    )


# --- timing from the topic -------------------------------------------------------------------
class TopicClock:
    """One long-lived consumer that counts a one-partition topic and reads record timestamps."""

    def __init__(self, bootstrap: str):
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    def count(self, topic: str) -> int:
        tp = TopicPartition(topic, 0)
        if topic not in self.consumer.topics():
            return 0
        return self.consumer.end_offsets([tp])[tp]

    def timestamp(self, topic: str, offset: int) -> float:
        """The record timestamp (s) at an offset of partition 0."""
        tp = TopicPartition(topic, 0)
        self.consumer.assign([tp])
        self.consumer.seek(tp, offset)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for msgs in self.consumer.poll(timeout_ms=500, max_records=1).values():
                return msgs[0].timestamp / 1000
        raise StackError(f"bench: no record at {topic}:0@{offset}")

    def rate(self, topic: str, first: int, last: int) -> float:
        """Records per second between two offsets, by their timestamps."""
        span = self.timestamp(topic, last) - self.timestamp(topic, first)
        return round((last - first + 1) / max(span, 1e-3), 1)

    def close(self) -> None:
        self.consumer.close()


@dataclass
class _Phases:
    """How one connector is watched: its topic, the clock, the process, the deadline."""

    topic: str
    clock: TopicClock
    proc: ChildProcess
    opts: CaptureOptions
    peak_mb: float | None = None

    def wait(self, predicate: Callable[[], bool], what: str) -> float:
        start = time.monotonic()
        while not predicate():
            self.sample()
            if self.proc.proc is not None and self.proc.proc.poll() is not None:
                raise StackError(
                    f"bench: {self.proc.name} exited while {what}:\n{self.proc.tail()}"
                )
            if time.monotonic() - start > self.opts.timeout_s:
                raise StackError(f"bench: {what} not done within {self.opts.timeout_s:.0f}s")
            time.sleep(0.1)
        return time.monotonic() - start

    def sample(self) -> None:
        peak = peak_rss_mb(self.proc.proc.pid) if self.proc.proc else None
        if peak is not None:
            self.peak_mb = max(self.peak_mb or 0, peak)

    def measure(self, url: str, round_: int, started: float) -> Measured:
        """Snapshot, then the updates' streaming; the process is already starting."""
        rows, updates, clock, topic = self.opts.rows, self.opts.updates, self.clock, self.topic
        self.wait(lambda: clock.count(topic) > 0, "starting")
        out = Measured(startup_s=round(time.monotonic() - started, 2))
        self.wait(lambda: clock.count(topic) >= rows, "snapshotting")
        out.snapshot_rows_per_s = clock.rate(topic, 0, rows - 1)
        update_rows(url, updates, rows, round_)
        self.wait(lambda: clock.count(topic) >= rows + updates, "streaming")
        out.streaming_events_per_s = clock.rate(topic, rows, rows + updates - 1)
        self.sample()
        out.peak_memory_mb = self.peak_mb
        return out


# --- Debezium in Kafka Connect standalone ---------------------------------------------------
@dataclass
class DebeziumRun:
    """Connect standalone with Debezium's PostgreSQL connector, its files under `home`."""

    stack: Stack
    url: str
    home: Path
    rest_port: int = 0
    proc: ChildProcess | None = None

    topic = f"dbz.public.{TABLE}"
    slot = "dbz_bench"

    def start(self, libs: Path) -> ChildProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.rest_port = free_port()
        worker, connector = self.home / "worker.properties", self.home / "debezium.properties"
        (self.home / "connect.offsets").unlink(missing_ok=True)
        worker.write_text(_properties(self._worker()))
        connector.write_text(_properties(self._connector()))
        # Connect's warnings (a slot it could not drop, a task that did not stop in time) in
        # connect.log: without a configuration log4j2 prints errors only.
        log_config = self.home / "log4j2.properties"
        log_config.write_text(LOG4J2)
        argv = [
            find_java(),
            "-Xmx1g",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.connect.cli.ConnectStandalone",
            str(worker),
            str(connector),
        ]
        self.proc = ChildProcess("debezium", argv, self.home / "connect.log", die_with_parent=True)
        self.proc.start()
        return self.proc

    def _worker(self) -> dict:
        return {
            "bootstrap.servers": self.stack.bootstrap,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "offset.storage.file.filename": str(self.home / "connect.offsets"),
            "offset.flush.interval.ms": "5000",
            "listeners": f"http://{LOOPBACK}:{self.rest_port}",
            "producer.compression.type": "lz4",
            "producer.linger.ms": "5",
            # The task's stop is what drops the replication slot (slot.drop.on.stop); Connect
            # gives it 5 s by default and then exits without it, which a loaded 2-core machine
            # overran once (CI, 2026-12-03: the slot left behind). stop() waits 30 s.
            "task.shutdown.graceful.timeout.ms": "25000",
        }

    def _connector(self) -> dict:
        u = make_url(self.url)
        return {
            "name": "bench-debezium",
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "database.hostname": u.host,
            "database.port": str(u.port),
            "database.user": u.username,
            "database.password": u.password,
            "database.dbname": u.database,
            "topic.prefix": "dbz",
            "plugin.name": "pgoutput",
            "slot.name": self.slot,
            "slot.drop.on.stop": "true",
            "publication.name": "dbz_bench",
            "publication.autocreate.mode": "filtered",
            "table.include.list": f"public.{TABLE}",
            "snapshot.mode": "initial",
            "topic.creation.default.partitions": "1",
            "topic.creation.default.replication.factor": "1",
        }

    def stop(self) -> dict:
        """Stop Connect (SIGTERM: the connector drops its slot); report what is left open."""
        if self.proc is not None:
            self.proc.stop(timeout=30)
        left = {
            "process_alive": self.proc is not None and self.proc.alive(),
            "rest_port_open": bool(self.rest_port) and not port_is_free(self.rest_port),
        }
        with _connect(self.url) as conn:
            slot = conn.execute(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (self.slot,)
            ).fetchone()[0]
            if slot:  # SIGKILLed after the timeout: the slot would hold WAL forever
                conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
        left["slot_left"] = bool(slot)
        return left


LOG4J2 = """status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %c{1}: %m%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = OUT
"""


def _properties(values: dict) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


# --- the hub's connector --------------------------------------------------------------------
def hub_connector(stack: Stack, url: str, home: Path) -> ChildProcess:
    """`mpphub connect` in postgres mode on the table, one partition, as its own process."""
    cfg = {
        "agency": "benchcap",
        "source": {"mode": "postgres", "url": url, "poll_interval_s": 0.05},
        "tables": [{"name": TABLE}],
        "kafka": {"bootstrap": stack.bootstrap, "partitions": 1},
        "registry": {"url": stack.registry_url},
        "snapshot": {"chunk_size": 2000},
        "batch_size": 5000,
    }
    home.mkdir(parents=True, exist_ok=True)
    path = home / "hub-connector.yaml"
    path.write_text(yaml.safe_dump(cfg))
    argv = [sys.executable, "-m", "ops.cli", "connect", str(path), "--no-progress"]
    proc = ChildProcess("hub-connector", argv, home / "hub-connector.log", die_with_parent=True)
    proc.start()
    return proc


HUB_TOPIC = f"mpp.benchcap.{TABLE}"


# --- the run --------------------------------------------------------------------------------
def measure(stack: Stack, url: str, opts: CaptureOptions, log: Callable[[str], None]) -> dict:
    """Both connectors on one table of `opts.rows` rows; the result document."""
    libs = ensure_debezium_libs(stack.config.dist_dir, log)
    log(f"source table of {opts.rows:,} rows")
    create_table(url, opts.rows)
    clock = TopicClock(stack.bootstrap)
    result: dict = {"rows": opts.rows, "updates": opts.updates, "machine": {"cpus": os.cpu_count()}}
    try:
        log("Debezium (Kafka Connect standalone)")
        dbz = DebeziumRun(stack, url, opts.dir / "debezium")
        started = time.monotonic()
        phases = _Phases(dbz.topic, clock, dbz.start(libs), opts)
        try:
            debezium = phases.measure(url, 1, started)
        finally:
            debezium_left = dbz.stop()
        debezium.extra["left_running"] = debezium_left
        debezium.extra["pid"], debezium.extra["rest_port"] = dbz.proc.proc.pid, dbz.rest_port
        log("the hub's connector (postgres mode)")
        started = time.monotonic()
        proc = hub_connector(stack, url, opts.dir / "hub")
        try:
            hub = _Phases(HUB_TOPIC, clock, proc, opts).measure(url, 2, started)
        finally:
            proc.stop()
    finally:
        clock.close()
    result["debezium"] = debezium.as_dict()
    result["hub"] = hub.as_dict()
    result["ratio_hub_to_debezium"] = {
        "snapshot": _ratio(hub.snapshot_rows_per_s, debezium.snapshot_rows_per_s),
        "streaming": _ratio(hub.streaming_events_per_s, debezium.streaming_events_per_s),
    }
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def run_capture_bench(opts: CaptureOptions, log: Callable[[str], None]) -> dict:
    """A fresh stack and PostgreSQL server under `opts.dir`, both connectors, everything stopped."""
    from .databases.postgres import PostgresServer
    from .stack import StackConfig

    opts.dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(StackConfig.from_env(state_dir=opts.dir / "stack"), log=log)
    stack.down(purge=True)
    stack = Stack(StackConfig.from_env(state_dir=opts.dir / "stack"), log=log)
    pg = PostgresServer(opts.dir / "db", free_port(), die_with_parent=True)
    try:
        stack.up()
        pg.start()
        url = pg.create_database("capture")
        return measure(stack, url, opts, log)
    finally:
        pg.stop()
        stack.down()
