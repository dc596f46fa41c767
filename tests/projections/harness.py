"""Helpers of the projection tests: read every projected row back, produce canonical events to
the real broker, run the projection worker as a killable subprocess, wait with deadlines."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import Engine, func, select

from eventlog import KafkaSettings, admin
from eventlog.topics import KEEP_FOREVER
from ops.processes import ChildProcess
from projections.agent import ensure_topics
from projections.facts import ProjectionTopics
from projections.models import (
    Checkpoint,
    Citizen,
    CitizenSourceRecord,
    Finding,
    IdentityReview,
    Permit,
    PermitTimeline,
    PersonAlias,
    RecordPerson,
    Service,
)
from projections.settings import ProjectionSettings
from schemas.codec import Serializer
from schemas.registry import RegistryClient
from tests.projections import canonical
from tests.projections import factories as f

REPO = Path(__file__).resolve().parents[2]

# Every projection table but the checkpoint (offsets differ between a live run and a replay)
# and the access log.
COMPARED = (
    Citizen,
    CitizenSourceRecord,
    RecordPerson,
    PersonAlias,
    IdentityReview,
    Service,
    Permit,
    PermitTimeline,
    Finding,
)


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """All rows of the compared tables, ordered by primary key, as dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for model in COMPARED:
            table = model.__table__
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [dict(r._mapping) for r in rows]
    return out


def unique_topics() -> ProjectionTopics:
    """Canonical topic names of one test (the shared stack serves every test of the session)."""
    tag = uuid.uuid4().hex[:8]
    return ProjectionTopics(
        f"test.{tag}.canonical.person",
        f"test.{tag}.canonical.permit",
        f"test.{tag}.canonical.service",
        f"test.{tag}.canonical.identity",
    )


def checkpointed(engine: Engine) -> int:
    """How many messages the checkpoints cover (sum of last offset + 1)."""
    with engine.connect() as conn:
        n = conn.scalar(select(func.coalesce(func.sum(Checkpoint.offset + 1), 0)))
    return int(n or 0)


# --- producing ----------------------------------------------------------------------------


@dataclass
class Produced:
    """What a test produced: (kind, value or raw bytes) in order, and per-topic counts."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    count: int = 0


class CanonicalProducer:
    """Produces canonical events (Confluent-framed Avro) to a test's topics, acks=all."""

    def __init__(self, stack, topics: ProjectionTopics):
        self.topics = topics
        self.registry = RegistryClient(stack.registry_url)
        schemas = canonical.schemas()
        self.serializers = {
            kind: Serializer(self.registry, f"{getattr(topics, kind)}-value", schemas[kind])
            for kind in ("person", "permit", "service", "identity")
        }
        self.producer = KafkaProducer(
            bootstrap_servers=stack.bootstrap, acks="all", linger_ms=5, retries=5
        )

    def send(self, kind: str, value: Any) -> None:
        """One event; `value` as bytes is sent as is (a poison message)."""
        key_field = {
            "person": "record_key",
            "permit": "permit_id",
            "service": "service_ref",
            "identity": "person_id",
        }[kind]
        if isinstance(value, bytes):
            key, payload = b"poison", value
        else:
            key, payload = value[key_field].encode(), self.serializers[kind](value)
        self.producer.send(getattr(self.topics, kind), key=key, value=payload)

    def send_all(self, events: list[tuple[str, Any]]) -> None:
        """Send events in order and wait until the broker has them all."""
        for kind, value in events:
            self.send(kind, value)
        self.producer.flush(timeout=30)

    def close(self) -> None:
        self.producer.close(timeout=10)
        self.registry.close()


def create_topics(stack, topics: ProjectionTopics, partitions: int = 3) -> None:
    """Create a test's canonical topics; the identity topic with one partition, as the hub's
    (its decisions are one ordered sequence)."""
    kafka = KafkaSettings(bootstrap=stack.bootstrap)

    async def create() -> None:
        await ensure_topics(ProjectionSettings(kafka=kafka, topic_partitions=partitions), topics)

    # Created first, with one partition: ensure_topics leaves an existing topic as it is.
    asyncio.run(
        admin.ensure_topics(
            kafka, {topics.identity: KEEP_FOREVER}, partitions=1, replication_factor=1
        )
    )
    asyncio.run(create())


# --- the worker subprocess ------------------------------------------------------------------


def projection_worker(env: dict[str, str], log_path: Path) -> ChildProcess:
    """`python -m tests.projections.projection_worker` with a test's settings."""
    return ChildProcess(
        "projection worker",
        [sys.executable, "-m", "tests.projections.projection_worker"],
        log_path,
        env,
        cwd=REPO,
    )


# --- a scenario ----------------------------------------------------------------------------

SERVICES = [
    ("dpmptsp:1", "SIP_DOKTER", "Surat Izin Praktik Dokter", 9),
    ("dpmptsp:2", "SIP_BIDAN", "Surat Izin Praktik Bidan", 12),
    ("dpmptsp:3", "REKLAME", "Izin Reklame", 5),
    ("dpmptsp:4", "ITR", "Informasi Tata Ruang", 7),
]
START = dt.date(2026, 8, 3)  # Monday; Mon 17 Aug (Independence Day) falls inside


