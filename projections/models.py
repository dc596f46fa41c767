"""The read models (SQLAlchemy 2, SQLite and PostgreSQL): citizen golden record and what each
agency holds about the person, which person each record belongs to (from identity decisions only),
aliases of merged persons and the review queue, services, permits and their status timelines, the
consumer checkpoints written in the same transaction as the rows, and review notes (the audit
of reads lives in its own database: projections/audit).

Every projected row keeps the source position (and source time) of the change it reflects, so a
repeated or older event changes nothing. Timestamps are naive UTC (SQLite has no time zone).
Deterministic on purpose: a rebuild from the log gives the same rows, so no column holds the
wall-clock time of the write (`updated_at` is the source time of the latest change applied).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of all projection tables."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Citizen(Base):
    """The golden record of one person (keyed by the hub's person id, 'P' + ULID, never the
    NIK): each field from the best of the person's source records, with provenance.

    The civil registry (disdukcapil) wins for identity fields; other agencies fill only fields
    it leaves empty. `provenance` maps each field to {agency, table, record_id, position}."""

    __tablename__ = "citizen"

    person_id: Mapped[str] = mapped_column(String, primary_key=True)
    nik: Mapped[str | None] = mapped_column(String, index=True)
    nik_status: Mapped[str | None] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String, index=True)
    sex: Mapped[str | None] = mapped_column(String)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    birth_place: Mapped[str | None] = mapped_column(String)
    address: Mapped[str | None] = mapped_column(Text)
    kecamatan_code: Mapped[str | None] = mapped_column(String)
    kelurahan_code: Mapped[str | None] = mapped_column(String)
    religion: Mapped[str | None] = mapped_column(String)
    marital_status: Mapped[str | None] = mapped_column(String)
    occupation: Mapped[str | None] = mapped_column(String)
    kk_number: Mapped[str | None] = mapped_column(String)
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    death_date: Mapped[dt.date | None] = mapped_column(Date)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    source_position: Mapped[str | None] = mapped_column(String)
    source_ts: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CitizenSourceRecord(Base):
    """What one agency record says about a person (facts merged: null means "not stated").

    `person_id` mirrors record_person (identity decisions): null while no decision placed the
    record, which then belongs to no citizen."""

    __tablename__ = "citizen_source_record"

    agency: Mapped[str] = mapped_column(String, primary_key=True)
    source_table: Mapped[str] = mapped_column(String, primary_key=True)
    source_record_id: Mapped[str] = mapped_column(String, primary_key=True)
    # agency:table:record_id, lower-cased agency and table: how permits name their applicant.
    ref: Mapped[str] = mapped_column(String, unique=True)
    # PersonFact.record_key: the keyed token identity decisions name the record by.
    record_key: Mapped[str | None] = mapped_column(String, unique=True)
    person_id: Mapped[str | None] = mapped_column(String, index=True)
    nik_status: Mapped[str | None] = mapped_column(String)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_position: Mapped[str] = mapped_column(String)
    source_ts: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Service(Base):
    """A service (jenis izin) of an agency and its standard in working days."""

    __tablename__ = "service"

    service_ref: Mapped[str] = mapped_column(String, primary_key=True)
    agency: Mapped[str | None] = mapped_column(String)
    code: Mapped[str | None] = mapped_column(String, index=True)
    name: Mapped[str | None] = mapped_column(String)
    sla_days: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String)
    active: Mapped[bool | None] = mapped_column(Boolean)
    # Deleted at the source: kept, its SLA still applies to the permits filed under it.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_position: Mapped[str] = mapped_column(String)
    source_ts: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Permit(Base):
    """One permit application and where it stands (derived by domain.permits.derive_permit)."""

    __tablename__ = "permit"

    permit_id: Mapped[str] = mapped_column(String, primary_key=True)
    agency: Mapped[str | None] = mapped_column(String)
    service_ref: Mapped[str | None] = mapped_column(String, index=True)
    service_code: Mapped[str | None] = mapped_column(String, index=True)
    service_name: Mapped[str | None] = mapped_column(String)
    sla_days: Mapped[int | None] = mapped_column(Integer)
    applicant_ref: Mapped[str | None] = mapped_column(String, index=True)
    applicant_person_id: Mapped[str | None] = mapped_column(String, index=True)
    registration_no: Mapped[str | None] = mapped_column(String)
    received_date: Mapped[dt.date | None] = mapped_column(Date)
    file_complete_date: Mapped[dt.date | None] = mapped_column(Date)
    finished_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String)
    outcome: Mapped[str | None] = mapped_column(String, index=True)
    permit_number: Mapped[str | None] = mapped_column(String)
    working_days_used: Mapped[int | None] = mapped_column(Integer)
    sla_state: Mapped[str | None] = mapped_column(String)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    clock_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The latest APPLICATION event as stated (with its own position and time): what
    # derive_permit reads; the columns above are derived from it and the timeline.
    application: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_position: Mapped[str | None] = mapped_column(String)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_permit_open", "outcome", "deleted"),)


class PermitTimeline(Base):
    """One entry of a permit's status log, unique by (permit_id, status_seq)."""

    __tablename__ = "permit_timeline"

    permit_id: Mapped[str] = mapped_column(String, primary_key=True)
    status_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str | None] = mapped_column(String)
    status_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    source_position: Mapped[str] = mapped_column(String)
    source_ts: Mapped[dt.datetime | None] = mapped_column(DateTime)


