"""The whole canonical log folded in memory to the final projection, then written once: what a
rebuild does instead of applying batches (projections/rebuild.py).

The live worker's apply_batch reads the rows a batch touches, folds the batch and writes the
difference; replayed into an empty database as ONE batch it gives the live projection (the
projection does not depend on how the log is cut into batches, nor on the order of the topics
relative to each other: tests/projections/test_rebuild_digest.py). This fold is that one batch
without the database in the middle: the same rules (merge_fact, the identity links and reviews,
the findings fold, the permit events and derive_permit, golden_record) over in-memory state that
starts empty, fed event by event as the log is read, and each final row inserted once (no row is
read back, updated or written twice). Memory holds the final rows, not the log.

What must stay ordered stays ordered: each person fact, permit event and finding is folded in
its partition's order, identity decisions in the identity log's order (merges and aliases),
permit status logs by their sequence numbers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from .citizen import golden_record, merge_fact
from .facts import (
    IDENTITY,
    PERMIT,
    PERSON,
    SERVICE,
    Message,
    ProjectionTopics,
    is_delete,
    source_ref,
)
from .findings import finding_key, fold_finding
from .identity import REVIEW, SUPERVISOR_KINDS, Links, Reviews
from .models import Citizen, CitizenSourceRecord, Finding
from .permit import (
    apply_permit_event,
    apply_service_events,
    derive_and_write_permits,
    write_timeline,
)
from .projector import SKIPPED
from .rows import write_rows

log = logging.getLogger(__name__)

# What a bad event raises in the rules (a field of the wrong type, a missing one): the live
# worker passes such a message over (Projector._apply_one_by_one); so does the fold.
BAD_EVENT = (KeyError, TypeError, ValueError, AttributeError)
INSERT_CHUNK = 10_000  # rows per executemany of the final write


class FastLinks(Links):
    """identity.Links with a reverse index of the aliases: a merge finds the aliases that
    point at the merged person at once instead of scanning every alias (quadratic over a whole
    log). Same links, same aliases."""

    def __init__(self, links: dict[str, str], aliases: dict[str, str]):
        super().__init__(links, aliases)
        self.pointing: dict[str, set[str]] = defaultdict(set)
        for alias, target in aliases.items():
            self.pointing[target].add(alias)

    def _merge(self, other: str, survivor: str) -> None:
        if other == survivor:
            return  # merged before (a repeat)
        for alias in self.pointing.pop(other, set()):
            self.alias[alias] = survivor
            self.pointing[survivor].add(alias)
        previous = self.alias.get(other)
        if previous is not None:
            self.pointing[previous].discard(other)
        self.alias[other] = survivor
        self.pointing[survivor].add(other)
        self.touched_persons.update((other, survivor))
        for record in sorted(self.members.get(other, ())):
            self._place(record, survivor)


class BulkFold:
    """The projection of a log, folded from empty."""

    def __init__(self, topics: ProjectionTopics):
        self.topics = topics
        self.last: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset folded
        self.services: list[Mapping[str, Any]] = []  # a handful: applied as the live worker does
        self.records: dict[str, dict[str, Any]] = {}  # ref -> citizen_source_record row
        self.findings: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        self.links = FastLinks({}, {})
        self.reviews = Reviews([])
        self.permits: dict[str, dict[str, Any]] = {}
        self.timeline: dict[tuple[str, int], dict[str, Any] | None] = {}
        self.skipped = 0

    def add(self, messages: Iterable[Message]) -> None:
        """Fold messages (each partition's in its order); a repeat of an offset already folded
        is passed over, as apply_batch does below a checkpoint."""
        kinds = {
            PERSON: self._person,
            PERMIT: self._permit,
            SERVICE: self.services.append,
            IDENTITY: self._decision,
        }
        for m in messages:
            tp = (m.topic, m.partition)
            if m.offset <= self.last.get(tp, -1):
                continue
            self.last[tp] = m.offset
            kind = self.topics.kind(m.topic)
            if kind is None or not isinstance(m.value, dict):
                continue  # a tombstone, or no canonical event: nothing to project
            try:
                kinds[kind](m.value)
            except BAD_EVENT as e:
                self.skipped += 1
                SKIPPED.labels(topic=m.topic).inc()
                log.error(
                    "rebuild skips %s[%d]@%d: %s", m.topic, m.partition, m.offset, type(e).__name__
                )

    def _person(self, fact: dict[str, Any]) -> None:
        ref = source_ref(fact["agency"], fact["source_table"], str(fact["source_record_id"]))
        new = merge_fact(self.records.get(ref), fact, ref)
        if fact.get("record_key") and (is_delete(fact["op"]) or fact.get("quality")):
            key = finding_key(fact["agency"], fact["source_table"], fact["record_key"])
            fold_finding(self.findings.setdefault(key, {}), key, fact)
        if new is not None:
            self.records[ref] = new

    def _permit(self, event: dict[str, Any]) -> None:
        apply_permit_event(self.permits, self.timeline, event)

    def _decision(self, d: dict[str, Any]) -> None:
        kind = str(d.get("kind") or "UNKNOWN")
        if kind in (REVIEW, *SUPERVISOR_KINDS):
            self.reviews.apply(kind, d)
        else:
            self.links.apply(kind, d)

    def write(
        self, session: Session, today: dt.date, done: Callable[[str], None] = lambda _: None
    ) -> None:
        """Insert the final rows into empty projection tables (the caller commits); `done` is
        told each of the WRITE_STEPS as it ends (a progress bar)."""
        apply_service_events(session, self.services)
        persons: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.records.values():
            key = row["record_key"]
            row["person_id"] = self.links.person.get(key) if key else None
            if row["person_id"] is not None:
                persons[row["person_id"]].append(row)
        insert(session, CitizenSourceRecord, (self.records[k] for k in sorted(self.records)))
        insert(
            session, Finding, (row for found in self.findings.values() for row in found.values())
        )
        done("source records")
        self.links.write(session)
        self.reviews.write(session)
        done("identity")
        citizens = (golden_record(p, rows) for p, rows in sorted(persons.items()))
        insert(session, Citizen, (c for c in citizens if c is not None))
        done("citizens")
        write_timeline(session, {}, self.timeline)
        derive_and_write_permits(session, {}, self.permits, self.timeline, today)
        done("permits")


WRITE_STEPS = 4


def insert(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows INSERT_CHUNK at a time: the converted copies of a whole table at once (and
    the golden records, made as they are written) would double the rebuild's peak memory."""
    it = iter(rows)
    while part := list(islice(it, INSERT_CHUNK)):
        write_rows(session, model, part, [])
