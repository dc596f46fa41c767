"""The normalize worker against the real broker and registry: a real worker process (the one
`run_worker` starts) reads raw change events as the connectors publish them and writes the
canonical events (person facts keyed by their record's token), findings and dead letters."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from domain.tokens import Tokens, load_secret
from eventlog import KafkaSettings
from ops.processes import free_port
from ops.settings import HubSettings
from schemas import catalog
from schemas.codec import Deserializer, header
from schemas.registry import RegistryClient
from streams.settings import StreamSettings
from tests.streams.helpers import TABLES, RawSender
from tests.streams.rows import WOMAN, biodata, pemohon, perizinan, permohonan, status_log

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 45.0
RUN_WORKER = (
    "import sys; from ops.worker import run; from ops.settings import HubSettings;"
    " sys.exit(run(HubSettings.model_validate_json(sys.argv[1]), projections=False))"
)
OUTPUTS = (
    catalog.PERSON_TOPIC,
    catalog.PERMIT_TOPIC,
    catalog.SERVICE_TOPIC,
    catalog.DQ_FINDINGS_TOPIC,
    catalog.DEADLETTER_TOPIC,
)


@dataclass
class Hub:
    """A running worker on its own raw topics, and what the tests need to talk to it."""

    settings: HubSettings
    topics: dict[str, str]  # source table -> raw topic
    proc: subprocess.Popen
    log: Path
    registry: RegistryClient
    producer: KafkaProducer
    run: str
    tokens: Tokens

    def __post_init__(self) -> None:
        self.sender = RawSender(self.registry, self.producer, self.topics)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{tail}")

    def send_change(self, table: str, op: str, row: dict | None, **kw: Any) -> Any:
        """Produce a change event of a sample table, framed as the dispatcher frames it (a
        delete followed by its tombstone)."""
        return self.sender.change(table, op, row, **kw)

    def send_raw(self, table: str, key: bytes | None, value: bytes | None) -> Any:
        """Produce bytes as they are to a table's raw topic, partition 0; the record metadata."""
        return self.sender.raw(table, key, value)

    def metric(self, sample: str) -> float:
        """The value of one sample, e.g. 'x_total{a="b"}' (0 when not exported yet)."""
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(sample + " "):
                    return float(line.split()[-1])
        return 0.0

    def wait_metric(self, sample: str, at_least: float) -> None:
        """Wait until a sample reaches a value (metrics follow the acks by a moment)."""
        deadline = time.monotonic() + WAIT_S
        while (value := self.metric(sample)) < at_least:
            assert time.monotonic() < deadline, f"{sample} is {value}, expected >= {at_least}"
            time.sleep(0.1)  # polling the endpoint


