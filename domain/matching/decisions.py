"""Identity decisions: what the resolver decided, as events. Projections and rebuild replay them
instead of deciding again, so a person id never changes by replaying the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .record import PersonRecord


class DecisionKind(StrEnum):
    """What happened to a person."""

    NEW = "NEW"  # a record founds a new person (person_id is new)
    LINK = "LINK"  # a record joins (or, updated, stays with) person_id
    UNLINK = "UNLINK"  # a record left person_id (deleted at the source, or moved by an update)
    MERGE = "MERGE"  # other_person_ids became aliases of person_id (the oldest id survives)
    SPLIT = "SPLIT"  # moved_record_ids left person_id for other_person_ids (larger part kept)
    REVIEW = "REVIEW"  # record_id and other_record_id may be one person: a supervisor decides
    MUST_LINK = "MUST_LINK"  # a supervisor: record_id and other_record_id are one person
    CANNOT_LINK = "CANNOT_LINK"  # a supervisor: they are different persons


@dataclass(frozen=True)
class FieldComparison:
    """One field of a compared pair: its comparison level and the weight it added (log2 m/u)."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True)
class Evidence:
    """Why two records were (not) linked: per-field comparisons and the total match weight."""

    comparisons: tuple[FieldComparison, ...]
    weight: float
    probability: float


@dataclass(frozen=True)
class Decision:
    """One identity event. LINK and NEW carry the record as resolved, so a replay of the decision
    log alone rebuilds the resolver's index."""

    kind: DecisionKind
    person_id: str
    record_id: str | None = None
    record: PersonRecord | None = field(default=None, repr=False)
    other_record_id: str | None = None
    other_person_ids: tuple[str, ...] = ()
    moved_record_ids: tuple[str, ...] = ()
    evidence: Evidence | None = field(default=None, repr=False)
    reason: str = ""
