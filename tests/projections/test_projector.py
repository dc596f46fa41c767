"""The Projector without a broker: decoding, bad data passed over, retries, the open-permit
refresh."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from projections.facts import DEFAULT_TOPICS, Message
from projections.metrics import IDENTITY_DECISIONS, PERMITS_OPEN, REVIEWS_OPEN
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
    fact = f.person(name="SITI", birth_date=dt.date(1990, 7, 5))
    batch = [
        raw(projector, "service", f.service(), 0),
        raw(projector, "person", fact, 0),
        raw(projector, "identity", f.link(fact, f.P_A, kind="NEW"), 0),
    ]
    result = projector.apply(batch)
    assert result.applied == 3
    assert result.decisions == {"NEW": 1}
    with store.sessions() as s:
        assert s.get(Citizen, f.P_A).birth_date == dt.date(1990, 7, 5)
        assert s.get(Service, "dpmptsp:1").sla_days == 9


def test_undecodable_messages_are_skipped_and_checkpointed(projector, store):
    before = SKIPPED.labels(topic=DEFAULT_TOPICS.person)._value.get()
    batch = [
        raw(projector, "person", b"\x00\x00\x00\x00\x63junk", 0),  # unknown schema id 99
        raw(projector, "person", b"plain text", 1),
        raw(projector, "person", f.person(name="SITI"), 2),
        raw(projector, "identity", f.link(f.person(), f.P_A), 0),
    ]
    result = projector.apply(batch)
    assert result.applied == 4
    assert SKIPPED.labels(topic=DEFAULT_TOPICS.person)._value.get() == before + 2
    with store.sessions() as s:
        assert s.scalar(select(Citizen.name)) == "SITI"
        assert read_checkpoints(s) == {
            (DEFAULT_TOPICS.person, 0): 2,
            (DEFAULT_TOPICS.identity, 0): 0,
        }


def test_an_invalid_event_is_passed_over_and_the_rest_applied(projector, store):
    fact = f.person(name="SITI")
    good = projector.decode(raw(projector, "person", fact, 0))
    linked = projector.decode(raw(projector, "identity", f.link(fact, f.P_A), 0))
    bad = f.person(f.NIK_B, record_id="2", position="p2")
    del bad["source_record_id"]  # decodes (not through Avro here), cannot be projected
    bad_decision = f.decision("MERGE", f.P_B, other_person_ids=[f.P_A])
    del bad_decision["person_id"]

    def fake_decode(m):
        if m[0] == DEFAULT_TOPICS.identity:
            return linked if m[2] == 0 else Message(m[0], m[1], m[2], None, bad_decision)
        return good if m[2] == 0 else Message(m[0], m[1], m[2], None, bad)

    projector.decode = fake_decode
    result = projector.apply(
        [
            (DEFAULT_TOPICS.person, 0, 0, b"", b""),
            (DEFAULT_TOPICS.person, 0, 1, b"", b""),
            (DEFAULT_TOPICS.identity, 0, 0, b"", b""),
            (DEFAULT_TOPICS.identity, 0, 1, b"", b""),
        ]
    )
    assert result.applied == 4
    with store.sessions() as s:
        assert [c.person_id for c in s.scalars(select(Citizen))] == [f.P_A]
        assert read_checkpoints(s) == {
            (DEFAULT_TOPICS.person, 0): 1,
            (DEFAULT_TOPICS.identity, 0): 1,
        }


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
    fact = f.person(name="SITI")
    batch = [raw(projector, "person", fact, 0), raw(projector, "identity", f.link(fact, f.P_A), 0)]
    result = asyncio.run(projector.process(batch))
    assert result.applied == 2 and failures == []
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


def test_review_queue_gauge_and_decisions_counted(projector, store):
    merges = IDENTITY_DECISIONS.labels(kind="MERGE")._value.get()
    a, b = f.person(), f.person(f.NIK_B, record_id="2", position="p2")
    decisions = [
        f.link(a, f.P_A, kind="NEW"),
        f.link(b, f.P_B, kind="NEW"),
        f.decision("REVIEW", f.P_B, b["record_key"], other_record_id=a["record_key"]),
    ]
    projector.apply([raw(projector, "identity", d, i) for i, d in enumerate(decisions)])
    projector.update_gauges()
    assert REVIEWS_OPEN._value.get() == 1
    merge = f.decision("MERGE", f.P_A, other_person_ids=[f.P_B])
    projector.apply([raw(projector, "identity", merge, 3)])
    projector.update_gauges()
    assert REVIEWS_OPEN._value.get() == 0  # settled: both records in one person now
    assert IDENTITY_DECISIONS.labels(kind="MERGE")._value.get() == merges + 1


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
