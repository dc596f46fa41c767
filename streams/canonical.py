"""The canonical events the normalize step emits, as plain dataclasses (the Avro schemas are
schemas/avro/*.avsc; field names here are the Avro field names).

Each class knows its topic (its name within the hub: Topics.name gives the cluster's) and its
Kafka key, so the worker can encode and send any of them the same way. Values are what fastavro
writes: str for enums, date/datetime for logical types.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from domain.nik import mask_numbers_in
from domain.tokens import Tokens
from eventlog.topics import DQ_FINDINGS_TOPIC, PERMIT_TOPIC, PERSON_TOPIC, SERVICE_TOPIC

UPSERT, DELETE = "UPSERT", "DELETE"  # PersonFact.op
APPLICATION, STATUS, DELETED = "APPLICATION", "STATUS", "DELETED"  # PermitEvent.kind
ERROR, WARNING = "ERROR", "WARNING"  # DataQualityFinding.severity


@dataclass(frozen=True)
class Canonical:
    """Base of the events normalize emits: a topic, a key, and the Avro record."""

    topic: ClassVar[str]
    schema_name: ClassVar[str]  # the .avsc file (schemas.catalog.get)

    @property
    def key(self) -> str:
        """The Kafka key (an Avro string on every canonical topic)."""
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        """The Avro record (field name -> value)."""
        return {name: getattr(self, name) for name in _field_names(type(self))}


@dataclass(frozen=True)
class PersonFact(Canonical):
    """What one agency record says about one person (person_fact.avsc). The mappings leave
    record_key empty; normalize keys the fact (`keyed`) under the hub's secret."""

    topic: ClassVar[str] = PERSON_TOPIC
    schema_name: ClassVar[str] = "person_fact"

    nik_status: str
    agency: str
    source_table: str
    source_record_id: str
    op: str
    source_position: str
    nik: str | None = None
    name: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    birth_place: str | None = None
    address: str | None = None
    kecamatan_code: str | None = None
    kelurahan_code: str | None = None
    religion: str | None = None
    marital_status: str | None = None
    occupation: str | None = None
    kk_number: str | None = None
    deceased: bool | None = None
    death_date: dt.date | None = None
    source_ts: dt.datetime | None = None
    phone: str | None = None
    record_key: str = ""
    # {"record_ref": str, "issues": [{rule_code, detail, field, severity}]}: this version's
    # findings, all of them (an empty list clears earlier ones); None on a DELETE.
    quality: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        if not self.record_key:
            raise ValueError("a PersonFact is keyed by its record_key: call keyed(tokens) first")
        return self.record_key

    def keyed(self, tokens: Tokens) -> PersonFact:
        """The fact with its record_key: the token of (agency, source_table, source_record_id)."""
        return dataclasses.replace(self, record_key=self.record_key_under(tokens))

    def record_key_under(self, tokens: Tokens) -> str:
        """The record_key `keyed` gives: the token of (agency, source_table, source_record_id)."""
        return tokens.record(self.agency, self.source_table, self.source_record_id)

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return (
            f"PersonFact({self.agency}/{self.source_table} op={self.op}"
            f" nik_status={self.nik_status} position={self.source_position})"
        )


@dataclass(frozen=True)
class PermitEvent(Canonical):
    """A change of a permit application: its row, a status step, or its deletion."""

    topic: ClassVar[str] = PERMIT_TOPIC
    schema_name: ClassVar[str] = "permit_event"

    permit_id: str
    agency: str
    kind: str
    source_position: str
    service_ref: str | None = None
    applicant_ref: str | None = None
    registration_no: str | None = None
    received_date: dt.date | None = None
    file_complete_date: dt.date | None = None
    finished_date: dt.date | None = None
    outcome: str | None = None
    permit_number: str | None = None
    status: str | None = None
    status_time: dt.datetime | None = None
    status_seq: int | None = None
    status_note: str | None = None
    status_code: int | None = None
    source_ts: dt.datetime | None = None

    @property
    def key(self) -> str:
        return self.permit_id


@dataclass(frozen=True)
class ServiceEvent(Canonical):
    """A service (permit type) and its SLA in working days."""

    topic: ClassVar[str] = SERVICE_TOPIC
    schema_name: ClassVar[str] = "service_event"

    service_ref: str
    agency: str
    active: bool
    source_position: str
    code: str | None = None
    name: str | None = None
    sla_days: int | None = None
    unit: str | None = None
    deleted: bool | None = None
    source_ts: dt.datetime | None = None

    @property
    def key(self) -> str:
        return self.service_ref


@dataclass(frozen=True)
class DataQualityFinding(Canonical):
    """A data-quality problem in an agency record; never carries the offending value."""

    topic: ClassVar[str] = DQ_FINDINGS_TOPIC
    schema_name: ClassVar[str] = "data_quality_finding"

    agency: str
    table: str
    record_key: str  # the source record id, masked when it is a NIK
    rule_code: str
    detail: str
    source_position: str
    ts: dt.datetime
    field: str | None = None
    severity: str | None = None

    def __post_init__(self) -> None:
        # A polling position is `ts|key`, and SIAK's key is the NIK: masked like record_key,
        # as findings go to agencies' IT teams and are kept for the record retention.
        object.__setattr__(self, "source_position", mask_numbers_in(self.source_position))

    @property
    def key(self) -> str:
        return f"{self.agency}/{self.table}/{self.record_key}"


@functools.cache
def _field_names(cls: type[Canonical]) -> tuple[str, ...]:
    # dataclasses.fields() walks the class's fields on every call: once per class instead, as
    # record() runs for every event normalize emits.
    return tuple(f.name for f in dataclasses.fields(cls))


CANONICAL_TYPES: tuple[type[Canonical], ...] = (
    PersonFact,
    PermitEvent,
    ServiceEvent,
    DataQualityFinding,
)
