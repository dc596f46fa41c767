"""The Projector without a broker: decoding, bad data passed over, retries, the open-permit
refresh."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from projections.facts import DEFAULT_TOPICS, Message
from projections.metrics import PERMITS_OPEN
from projections.models import Citizen, Service
from projections.projector import SKIPPED, Projector, bad_data, describe_error
from projections.settings import ProjectionSettings
from projections.store import local_today
from projections.writer import apply_batch, read_checkpoints
from schemas.codec import Serializer
from tests.projections import canonical
from tests.projections import factories as f


class MemoryRegistry:
    """A schema registry in a dict (the codec's SchemaSource protocol)."""

    def __init__(self) -> None:
        self.schemas: dict[int, object] = {}

    def register(self, subject: str, schema: object) -> int:
        for i, known in self.schemas.items():
            if known == schema:
                return i
        self.schemas[len(self.schemas) + 1] = schema
        return len(self.schemas)

    def lookup(self, subject: str, schema: object) -> int | None:
        return next((i for i, s in self.schemas.items() if s == schema), None)

    def get_schema(self, schema_id: int) -> object:
        try:
            return self.schemas[schema_id]
        except KeyError:
            raise LookupError(f"no schema {schema_id}") from None


@pytest.fixture
def projector(store):
    registry = MemoryRegistry()
    p = Projector(ProjectionSettings(), store=store, registry=registry)
    p.encode = {
        kind: Serializer(registry, f"{kind}-value", schema)
        for kind, schema in canonical.schemas().items()
    }
    return p


def raw(projector, kind: str, value, offset: int, partition: int = 0):
    topic = getattr(DEFAULT_TOPICS, kind)
    payload = value if isinstance(value, bytes) else projector.encode[kind](value)
    return (topic, partition, offset, b"key", payload)


def test_projector_decodes_and_applies(projector, store):
    batch = [
        raw(projector, "service", f.service(), 0),
        raw(projector, "person", f.person(name="SITI", birth_date=dt.date(1990, 7, 5)), 0),
    ]
    result = projector.apply(batch)
    assert result.applied == 2
    with store.sessions() as s:
        assert s.get(Citizen, f.NIK_A).birth_date == dt.date(1990, 7, 5)
        assert s.get(Service, "dpmptsp:1").sla_days == 9


def test_undecodable_messages_are_skipped_and_checkpointed(projector, store):
    before = SKIPPED.labels(topic=DEFAULT_TOPICS.person)._value.get()
    batch = [
        raw(projector, "person", b"\x00\x00\x00\x00\x63junk", 0),  # unknown schema id 99
        raw(projector, "person", b"plain text", 1),
        raw(projector, "person", f.person(name="SITI"), 2),
    ]
    result = projector.apply(batch)
    assert result.applied == 3
    assert SKIPPED.labels(topic=DEFAULT_TOPICS.person)._value.get() == before + 2
    with store.sessions() as s:
        assert s.scalar(select(Citizen.name)) == "SITI"
        assert read_checkpoints(s) == {(DEFAULT_TOPICS.person, 0): 2}


def test_an_invalid_event_is_passed_over_and_the_rest_applied(projector, store):
    good = projector.decode(raw(projector, "person", f.person(name="SITI"), 0))
    bad = f.person(f.NIK_B, record_id="2", position="p2")
    del bad["source_record_id"]  # decodes (not through Avro here), cannot be projected

    def fake_decode(m):
        return good if m[2] == 0 else Message(m[0], m[1], m[2], None, bad)

    projector.decode = fake_decode
    result = projector.apply(
        [(DEFAULT_TOPICS.person, 0, 0, b"", b""), (DEFAULT_TOPICS.person, 0, 1, b"", b"")]
    )
    assert result.applied == 2
    with store.sessions() as s:
        assert [c.person_key for c in s.scalars(select(Citizen))] == [f.NIK_A]
        assert read_checkpoints(s) == {(DEFAULT_TOPICS.person, 0): 1}


def test_transient_errors_are_retried_until_the_batch_commits(projector, store, monkeypatch):
    monkeypatch.setattr("projections.projector.RETRY_FIRST_S", 0.001)
    real = projector._apply
    failures = [
        sa_exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
    ] * 2

    def flaky(messages):
        if failures:
            raise failures.pop()
        return real(messages)

    projector._apply = flaky
    result = asyncio.run(projector.process([raw(projector, "person", f.person(name="SITI"), 0)]))
    assert result.applied == 1 and failures == []
    with store.sessions() as s:
        assert s.scalar(select(Citizen.name)) == "SITI"


def test_refresh_updates_open_permits_and_gauges(projector, store):
    with store.sessions() as s:
        apply_batch(
            s,
            [
                Message(DEFAULT_TOPICS.service, 0, 0, None, f.service(sla_days=1)),
                Message(
                    DEFAULT_TOPICS.permit,
                    0,
                    0,
                    None,
                    f.application(file_complete_date=local_today() - dt.timedelta(days=30)),
                ),
            ],
            today=local_today() - dt.timedelta(days=30),
        )
    assert projector.refresh() == 1
    assert projector.refresh() == 0  # the same day: nothing to do
    assert PERMITS_OPEN.labels(sla_state="breached")._value.get() == 1


@pytest.mark.parametrize(
    ("error", "integrity_is_bad", "expected"),
    [
        (KeyError("source_record_id"), False, True),
        (ValueError("bad date"), False, True),
        (sa_exc.DataError("INSERT", {}, Exception("value too long")), False, True),
        (sa_exc.OperationalError("INSERT", {}, Exception("deadlock detected")), False, False),
        (sa_exc.ProgrammingError("INSERT", {}, Exception("no such table")), False, False),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False, False),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), True, True),
        (ConnectionError("registry away"), False, False),
    ],
)
def test_bad_data_or_transient(error, integrity_is_bad, expected):
    assert bad_data(error, integrity_is_bad) is expected


def test_errors_are_described_without_personal_data():
    pg = Exception(
        'duplicate key value violates unique constraint "citizen_pkey"\n'
        "DETAIL:  Key (person_key)=(7413014507900001) already exists."
    )
    described = describe_error(sa_exc.IntegrityError("INSERT", {"nik": "7413014507900001"}, pg))
    assert "7413" not in described and "citizen_pkey" in described
    assert describe_error(ValueError("Invalid isoformat string: '1990-07-45'")) == "ValueError"
    assert (
        describe_error(KeyError("source_record_id")) == "KeyError: missing field 'source_record_id'"
    )
