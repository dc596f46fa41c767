"""Identity resolution in a real worker (normalize + identity) against the real broker and
registry: a NIK typo in the permits system ends in the civil-registry person, and a worker killed
-9 while resolving decides, after its restart, exactly what an uninterrupted resolver decides on
the same facts (same decisions, same person ids). No NIK in any key of the person and identity
topics.

The canonical topics are shared with the session's other tests: the expected run starts from the
decision log as it was before this test's first fact, then resolves the facts that follow."""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from domain.matching.decisions import Decision
from domain.matching.ids import person_ids
from domain.matching.model import MatchModel
from domain.matching.resolver import Resolver
from domain.tokens import Tokens, load_secret
from eventlog import KafkaSettings
from eventlog.topics import IDENTITY_TOPIC, PERSON_TOPIC
from ops.processes import ChildProcess
from ops.settings import HubSettings
from schemas.codec import Deserializer
from schemas.registry import RegistryClient
from streams.identity_records import decision_of, founding_ms, person_record
from streams.resolution import INPUT_HEADER
from streams.settings import StreamSettings
from tests.streams.helpers import TABLES, TS_MS, RawSender
from tests.streams.rows import biodata, pemohon
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUN_WORKER = (
    "import sys; from ops.worker import run; from ops.settings import HubSettings;"
    " sys.exit(run(HubSettings.model_validate_json(sys.argv[1]), projections=False))"
)
BATCH = 300  # records resolved while the worker is killed
GIVEN = ["SITTI", "NURMA", "HASNAH", "RAHMAT", "ANDI", "SUMARNI", "JUMRAH", "HAMZAH", "ASRUL"]
FAMILY = ["WAODE", "ALIMUDDIN", "SALEH", "HASAN", "MUSTAFA", "NURDIN", "SAFRUDDIN", "RAUF"]
PERSON_ID = re.compile(r"P[0-9A-HJKMNP-TV-Z]{26}")  # 'P' + a ULID (Crockford base32)
RECORD_KEY = re.compile(r"R[A-Z2-7]{26}")  # 'R' + base32 of a keyed digest


def nik(born: dt.date, sex: str, serial: int) -> str:
    """A valid NIK of Sawerigadi (741301) for a birth date and sex (women's day + 40)."""
    day = born.day + (40 if sex == "P" else 0)
    return f"741301{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


@dataclass
class Person:
    """One made-up resident: what the civil registry and the permits office record of them."""

    nik: str
    name: str
    sex: str
    born: dt.date


def people(rng: random.Random, n: int) -> list[Person]:
    out = []
    for _ in range(n):
        sex = rng.choice("LP")
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)} {rng.choice(GIVEN)}"
        out.append(Person(nik(born, sex, rng.randrange(1, 10000)), name, sex, born))
    return out


def typo(value: str, rng: random.Random) -> str:
    """The NIK with one digit of its serial typed wrong, never to the next or previous serial:
    that is how the registry numbers two namesakes born the same day in one district, and
    without a shared KK, phone or other id the resolver rightly does not call it a typo
    (domain.matching.compare.nik_level, `next_serial`)."""
    while True:
        i = rng.randrange(12, 16)
        typed = value[:i] + str((int(value[i]) + rng.randrange(1, 10)) % 10) + value[i + 1 :]
        if abs(int(typed[12:]) - int(value[12:])) != 1:
            return typed


def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a one-partition topic, from its beginning to its end now."""
    # Committed records only: the identity log is written in transactions (streams/fencing.py)
    # and a killed worker's open one is aborted, its records left in the log.
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[Any] = []
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(r for r in records if r.offset < end)
        return out
    finally:
        consumer.close()


class LogTail:
    """The record ids the identity log has decided about, read as the log grows."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.consumer = KafkaConsumer(
            bootstrap_servers=hub.bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        tp = TopicPartition(IDENTITY_TOPIC, 0)
        self.consumer.assign([tp])
        self.consumer.seek_to_beginning(tp)
        self.record_ids: set[str | None] = set()

    def count(self, keys: list[str]) -> int:
        """How many of `keys` have a decision in the log so far."""
        for records in self.consumer.poll(timeout_ms=20).values():
            self.record_ids.update(decision_of(self.hub.decode(r.value)).record_id for r in records)
        return sum(k in self.record_ids for k in keys)

    def close(self) -> None:
        self.consumer.close()