class Outputs:
    """The canonical, finding and dead-letter topics from where they ended when it was made."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.decode = Deserializer(hub.registry)
        self.consumer = KafkaConsumer(
            bootstrap_servers=hub.settings.stream.kafka.bootstrap, enable_auto_commit=False
        )
        tps = [
            TopicPartition(t, p)
            for t in OUTPUTS
            for p in sorted(self.consumer.partitions_for_topic(t) or ())
        ]
        self.consumer.assign(tps)
        for tp, end in self.consumer.end_offsets(tps).items():
            self.consumer.seek(tp, end)
        self.seen: list[tuple[str, Any, dict]] = []

    def close(self) -> None:
        self.consumer.close()

    def wait_for(
        self, done: Callable[[list[tuple[str, Any, dict]]], bool], what: str
    ) -> list[tuple[str, Any, dict]]:
        """Read (topic, key, value) until done(seen) holds; fails after WAIT_S naming `what`."""
        deadline = time.monotonic() + WAIT_S
        while not done(self.seen):
            self.hub.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT_S:.0f}s; seen {len(self.seen)}")
            for records in self.consumer.poll(timeout_ms=500).values():
                for r in records:
                    key = r.key if r.topic == catalog.DEADLETTER_TOPIC else self.decode(r.key)
                    self.seen.append((r.topic, key, self.decode(r.value)))
        return self.seen


def ours(run: str, seen: list[tuple[str, Any, dict]], topic: str) -> list[tuple[Any, dict]]:
    """The messages of one topic that come from this test run (by their source position)."""
    return [
        (k, v)
        for t, k, v in seen
        if t == topic and str(v.get("source_position") or "").startswith(run)
    ]


@pytest.fixture(scope="module")
def hub(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    run = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("worker")
    topics = {t: f"it{run}.{agency}.{t.lower()}" for t, (agency, _) in TABLES.items()}
    secret = tmp / "secret"
    tokens = Tokens(load_secret(secret, create=True))
    settings = HubSettings(
        stream=StreamSettings(
            app_id=f"it-normalize-{run}",
            kafka=KafkaSettings(bootstrap=stack.bootstrap),
            registry_url=stack.registry_url,
            raw_topics=tuple(topics.values()),
            topic_partitions=2,
            data_dir=str(tmp / "data"),
            batch_within_s=0.05,
            log_level="info",
            secret_file=secret,
        ),
        metrics_port=free_port(),
    )
    log = tmp / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_WORKER, settings.model_dump_json()],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    registry = RegistryClient(stack.registry_url)
    h = Hub(settings, topics, proc, log, registry, producer, run, tokens)
    try:
        # The worker creates its topics before it subscribes: wait for them, not for a time.
        admin = KafkaAdminClient(bootstrap_servers=stack.bootstrap)
        try:
            deadline = time.monotonic() + WAIT_S
            while not set(OUTPUTS) | set(topics.values()) <= set(admin.list_topics()):
                h.check_alive()
                assert time.monotonic() < deadline, "the worker did not create its topics"
                time.sleep(0.2)  # polling the broker's metadata
        finally:
            admin.close()
        yield h
    finally:
        producer.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("the worker did not stop within 30 s of SIGTERM") from None
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.fixture
def outputs(hub: Hub) -> Iterator[Outputs]:
    o = Outputs(hub)
    yield o
    o.close()


def test_raw_changes_come_out_as_canonical_events(hub: Hub, outputs: Outputs) -> None:
    run = hub.run
    bad = "74130145089001"
    hub.send_change("BIODATA_WNI", "r", biodata(), position=f"{run}-1")
    hub.send_change("BIODATA_WNI", "c", biodata(NIK=bad), position=f"{run}-2")
    hub.send_change("trperizinan", "r", perizinan(), position=f"{run}-3")
    hub.send_change("tmpemohon", "c", pemohon(), position=f"{run}-4")
    hub.send_change("tmpermohonan", "c", permohonan(), position=f"{run}-5")
    hub.send_change("trstspermohonan_log", "c", status_log(c_status=1, id=1), position=f"{run}-6")
    hub.send_change("trstspermohonan_log", "c", status_log(c_status=3, id=2), position=f"{run}-7")
    hub.send_change("tmpermohonan", "d", None, before={"id": 7}, position=f"{run}-8")

    def complete(seen: list) -> bool:
        return (
            len(ours(run, seen, catalog.PERSON_TOPIC)) >= 3
            and len(ours(run, seen, catalog.PERMIT_TOPIC)) >= 4
            and len(ours(run, seen, catalog.SERVICE_TOPIC)) >= 1
            and len(ours(run, seen, catalog.DQ_FINDINGS_TOPIC)) >= 1
        )

    seen = outputs.wait_for(complete, "canonical events of every table")
    people = {v["source_position"]: (k, v) for k, v in ours(run, seen, catalog.PERSON_TOPIC)}
    key, fact = people[f"{run}-1"]
    assert key == fact["record_key"] == hub.tokens.record("disdukcapil", "BIODATA_WNI", WOMAN)
    assert fact["nik"] == WOMAN and "person_key" not in fact
    assert fact["nik_status"] == "VALID" and fact["op"] == "UPSERT"
    assert fact["kecamatan_code"] == "741301" and fact["religion"] == "ISLAM"
    assert fact["birth_date"] == dt.date(1990, 8, 5)
    key, fact = people[f"{run}-2"]
    assert key == hub.tokens.record("disdukcapil", "BIODATA_WNI", bad)
    assert fact["nik_status"] == "MALFORMED" and fact["name"] == "WA ODE SITTI"
    key, fact = people[f"{run}-4"]
    assert key == hub.tokens.record("dpmptsp", "tmpemohon", "42")
    assert (fact["nik"], fact["source_record_id"]) == (WOMAN, "42")

    ((key, finding),) = ours(run, seen, catalog.DQ_FINDINGS_TOPIC)
    assert finding["rule_code"] == "NIK_MALFORMED"
    assert finding["record_key"] == "741301********"
    assert bad not in key + finding["detail"]

    permits = sorted(ours(run, seen, catalog.PERMIT_TOPIC), key=lambda kv: kv[1]["source_position"])
    assert [k for k, _ in permits] == ["dpmptsp:7"] * 4
    assert [v["kind"] for _, v in permits] == ["APPLICATION", "STATUS", "STATUS", "DELETED"]
    assert permits[0][1]["applicant_ref"] == "dpmptsp:tmpemohon:42"
    assert [v["status"] for _, v in permits[1:3]] == ["RECEIVED", "FILE_COMPLETE"]
    assert [v["status_seq"] for _, v in permits[1:3]] == [1, 2]

    ((key, service),) = ours(run, seen, catalog.SERVICE_TOPIC)
    assert (key, service["code"], service["sla_days"]) == ("dpmptsp:2", "SIP_BIDAN", 12)

    assert not ours(run, seen, catalog.DEADLETTER_TOPIC)
    biodata_topic = hub.topics["BIODATA_WNI"]
    hub.wait_metric(f'mpphub_worker_events_total{{topic="{biodata_topic}"}}', 2)
    hub.wait_metric('mpphub_dq_findings_total{agency="disdukcapil",rule="NIK_MALFORMED"}', 1)


def test_poison_messages_are_dead_lettered_and_the_worker_goes_on(
    hub: Hub, outputs: Outputs
) -> None:
    run = hub.run
    topic = hub.topics["BIODATA_WNI"]
    garbage = hub.send_raw("BIODATA_WNI", b"some-key", b"\xde\xad\xbe\xef garbage")
    unknown = hub.send_raw("BIODATA_WNI", b"key-2", header(987_654_321) + b"\x02\x00")
    hub.send_change(
        "BIODATA_WNI", "u", biodata(NAMA_LGKP="WA ODE SITTI AMINAH"), position=f"{run}-after"
    )

    def complete(seen: list) -> bool:
        letters = [
            v for t, _, v in seen if t == catalog.DEADLETTER_TOPIC and v["original_topic"] == topic
        ]
        return len(letters) >= 2 and bool(ours(run, seen, catalog.PERSON_TOPIC))

    seen = outputs.wait_for(complete, "two dead letters and the fact after them")
    letters = {
        v["offset"]: (k, v)
        for t, k, v in seen
        if t == catalog.DEADLETTER_TOPIC and v["original_topic"] == topic
    }
    key, letter = letters[garbage.offset]
    assert key == b"some-key"
    assert letter["error_type"] == "WireFormatError"
    assert "not Confluent-framed Avro" in letter["reason"]
    assert (letter["stage"], letter["partition"]) == ("normalize", garbage.partition)
    assert letter["value"] == b"\xde\xad\xbe\xef garbage"

    key, letter = letters[unknown.offset]
    assert key == b"key-2"
    assert (letter["partition"], letter["key"]) == (unknown.partition, b"key-2")
    assert letter["error_type"] == "UnknownSchemaError"
    assert "schema id 987654321 is not in the schema registry" in letter["reason"]

    ((_, fact),) = ours(run, seen, catalog.PERSON_TOPIC)
    assert fact["name"] == "WA ODE SITTI AMINAH"
    hub.wait_metric('mpphub_worker_dead_letters_total{stage="normalize"}', 2)