class RecordPerson(Base):
    """The person a record belongs to, as the identity decisions say; kept for records whose
    fact has not arrived yet (topics are consumed in no order relative to each other)."""

    __tablename__ = "record_person"

    record_key: Mapped[str] = mapped_column(String, primary_key=True)
    person_id: Mapped[str] = mapped_column(String, index=True)


class PersonAlias(Base):
    """A person id merged into another (the oldest id survives); the alias still resolves."""

    __tablename__ = "person_alias"

    alias: Mapped[str] = mapped_column(String, primary_key=True)
    person_id: Mapped[str] = mapped_column(String, index=True)


class IdentityReview(Base):
    """A pair of records the resolver could not decide on, with its evidence; open until a
    supervisor's MUST_LINK / CANNOT_LINK decision on the pair arrives on the identity topic.
    The pair is stored in key order (record_a < record_b)."""

    __tablename__ = "identity_review"

    record_a: Mapped[str] = mapped_column(String, primary_key=True)
    record_b: Mapped[str] = mapped_column(String, primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String)
    weight: Mapped[float | None] = mapped_column(Float)
    probability: Mapped[float | None] = mapped_column(Float)
    # [{field, level, weight}, ...]: one entry per compared field.
    comparisons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the REVIEW decision's ts
    decision: Mapped[str | None] = mapped_column(String, index=True)  # MUST_LINK | CANNOT_LINK
    decided_by: Mapped[str | None] = mapped_column(String)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Checkpoint(Base):
    """The last offset a consumer applied per topic partition, committed with the rows."""

    __tablename__ = "checkpoint"

    consumer: Mapped[str] = mapped_column(String, primary_key=True)
    topic: Mapped[str] = mapped_column(String, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    offset: Mapped[int] = mapped_column(BigInteger)


class ReviewNote(Base):
    """A supervisor's review decision as submitted through the API, with its free-text note:
    kept here, not in Kafka (a note may hold personal data; the log is kept forever). Never
    dropped by a rebuild."""

    __tablename__ = "review_note"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    who: Mapped[str] = mapped_column(String)
    record_a: Mapped[str] = mapped_column(String)
    record_b: Mapped[str] = mapped_column(String)
    decision: Mapped[str] = mapped_column(String)  # MUST_LINK | CANNOT_LINK
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_review_note_pair", "record_a", "record_b"),)


class Finding(Base):
    """A data-quality finding of one source record (projections/findings.py): open while the
    record's latest version still fails the rule, resolved (kept, for the trend) when a later
    version no longer does or the record is deleted. Keyed by the record's token, never a NIK;
    `record_ref` is the key as the agency's system shows it (a NIK key masked)."""

    __tablename__ = "dq_finding"

    agency: Mapped[str] = mapped_column(String, primary_key=True)
    source_table: Mapped[str] = mapped_column(String, primary_key=True)
    record_token: Mapped[str] = mapped_column(String, primary_key=True)
    rule_code: Mapped[str] = mapped_column(String, primary_key=True)
    record_ref: Mapped[str] = mapped_column(String)
    field: Mapped[str | None] = mapped_column(String)
    severity: Mapped[str | None] = mapped_column(String)
    detail: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime)  # version that first failed
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime)  # latest version checked
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # None: open

    __table_args__ = (Index("ix_dq_finding_agency_open", "agency", "resolved_at"),)


# Tables a rebuild drops and replays; review notes are a record of decisions, not a projection.
PROJECTION_TABLES = (
    Citizen.__table__,
    CitizenSourceRecord.__table__,
    RecordPerson.__table__,
    PersonAlias.__table__,
    IdentityReview.__table__,
    Service.__table__,
    Permit.__table__,
    PermitTimeline.__table__,
    Finding.__table__,
    Checkpoint.__table__,
)