class Hub:
    """The worker of this test (a child process that can be killed -9), its raw topics and the
    logs it writes."""

    def __init__(self, stack: Any, tmp: Path):
        self.run = uuid.uuid4().hex[:10]
        self.bootstrap = stack.bootstrap
        topics = {t: f"it{self.run}.{agency}.{t.lower()}" for t, (agency, _) in TABLES.items()}
        secret = tmp / "secret"
        self.tokens = Tokens(load_secret(secret, create=True))
        settings = HubSettings(
            stream=StreamSettings(
                app_id=f"it-identity-{self.run}",
                kafka=KafkaSettings(bootstrap=stack.bootstrap),
                registry_url=stack.registry_url,
                raw_topics=tuple(topics.values()),
                data_dir=str(tmp / "data"),
                # Small batches: the kill must land between two of them.
                batch_size=10,
                batch_within_s=0.05,
                secret_file=secret,
            )
        )
        self.worker = ChildProcess(
            "worker",
            [sys.executable, "-c", RUN_WORKER, settings.model_dump_json()],
            tmp / "worker.log",
            cwd=REPO,
        )
        self.registry = RegistryClient(stack.registry_url)
        self.decode = Deserializer(self.registry)
        self.producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
        self.sender = RawSender(self.registry, self.producer, topics)
        self.sent = 0

    def send(self, table: str, row: dict[str, Any], *, wait: bool = True) -> None:
        self.sent += 1
        self.sender.change(
            table,
            "c",
            row,
            position=f"{self.run}-{self.sent}",
            source_ts_ms=TS_MS + self.sent * 1000,
            wait=wait,
        )

    def resident(self, p: Person, **over: Any) -> dict[str, Any]:
        return (
            biodata(
                NIK=p.nik, NAMA_LGKP=p.name, JENIS_KLMIN=1 if p.sex == "L" else 2, TGL_LHR=p.born
            )
            | over
        )

    def applicant(self, p: Person, applicant_id: int, **over: Any) -> dict[str, Any]:
        return (
            pemohon(id=applicant_id, n_pemohon=p.name.title(), no_identitas=p.nik, tgl_lahir=p.born)
            | over
        )

    def key(self, table: str, record_id: str) -> str:
        agency = TABLES[table][0]
        return self.tokens.record(agency, table, record_id)

    def decisions(self) -> list[tuple[Any, Decision]]:
        """The identity log now: (record, decision) in order."""
        return [
            (r, decision_of(self.decode(r.value))) for r in read_all(self.bootstrap, IDENTITY_TOPIC)
        ]

    def state(self) -> Resolver:
        """The worker's resolver as its log says: a fresh one with every decision applied."""
        resolver = new_resolver(self.tokens)
        for _, decision in self.decisions():
            resolver.apply(decision)
        return resolver

    def close(self) -> None:
        self.producer.close()
        self.worker.stop()


def new_resolver(tokens: Tokens) -> Resolver:
    return Resolver(MatchModel.load(), person_ids(tokens))


