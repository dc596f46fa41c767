"""The canonical facts as the projections read them: their topics, the consumed Message, and
the small conversions from a decoded Avro record (fastavro: dates as date, timestamps as aware
datetimes, enums as str) to what the read models store.

The contract (schemas/avro/*.avsc): PersonFact on mpp.canonical.person keyed by record_key,
IdentityDecision on mpp.canonical.identity keyed by person_id (the only source of person ids),
PermitEvent (kind APPLICATION | STATUS | DELETED) on mpp.canonical.permit keyed by permit_id,
ServiceEvent on mpp.canonical.service keyed by service_ref. A null field of a fact means "not
stated": it never erases what an earlier fact of the same record said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from eventlog.topics import Topics

PERSON = "person"
PERMIT = "permit"
SERVICE = "service"
IDENTITY = "identity"

# The consumer name of checkpoints: the live projection and `mpphub rebuild` share it, so a
# worker started after a rebuild continues where the replay ended.
CONSUMER = "projections"

# Identity fields of a person, in the order the golden record lists them.
IDENTITY_FIELDS: tuple[str, ...] = (
    "nik",
    "name",
    "sex",
    "birth_date",
    "birth_place",
    "address",
    "kecamatan_code",
    "kelurahan_code",
    "religion",
    "marital_status",
    "occupation",
    "kk_number",
)
DATE_FIELDS = frozenset({"birth_date", "death_date"})
# What a source record keeps of a fact (besides its key and position).
FACT_FIELDS: tuple[str, ...] = (*IDENTITY_FIELDS, "death_date")

# The civil registry: its records win for identity fields.
CIVIL_REGISTRY = "disdukcapil"


@dataclass(frozen=True)
class ProjectionTopics:
    """The four canonical topics a projection reads (tests use their own names)."""

    person: str
    permit: str
    service: str
    identity: str

    @classmethod
    def of(cls, topics: Topics) -> ProjectionTopics:
        """A hub's canonical topics (KafkaSettings.topics: its prefix applied)."""
        return cls(topics.person, topics.permit, topics.service, topics.identity)

    @property
    def names(self) -> tuple[str, str, str, str]:
        """All four topic names."""
        return (self.person, self.permit, self.service, self.identity)

    def kind(self, topic: str) -> str | None:
        """'person', 'permit', 'service' or 'identity' for one of these topics, else None."""
        return {
            self.person: PERSON,
            self.permit: PERMIT,
            self.service: SERVICE,
            self.identity: IDENTITY,
        }.get(topic)


# The topics of a hub without a prefix (unit tests); the stages take theirs from KafkaSettings.
DEFAULT_TOPICS = ProjectionTopics.of(Topics())


class Message(NamedTuple):
    """One consumed message: where it was in Kafka, its key and its decoded value."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: dict | None  # None: a tombstone, or a message that did not decode


def source_ref(agency: str, table: str, record_id: str) -> str:
    """The reference of an agency record, as permits name their applicant:
    'dpmptsp:tmpemohon:42'. Agency and table are lower-cased, the id is kept as is."""
    return f"{agency.lower()}:{table.lower()}:{record_id}"


def normalize_ref(ref: str | None) -> str | None:
    """A source reference with agency and table lower-cased (the id untouched)."""
    if ref is None:
        return None
    parts = ref.split(":", 2)
    if len(parts) != 3:
        return ref
    return source_ref(*parts)


def is_delete(op: Any) -> bool:
    """Whether a PersonFact's op deletes its source record ('DELETE'; Debezium's 'd' too)."""
    return str(op).upper() in ("DELETE", "D")


def utc_naive(value: Any) -> dt.datetime | None:
    """A timestamp as naive UTC, the form every projection column holds (SQLite has no tz)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def as_date(value: Any) -> dt.date | None:
    """A date from a date, a datetime or an ISO string (JSON columns hold ISO strings)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def to_json(value: Any) -> Any:
    """A value as JSON can hold it: dates and timestamps as ISO strings."""
    if isinstance(value, dt.datetime):
        return utc_naive(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def is_stale(new_ts: dt.datetime | None, old_ts: dt.datetime | None) -> bool:
    """True when a change happened before the one a row already reflects.

    Positions are opaque (only equality means something), so order comes from the source
    timestamp; equal timestamps, or none on either side, fall back to the log order (the later
    one wins) - except a change without a time after one with a time. Only a snapshot read
    carries no source time, and a snapshot read is never newer than a streamed change already
    applied: the stream starts where the snapshot began. It can still arrive after one: a
    worker stopped past its session timeout (SIGSTOP, a frozen VM) and continued writes the
    snapshot facts it held after the group gave its partitions away and the others applied
    newer changes (tests/test_scale_out.py, sigstop), or a producer retries an old batch.
    Applied, such a late duplicate would bring an old version back for good."""
    if old_ts is None:
        return False
    return new_ts is None or new_ts < old_ts