def nik(i: int) -> str:
    """A well-formed NIK of Sawerigadi, born on day (i % 28) + 1 of July 1990."""
    return f"741301{(i % 28) + 1:02d}0790{i:04d}"


def scenario(people: int, permits: int, seed: int = 7) -> list[tuple[str, Any]]:
    """Canonical events of a small regency: residents, applicants and the identity decisions
    placing them (some before their fact, some merges, a few reviews), services, permits moving
    through their states (some rejected, some clock stops, some still open), in log order, with
    repeats of earlier events (at-least-once) and one malformed NIK."""
    rnd = random.Random(seed)
    events: list[tuple[str, Any]] = []
    clock = iter(range(10**6))

    def at() -> int:
        return next(clock)

    for ref, code, name, sla in SERVICES:
        events.append(
            ("service", f.service(ref, code=code, name=name, sla_days=sla, position=f"svc-{ref}"))
        )
    merges = []
    for i in range(people):
        resident = f.person(
            nik(i),
            record_id=str(i),
            position=f"siak-{i}",
            at=at(),
            name=f"WARGA {i}",
            sex="L" if i % 2 else "P",
            birth_date=dt.date(1990, 7, (i % 28) + 1),
            birth_place="Laworo",
            address=f"Jl. Poros {i}",
            kecamatan_code="741301",
        )
        applicant = f.person(
            nik(i),
            agency="dpmptsp",
            table="tmpemohon",
            record_id=str(i),
            position=f"emohon-{i}",
            at=at(),
            name=f"Warga {i}",
            occupation="Wiraswasta",
        )
        placed = [("identity", f.link(resident, f.pid(i), kind="NEW"))]
        if i % 10 == 1:
            # First a person of its own; merged into the resident's after the permits.
            placed.append(("identity", f.link(applicant, f.pid(1000 + i), kind="NEW")))
            merges.append(
                ("identity", f.decision("MERGE", f.pid(i), other_person_ids=[f.pid(1000 + i)]))
            )
        else:
            placed.append(("identity", f.link(applicant, f.pid(i))))
        facts = [("person", resident), ("person", applicant)]
        # Topics are consumed in no order relative to each other: some decisions come first.
        events.extend(placed + facts if i % 7 == 3 else facts + placed)
        if i % 10 == 2 and i + 1 < people:
            other = f.person(record_id=str(i + 1))["record_key"]
            review = f.decision(
                "REVIEW",
                f.pid(i),
                applicant["record_key"],
                other_record_id=other,
                evidence=f.evidence(),
                reason="score",
                at=at(),
            )
            merges.append(("identity", review))
    # An applicant with a malformed NIK: a person of its own, flagged.
    malformed = f.person(
        "74130",
        agency="dpmptsp",
        table="tmpemohon",
        record_id="999",
        position="emohon-999",
        at=at(),
        name="PEMOHON NIK RUSAK",
        nik_status="MALFORMED",
    )
    events.append(("person", malformed))
    events.append(("identity", f.link(malformed, f.pid(999), kind="NEW")))
    for n in range(permits):
        pid = f"dpmptsp:{1000 + n}"
        applicant = 999 if n == 0 else rnd.randrange(people)
        service_ref = SERVICES[n % len(SERVICES)][0]
        day = START + dt.timedelta(days=rnd.randrange(10))
        app = dict(
            service_ref=service_ref,
            applicant_ref=f"dpmptsp:tmpemohon:{applicant}",
            received_date=day,
            file_complete_date=None,
        )
        events.append(("permit", f.application(pid, position=f"app-{n}-0", at=at(), **app)))
        seq = iter(range(1, 100))

        def step(status: str, when: dt.date, pid: str = pid, n: int = n, seq=seq) -> None:
            k = next(seq)
            events.append(
                ("permit", f.status(pid, k, status, when, position=f"log-{n}-{k}", at=at()))
            )

        step("RECEIVED", day)
        fate = rnd.random()
        if fate < 0.1:
            continue  # still waiting for a complete file
        complete = day + dt.timedelta(days=rnd.randrange(3))
        step("FILE_COMPLETE", complete)
        app["file_complete_date"] = complete
        events.append(("permit", f.application(pid, position=f"app-{n}-1", at=at(), **app)))
        when = complete + dt.timedelta(days=1 + rnd.randrange(3))
        step("VERIFIED", when)
        if rnd.random() < 0.25:
            step("CLOCK_STOPPED", when + dt.timedelta(days=1))
            when = when + dt.timedelta(days=2 + rnd.randrange(4))
            step("CLOCK_RESUMED", when)
        if fate < 0.25:
            continue  # open: its SLA state moves with time
        finish = when + dt.timedelta(days=1 + rnd.randrange(12))
        if fate < 0.35:
            step("REJECTED", finish)
            outcome = "REJECTED"
        else:
            step("APPROVED", finish)
            step("ISSUED", finish)
            outcome = "ISSUED"
        events.append(
            (
                "permit",
                f.application(
                    pid,
                    position=f"app-{n}-2",
                    at=at(),
                    outcome=outcome,
                    finished_date=finish,
                    permit_number=f"503/{n}/2026" if outcome == "ISSUED" else None,
                    **app,
                ),
            )
        )
    events.extend(merges)
    # At-least-once upstream: some events again, later in the log, positions unchanged.
    repeats = [e for e in events if rnd.random() < 0.05]
    return events + repeats
