"""The identity step without Kafka: encoded facts and review commands in, decision groups (one per
input, marked with its offset), findings and dead letters out; a replay of its own log."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from ulid import ULID

from domain.matching.decisions import Decision, DecisionKind
from domain.matching.model import MatchModel
from eventlog.topics import IDENTITY_REVIEWS_TOPIC, IDENTITY_TOPIC, PERSON_TOPIC, Topics
from schemas.codec import Deserializer
from streams.canonical import PersonFact
from streams.identity_records import decision_record
from streams.resolution import INPUT_HEADER, IdentityStep
from streams.wire import OutMessage, RawMessage, Wire
from tests.streams.helpers import TS, FakeRegistry
from tests.streams.rows import TOKENS, WOMAN

NOW = 1_755_500_000.0
TYPO = "7413014508900011"  # WOMAN with one digit wrong
MODEL = MatchModel.load()


def resident(**over: Any) -> PersonFact:
    fact = PersonFact(
        nik_status="VALID",
        agency="disdukcapil",
        source_table="BIODATA_WNI",
        source_record_id=WOMAN,
        op="UPSERT",
        source_position="siak-1",
        nik=WOMAN,
        name="WA ODE SITTI",
        sex="P",
        birth_date=dt.date(1990, 8, 5),
        birth_place="LAWORO",
        address="DUSUN II",
        kecamatan_code="741301",
        kelurahan_code="7413012001",
        source_ts=TS,
    )
    return dataclasses.replace(fact, **over).keyed(TOKENS)


def applicant(**over: Any) -> PersonFact:
    fact = PersonFact(
        nik_status="VALID",
        agency="dpmptsp",
        source_table="tmpemohon",
        source_record_id="42",
        op="UPSERT",
        source_position="sicantik-1",
        nik=TYPO,
        name="Wa Ode Sitti",
        birth_date=dt.date(1990, 8, 5),
        birth_place="Laworo",
        address="DUSUN II, Kec. Sawerigadi",
        phone="081234567890",
        source_ts=TS + dt.timedelta(days=1),
    )
    return dataclasses.replace(fact, **over).keyed(TOKENS)


class Log:
    """Encodes inputs as normalize and the API write them, and reads outputs back."""

    def __init__(self, registry: FakeRegistry):
        self.wire = Wire(registry, stage="test", topics=Topics())  # type: ignore[arg-type]
        self.wire.ensure_subjects(
            {PERSON_TOPIC: "person_fact", IDENTITY_REVIEWS_TOPIC: "identity_decision"}
        )
        self.decode = Deserializer(registry)  # type: ignore[arg-type]
        self.offset = 0
        self.reviews = 0

    def fact(self, fact: PersonFact, kafka_ms: int | None = None) -> RawMessage:
        m = self.wire.encode(PERSON_TOPIC, fact.record_key or "?", fact.record())
        self.offset += 1
        return RawMessage(PERSON_TOPIC, 0, self.offset, m.key, m.value, kafka_ms)

    def command(self, kind: DecisionKind, a: str, b: str, who: str) -> RawMessage:
        decision = Decision(kind, "", record_id=a, other_record_id=b, reason=who)
        m = self.wire.encode(IDENTITY_REVIEWS_TOPIC, a, decision_record(decision, 0))
        self.reviews += 1
        return RawMessage(IDENTITY_REVIEWS_TOPIC, 0, self.reviews, m.key, m.value)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def log(registry: FakeRegistry) -> Log:
    return Log(registry)


def new_step(registry: FakeRegistry) -> IdentityStep:
    step = IdentityStep(registry, TOKENS, MODEL, topics=Topics(), clock=lambda: NOW)  # type: ignore[arg-type]
    step.ensure_subjects()
    step.reset()
    return step


@pytest.fixture
def step(registry: FakeRegistry) -> IdentityStep:
    return new_step(registry)


def kinds(group: list[OutMessage], log: Log) -> list[str]:
    return [log.decode(m.value)["kind"] for m in group]


def test_a_permit_applicant_with_a_nik_typo_joins_the_resident(
    step: IdentityStep, log: Log
) -> None:
    result = step.process([log.fact(resident()), log.fact(applicant())])
    first, second = result.groups
    assert kinds(first, log) == ["NEW"] and kinds(second, log)[0] == "LINK"
    person = step.resolver.person_of(resident().record_key)
    assert person is not None and person.startswith("P")
    assert step.resolver.person_of(applicant().record_key) == person
    assert {log.decode(m.key) for m in first + second} == {person}  # keyed by person id
    assert first[0].topic == IDENTITY_TOPIC
    assert first[0].headers == ((INPUT_HEADER, b"mpp.canonical.person/0/1"),)
    assert result.decisions == {"NEW": 1, "LINK": 1}
    assert (result.dead_letters, result.other, result.rest) == (0, [], [])
    assert len(result.seconds) == 2
    assert result.candidates == 1  # the applicant scored against the resident
    assert step.process([log.fact(resident())]).candidates == 0  # unchanged: nothing scored


def test_a_replay_of_the_log_is_the_same_state_and_skips_what_is_decided(
    registry: FakeRegistry, step: IdentityStep, log: Log
) -> None:
    inputs = [log.fact(resident()), log.fact(applicant())]
    groups = step.process(inputs).groups
    fresh = new_step(registry)
    for m in (m for group in groups for m in group):
        fresh.replay(m.value, m.headers)
    key = applicant().record_key
    assert fresh.resolver.person_of(key) == step.resolver.person_of(key)
    assert fresh.decided == {(PERSON_TOPIC, 0): 2}
    again = fresh.process(inputs)  # read again after a crash: nothing is decided twice
    assert (again.groups, again.skipped) == ([], 2)


def test_a_person_founded_by_a_snapshot_row_is_dated_by_its_kafka_record(
    registry: FakeRegistry, step: IdentityStep, log: Log
) -> None:
    kafka_ms = 1_700_000_000_123  # the person fact's record timestamp, stored with it
    row = log.fact(resident(source_ts=None), kafka_ms)  # a snapshot row says no source time
    step.process([row])
    person = step.resolver.person_of(resident().record_key)
    assert person is not None and ULID.from_str(person[1:]).milliseconds == kafka_ms
    # Decided again (a worker that crashed before its decisions reached the log) on another
    # day: the same record, the same id; the wall clock never dates a person.
    later = IdentityStep(registry, TOKENS, MODEL, topics=Topics(), clock=lambda: NOW + 86_400)  # type: ignore[arg-type]
    later.ensure_subjects()
    later.reset()
    later.process([row])
    assert later.resolver.person_of(resident().record_key) == person
    dated = new_step(registry)  # a fact with a source time is dated by it, as before
    dated.process([log.fact(resident(), kafka_ms)])
    founded = dated.resolver.person_of(resident().record_key)
    assert founded is not None and ULID.from_str(founded[1:]).datetime == TS


def test_a_late_copy_of_a_snapshot_read_changes_nothing(step: IdentityStep, log: Log) -> None:
    """The snapshot read of an applicant, a streamed correction of their address, then the
    snapshot read again (a worker frozen past its session timeout, continued): the record keeps
    the corrected address and no decision is made."""
    read = applicant(source_ts=None, source_position="snapshot@1")
    fixed = applicant(address="DUSUN III, Kec. Lawa", source_position="sicantik-2")
    key = read.record_key
    step.process([log.fact(resident()), log.fact(read)])
    as_read = step.resolver.record(key)
    step.process([log.fact(fixed)])
    corrected = step.resolver.record(key)
    assert corrected != as_read
    again = step.process([log.fact(read)])
    assert again.groups == []
    assert step.resolver.record(key) == corrected


def test_a_delete_unlinks_the_record(step: IdentityStep, log: Log) -> None:
    step.process([log.fact(resident())])
    result = step.process([log.fact(dataclasses.replace(resident(), op="DELETE", name=None))])
    (group,) = result.groups
    assert kinds(group, log) == ["UNLINK"]
    assert step.resolver.person_of(resident().record_key) is None


def test_a_record_with_nothing_to_compare_is_its_own_person_and_a_finding(
    step: IdentityStep, log: Log
) -> None:
    empty = applicant(nik=None, name=None, birth_date=None, source_record_id="7413014508900001")
    result = step.process([log.fact(empty)])
    (group,) = result.groups
    assert kinds(group, log) == ["NEW"]
    (out,) = result.other
    finding = log.decode(out.value)
    assert finding["rule_code"] == "IDENTITY_NOTHING_TO_COMPARE"
    assert (finding["agency"], finding["table"]) == ("dpmptsp", "tmpemohon")
    assert finding["record_key"] == "741301**********"  # a record id that looks like a NIK
    assert finding["ts"] == TS + dt.timedelta(days=1)
    assert result.findings == {("dpmptsp", "IDENTITY_NOTHING_TO_COMPARE"): 1}


def test_garbage_is_a_dead_letter_and_the_batch_goes_on(step: IdentityStep, log: Log) -> None:
    garbage = RawMessage(PERSON_TOPIC, 0, 1, b"k", b"not avro")
    nameless = log.fact(dataclasses.replace(resident(), record_key="", agency=""))
    result = step.process([garbage, nameless, log.fact(applicant())])
    assert result.dead_letters == 2
    letters = [log.decode(m.value) for m in result.other]
    assert [(d["stage"], d["error_type"]) for d in letters] == [
        ("identity", "WireFormatError"),
        ("identity", "UnusableFact"),
    ]
    assert letters[1]["reason"].startswith("person fact has neither a record_key nor")
    assert letters[1]["source_table"] == "BIODATA_WNI"
    assert len(result.groups) == 1  # the applicant after them


def test_a_resolver_failure_dead_letters_the_input_and_asks_for_a_replay(
    step: IdentityStep, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> list[Decision]:
        raise ZeroDivisionError

    monkeypatch.setattr(step.resolver, "resolve", broken)
    inputs = [log.fact(resident()), log.fact(applicant())]
    result = step.process(inputs)
    assert step.stale and result.rest == inputs[1:]
    (letter,) = [log.decode(m.value) for m in result.other]
    assert letter["reason"] == "unexpected ZeroDivisionError in the resolver"


def test_supervisors_decide_with_their_name_on_the_decision(step: IdentityStep, log: Log) -> None:
    a, b = resident().record_key, applicant().record_key
    step.process([log.fact(resident()), log.fact(applicant())])
    result = step.process([log.command(DecisionKind.CANNOT_LINK, a, b, "supervisor.ani")])
    decided = [log.decode(m.value) for m in result.groups[0]]
    assert decided[0]["kind"] == "CANNOT_LINK" and decided[0]["reason"] == "supervisor.ani"
    assert step.resolver.person_of(a) != step.resolver.person_of(b)
    result = step.process([log.command(DecisionKind.MUST_LINK, a, b, "supervisor.budi")])
    assert [log.decode(m.value)["reason"] for m in result.groups[0]][0] == "supervisor.budi"
    assert step.resolver.person_of(a) == step.resolver.person_of(b)


def test_a_review_command_of_another_kind_is_a_dead_letter(step: IdentityStep, log: Log) -> None:
    result = step.process([log.command(DecisionKind.MERGE, "R1", "R2", "someone")])
    assert result.dead_letters == 1 and result.groups == []