@pytest.fixture(scope="module")
def hub(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    h = Hub(stack, tmp_path_factory.mktemp("identity"))
    h.worker.start()
    try:
        yield h
    finally:
        h.close()


def test_a_permit_applicant_with_a_nik_typo_is_the_resident(hub: Hub) -> None:
    rng = random.Random(hub.run)
    (p,) = people(rng, 1)
    hub.send("BIODATA_WNI", hub.resident(p))
    hub.send("tmpemohon", hub.applicant(p, 9001, no_identitas=typo(p.nik, rng)))
    resident, applicant = hub.key("BIODATA_WNI", p.nik), hub.key("tmpemohon", "9001")

    def both_resolved() -> Resolver:
        assert hub.worker.alive(), hub.worker.tail()
        state = hub.state()
        assert state.person_of(resident) and state.person_of(applicant)
        return state

    state = wait_until(both_resolved, 90, "the resident and the applicant resolved")
    assert state.person_of(applicant) == state.person_of(resident)
    assert PERSON_ID.fullmatch(state.person_of(resident) or "")


def test_a_worker_killed_while_resolving_decides_as_an_uninterrupted_one(hub: Hub) -> None:
    rng = random.Random(hub.run + "-batch")
    persons = people(rng, BATCH // 2)
    first = send_first(hub)
    keys = []
    for i, p in enumerate(persons):
        hub.send("BIODATA_WNI", hub.resident(p), wait=False)
        keys.append(hub.key("BIODATA_WNI", p.nik))
        typed = typo(p.nik, rng) if i % 3 == 0 else (None if i % 3 == 1 else p.nik)
        hub.send("tmpemohon", hub.applicant(p, 10_000 + i, no_identitas=typed), wait=False)
        keys.append(hub.key("tmpemohon", str(10_000 + i)))
    hub.producer.flush()

    tail = LogTail(hub)
    try:
        # Kill it while a part of the batch is decided: the log has some of it, not all.
        wait_until(
            lambda: tail.count(keys) > 0 or not hub.worker.alive(), 120, "first decisions", 0.001
        )
        hub.worker.kill9()
        at_kill = tail.count(keys)
        assert 0 < at_kill < len(keys), f"the kill came at {at_kill} of {len(keys)} records"
        hub.worker.start()
        wait_until(lambda: tail.count(keys) == len(keys) or not hub.worker.alive(), 120, "all")
        assert hub.worker.alive(), hub.worker.tail()
    finally:
        tail.close()

    log = hub.decisions()
    facts = read_all(hub.bootstrap, PERSON_TOPIC)
    start = next(r.offset for r in facts if hub.decode(r.value)["source_position"] == first)
    # The uninterrupted run: the log as it was before this test's facts, then those facts
    # resolved one at a time (duplicates from the restart included, as the worker saw them).
    expected, after = new_resolver(hub.tokens), []
    for r, decision in log:
        if after or input_offset(r) >= start:
            after.append(decision)
        else:
            expected.apply(decision)
    decided: list[Decision] = []
    for r in (r for r in facts if r.offset >= start):
        fact = hub.decode(r.value)
        record = person_record(fact, hub.tokens)
        if fact["op"] == "DELETE":
            decided += expected.forget(record.record_id)
        else:
            # As the worker dates a person: the source time, else the fact's Kafka time.
            decided += expected.resolve(record, ts_ms=founding_ms(fact, r.timestamp))
    assert after == decided  # nothing decided twice, nothing lost, same ids
    actual = hub.state()
    assert {k: actual.person_of(k) for k in keys} == {k: expected.person_of(k) for k in keys}
    # The typos (every third applicant) ended in their resident's person.
    for i in range(0, len(persons), 3):
        assert actual.person_of(keys[2 * i + 1]) == actual.person_of(keys[2 * i]), i

    # No NIK in any key: person facts are keyed by record tokens, decisions by person ids.
    niks = {p.nik for p in persons}
    for r in facts:
        key = hub.decode(r.key)
        assert key not in niks and not re.fullmatch(r"\d{16}", key)
        if r.offset >= start:
            assert RECORD_KEY.fullmatch(key) and key == hub.decode(r.value)["record_key"]
    assert all(PERSON_ID.fullmatch(hub.decode(r.key)) for r, _ in log)


def send_first(hub: Hub) -> str:
    """Send the first change of this test and return its source position (where it starts)."""
    (p,) = people(random.Random(hub.run + "-first"), 1)
    hub.send("BIODATA_WNI", hub.resident(p))
    return f"{hub.run}-{hub.sent}"


def input_offset(record: Any) -> int:
    """The person topic offset a logged decision was made for (-1 for a review's)."""
    for name, value in record.headers or ():
        if name == INPUT_HEADER:
            topic, _, offset = value.decode().rsplit("/", 2)
            return int(offset) if topic == PERSON_TOPIC else -1
    return -1
