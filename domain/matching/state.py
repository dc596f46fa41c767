"""What the resolver knows, and the one way it changes: `apply(decision)`. A run and a replay of
its decision log go through this same code, so they end in the same state; nothing here scores
a pair or mints an id.

Each record is kept as its snapshot and the model's prepared form (when the model offers
`prepare`), indexed under the model's blocking keys (a model with `index_keys` has some of them
looked up only, never indexed); constraints are kept by record id, so a supervisor's decision
outlives the record's deletion and applies again when it comes back."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .clean import clean_record, has_nothing_to_compare
from .clusters import MUST, Clusters
from .decisions import Decision, DecisionKind
from .index import DEFAULT_MAX_BLOCK, BlockIndex
from .record import PersonRecord

K = DecisionKind
_Keys = tuple[tuple[str, ...], tuple[str, ...]]  # indexed under, and looked up under only
MUST_LINK = "must-link"  # the reason of a LINK or MERGE a supervisor's must-link made
_STAT = {
    K.NEW: "new", K.LINK: "links", K.UNLINK: "unlinks", K.MERGE: "merges", K.SPLIT: "splits",
    K.REVIEW: "reviews", K.MUST_LINK: "must_links", K.CANNOT_LINK: "cannot_links",
}  # fmt: skip


class ResolverState:
    """Records, their index and persons, aliases, constraints and reviews."""

    def __init__(
        self,
        model: Any,
        max_block: int = DEFAULT_MAX_BLOCK,
        block_caps: Mapping[str, int] | None = None,
    ):
        self.model = model
        self._prepare: Callable[[PersonRecord], Any] | None = getattr(model, "prepare", None)
        self.index = BlockIndex(max_block, block_caps)
        self.clusters = Clusters()
        self.records: dict[str, PersonRecord] = {}
        self.forms: dict[str, Any] = {}  # record id -> the form the model compares
        self.must: dict[str, set[str]] = {}
        self.cannot: dict[str, set[str]] = {}
        self.reviews: dict[tuple[str, str], Decision] = {}
        self._reviews_of: dict[str, set[tuple[str, str]]] = {}
        self.counts: Counter[str] = Counter()
        # Models with index_keys (MatchModel) keep some keys out of the index: looked up only.
        self._index_keys: Callable[[Any], _Keys] | None = getattr(model, "index_keys", None)
        self._made: tuple[PersonRecord, Any, _Keys] | None = None
        self._clean: PersonRecord | None = None  # the last record clean_record left as it was

    # --- a record's form and keys --------------------------------------------------------

    def clean(self, record: PersonRecord) -> PersonRecord:
        """clean_record(record); the record resolve() has just cleaned is not checked again
        when its decision is applied (a clean record is its own clean form)."""
        if record is self._clean:
            return record
        rec = clean_record(record)
        if rec is record:
            self._clean = rec
        return rec

    def form(self, rec: PersonRecord) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        """The record's comparable form, the keys it is indexed under and those it is only
        looked up under (none when it has nothing to compare); the last one made is kept for
        the apply that follows."""
        made = self._made
        if made is not None and made[0] is rec:
            return made[1], *made[2]
        form: Any = rec
        keys: tuple[str, ...] = ()
        probes: tuple[str, ...] = ()
        try:
            if self._prepare is not None:
                form = self._prepare(rec)
            if not has_nothing_to_compare(rec):
                keys, probes = self._keys(form)
        except Exception:  # a model bug must not stop the stream: counted, never logged
            self.counts["model_errors"] += 1
        self._made = (rec, form, (keys, probes))
        return form, keys, probes

    def _keys(self, form: Any) -> _Keys:
        if self._index_keys is not None:
            return self._index_keys(form)
        return tuple(self.model.blocking_keys(form)), ()

    # --- queries -------------------------------------------------------------------------

    def open_reviews(self) -> list[Decision]:
        """REVIEW decisions still open: both records present, in different persons, and no
        supervisor decision on the pair."""
        person = self.clusters.person
        return [
            d for (a, b), d in self.reviews.items()
            if (pa := person(a)) is not None and (pb := person(b)) is not None and pa != pb
            and b not in self.must.get(a, ()) and b not in self.cannot.get(a, ())
        ]  # fmt: skip

    def stats(self) -> dict[str, int]:
        """Decisions applied per kind, and the sizes of things."""
        out = {_STAT[kind]: self.counts[kind.value] for kind in K}
        out.update(
            open_reviews=len(self.open_reviews()),
            records=len(self.records),
            persons=len(self.clusters.members),
            aliases=len(self.clusters.aliases),
            model_errors=self.counts["model_errors"],
        )
        return out

    def blocked(self, record_id: str) -> set[str]:
        """The persons a record may not join: those holding a record it cannot link with."""
        person = self.clusters.person
        return {p for c in self.cannot.get(record_id, ()) if (p := person(c)) is not None}

    def conflict(self, a: str, b: str) -> bool:
        """Whether persons a and b hold a cannot-link pair between them."""
        members, person = self.clusters.members, self.clusters.person
        small, large = sorted((a, b), key=lambda p: len(members[p]))
        return any(person(c) == large for r in members[small] for c in self.cannot.get(r, ()))

    # --- replay --------------------------------------------------------------------------

    def apply(self, decision: Decision) -> None:
        """Replay one logged decision into the state (no scoring, no new decisions)."""
        d, c = decision, self.clusters
        self.counts[d.kind.value] += 1
        a, b = d.record_id, d.other_record_id
        if d.kind in (K.NEW, K.LINK) and d.record is not None:
            rec = self.clean(d.record)  # as resolve() saw it, whatever the log's decoding did
            self._put(rec, d.person_id)
            if b and c.person(b) == d.person_id:
                c.link(rec.record_id, b, _weight(d))
        elif d.kind is K.UNLINK and a:
            self._drop(a)
        elif d.kind is K.MERGE:
            for other in d.other_person_ids:
                c.merge(d.person_id, other)
            if a and b:
                c.link(a, b, _weight(d))
        elif d.kind is K.SPLIT and d.other_person_ids:
            c.move(d.moved_record_ids, d.other_person_ids[0])
        elif d.kind is K.REVIEW and a and b:
            self.reviews[(a, b)] = d
            self._reviews_of.setdefault(a, set()).add((a, b))
            self._reviews_of.setdefault(b, set()).add((a, b))
        elif d.kind is K.MUST_LINK and a and b:
            _pair_remove(self.cannot, a, b)
            _pair_add(self.must, a, b)
            if c.person(a) is not None and c.person(a) == c.person(b):
                c.link(a, b, MUST)
        elif d.kind is K.CANNOT_LINK and a and b:
            _pair_remove(self.must, a, b)
            _pair_add(self.cannot, a, b)
            c.unlink(a, b)

    def _put(self, rec: PersonRecord, person: str) -> None:
        """Store a record's snapshot in `person`; a known record's links and reviews are redone
        from its new fields."""
        rid, c = rec.record_id, self.clusters
        old = self.records.get(rid)
        if old is not None and c.person(rid) != person:
            self._drop(rid)
            old = None
        form, keys, _ = self.form(rec)
        if old is None:
            c.join(rid, person)
            self.index.add(rid, keys)
        else:
            c.detach(rid)
            self._drop_reviews(rid)
            if old != rec:
                self.index.remove(rid, self._keys_of(rid))
                self.index.add(rid, keys)
        self.records[rid] = rec
        self.forms[rid] = form

    def _drop(self, record_id: str) -> None:
        if record_id not in self.records:
            return
        self.index.remove(record_id, self._keys_of(record_id))
        del self.records[record_id], self.forms[record_id]
        self.clusters.leave(record_id)
        self._drop_reviews(record_id)

    def _keys_of(self, record_id: str) -> tuple[str, ...]:
        """The keys a stored record is indexed under (from its kept form: no re-preparing)."""
        if has_nothing_to_compare(self.records[record_id]):
            return ()
        try:
            return self._keys(self.forms[record_id])[0]
        except Exception:  # as in form(): then it was indexed under none
            return ()

    def _drop_reviews(self, record_id: str) -> None:
        for pair in self._reviews_of.pop(record_id, ()):
            self.reviews.pop(pair, None)
            other = pair[1] if pair[0] == record_id else pair[0]
            left = self._reviews_of.get(other)
            if left is not None:
                left.discard(pair)
                if not left:
                    del self._reviews_of[other]


def _weight(decision: Decision) -> float:
    """A logged link's weight: its evidence's, or a must-link's when a supervisor decided."""
    if decision.evidence is None:
        return MUST if decision.reason == MUST_LINK else 0.0
    weight = decision.evidence.weight
    return weight if not math.isnan(weight) else -math.inf


def _pair_add(pairs: dict[str, set[str]], a: str, b: str) -> None:
    pairs.setdefault(a, set()).add(b)
    pairs.setdefault(b, set()).add(a)


def _pair_remove(pairs: dict[str, set[str]], a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        if x in pairs:
            pairs[x].discard(y)
            if not pairs[x]:
                del pairs[x]
