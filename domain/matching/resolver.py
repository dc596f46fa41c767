"""The resolver: one record at a time in, identity decisions out.

Every decision is applied through `ResolverState.apply`, the code that also replays the log, so
a replay ends in the run's state and a restarted worker decides as an uninterrupted one would.
Linking rests on the model's weights alone, equal NIKs included: a KK number typed into the NIK
field would link a whole family, and only the model can tell the two apart."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .clean import has_nothing_to_compare
from .clusters import MUST
from .decisions import Decision, DecisionKind, Evidence
from .index import DEFAULT_MAX_BLOCK
from .record import PersonRecord
from .state import MUST_LINK, ResolverState

K = DecisionKind
MAX_RESCORE = 50  # an updated record is re-scored against this many of its person's at most
MAX_REVIEWS = 3  # REVIEW decisions per record at most: the strongest doubts, not every namesake
MAX_CLASH_CHECK = 50  # records of a person checked for a conflict with a record at most
MAX_RECHECK = 50  # records re-checked after an update took away what linked them, at most
# A record above the link weight to two persons that cannot be one (each holds a NIK right for
# its own record) links to the stronger only when it wins by this many bits (2^10: a thousand
# times likelier); else both go to review. Namesakes born the same day in one kelurahan differ
# only in household fields, a few bits each, and must not be decided by them.
AMBIGUITY_MARGIN = 10.0
NOTHING_TO_COMPARE = "nothing-to-compare"  # a NEW decision's reason: a data-quality finding


class Scorer(Protocol):
    """What the resolver needs of a match model (MatchModel). A model that also has
    `prepare(record)` and `score(a, b) -> float` is compared on prepared forms, and builds the
    evidence only for the pairs that make a decision; with `scores(a, others, floor)` too, a
    record's candidates are scored in one call. A model with `index_keys(record) -> (kept,
    probes)` has some keys looked up only, never indexed (MatchModel: a proved NIK's
    deletions); else a record is indexed and looked up under its `blocking_keys`."""

    link_weight: float
    review_weight: float

    def blocking_keys(self, record: PersonRecord) -> tuple[str, ...]: ...

    def compare(self, a: PersonRecord, b: PersonRecord) -> Evidence: ...


@dataclass(frozen=True, slots=True)
class _Pair:
    weight: float
    record_id: str  # the other record
    evidence: Evidence | None = None


def _better(pair: _Pair, best: _Pair | None) -> bool:
    return (
        best is None
        or pair.weight > best.weight
        or (pair.weight == best.weight and pair.record_id < best.record_id)
    )


def _parameters(fn: Callable[..., object]) -> Mapping[str, object]:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def _strongest(pairs: Mapping[str, _Pair], floor: float) -> list[tuple[str, _Pair]]:
    """Person and pair for the pairs weighing at least `floor`, strongest first."""
    kept = [(p, pair) for p, pair in pairs.items() if pair.weight >= floor]
    return sorted(kept, key=lambda item: (-item[1].weight, item[0]))


class Resolver:
    """Identity resolution over a growing index; pure and deterministic. Block caps default
    to the model's `block_caps` (per key kind), else one `max_block` for every key."""

    def __init__(
        self,
        model: Scorer,
        new_person_id: Callable[[PersonRecord, int | None], str],
        *,
        max_block: int = DEFAULT_MAX_BLOCK,
        block_caps: Mapping[str, int] | None = None,
    ):
        self.model = model
        self._new_id = new_person_id
        caps = block_caps if block_caps is not None else getattr(model, "block_caps", None)
        self.state = ResolverState(model, max_block, caps)
        self._score = getattr(model, "score", None) if hasattr(model, "prepare") else None
        # Two records the model says are two people (MatchModel.conflict): never one person.
        self._conflict = getattr(model, "conflict", None) if self._score is not None else None
        # Whether two records hold one NIK, right for one of them (MatchModel.same_nik).
        self._same_nik = getattr(model, "same_nik", None) if self._score is not None else None
        self._floored = self._score is not None and "floor" in _parameters(self._score)
        # score() over many candidates in one call (MatchModel.scores), when the model has it.
        self._scores = getattr(model, "scores", None) if self._floored else None

    # --- queries -------------------------------------------------------------------------

    def person_of(self, record_id: str) -> str | None:
        """The person a record belongs to (None for a record never seen or forgotten)."""
        return self.state.clusters.person(record_id)

    def canonical(self, person_id: str) -> str:
        """The surviving person id for an id or an alias."""
        return self.state.clusters.canonical(person_id)

    def records_of(self, person_id: str) -> list[str]:
        """A person's record ids, sorted (an alias answers for its survivor)."""
        return sorted(self.state.clusters.members.get(self.canonical(person_id), ()))

    def aliases(self) -> dict[str, str]:
        """Alias -> surviving person id."""
        return {a: self.canonical(a) for a in self.state.clusters.aliases}

    def __len__(self) -> int:
        """Records resolved and held (what the index and the prepared forms grow with)."""
        return len(self.state.records)

    def record(self, record_id: str) -> PersonRecord | None:
        """The record as last resolved."""
        return self.state.records.get(record_id)

    def open_reviews(self) -> list[Decision]:
        """REVIEW decisions no later decision has settled, oldest first."""
        return self.state.open_reviews()

    @property
    def stats(self) -> dict[str, int]:
        """Decisions applied per kind (links, merges, splits, reviews ...), records, persons,
        aliases, open reviews (counted: O(reviews)) and model errors: what a replay reproduces."""
        return self.state.stats()

    @property
    def scored(self) -> int:
        """Record pairs scored (blocking candidates) since this resolver started; a replay
        scores none. Per record resolved it grows with the population until the block caps
        hold it: the resolver's cost per record grows with it."""
        return self.state.counts["candidates"]

    def apply(self, decision: Decision) -> None:
        """Replay one logged decision into the state (no scoring, no new decisions)."""
        self.state.apply(decision)

    # --- commands ------------------------------------------------------------------------

    def resolve(self, record: PersonRecord, ts_ms: int | None = None) -> list[Decision]:
        """Decide where one new or updated record belongs; [] when it is already resolved with
        these fields. `ts_ms` (the source time) dates a new person's id."""
        rec = self.state.clean(record)
        old = self.state.records.get(rec.record_id)
        if old == rec:
            return []
        out: list[Decision] = []
        if old is None:
            self._place(rec, ts_ms, out)
        else:
            self._update(rec, ts_ms, out)
        return out

    def forget(self, record_id: str) -> list[Decision]:
        """The source deleted the record: UNLINK it (its person keeps its id, records or not)."""
        person = self.person_of(record_id)
        if person is None:
            return []
        return self._emit([], Decision(K.UNLINK, person, record_id=record_id, reason="deleted"))

    def must_link(self, a: str, b: str, ts_ms: int | None = None) -> list[Decision]:
        """A supervisor: a and b are one person (their persons merge, now and after updates)."""
        pa, pb = self.person_of(a), self.person_of(b)
        if a == b or (b in self.state.must.get(a, ()) and pa == pb):
            return []
        out = self._emit([], Decision(K.MUST_LINK, pa or pb or "", record_id=a, other_record_id=b))
        if pa is not None and pb is not None and pa != pb:
            keep, gone = min(pa, pb), max(pa, pb)
            self._emit(out, Decision(
                K.MERGE, keep, record_id=a, other_record_id=b, other_person_ids=(gone,),
                reason=MUST_LINK,
            ))  # fmt: skip
            self._enforce(keep, ts_ms, out)  # a cannot-link across the two splits it again
        return out

    def cannot_link(self, a: str, b: str, ts_ms: int | None = None) -> list[Decision]:
        """A supervisor: a and b are different persons (split now if one, never joined later)."""
        pa, pb = self.person_of(a), self.person_of(b)
        if a == b or (b in self.state.cannot.get(a, ()) and (pa is None or pa != pb)):
            return []
        out = self._emit(
            [], Decision(K.CANNOT_LINK, pa or pb or "", record_id=a, other_record_id=b)
        )
        if pa is not None and pa == pb:
            self._enforce(pa, ts_ms, out)
        return out

    # --- how a record is placed ----------------------------------------------------------

    def _place(self, rec: PersonRecord, ts_ms: int | None, out: list[Decision]) -> None:
        """A record in no person: LINK to the best person it links to (MERGE the others) or
        found a NEW one."""
        form, keys, probes = self.state.form(rec)
        best = self._candidates(form, rec.record_id, keys + probes)
        for m in sorted(self.state.must.get(rec.record_id, ())):  # a must-linked record back
            person = self.person_of(m)
            if person is not None:
                best[person] = _Pair(MUST, m)
        blocked = self.state.blocked(rec.record_id)
        linked = [
            (p, pair) for p, pair in _strongest(best, self.model.link_weight)
            if p not in blocked and (pair.weight == MUST or not self._clashes(form, p))
        ]  # fmt: skip
        held: set[str] = set()
        if self._ambiguous(form, linked):
            held = {p for p, _ in linked}  # reviewed below, joined to none
            linked = []
        if linked:
            person, pair = linked[0]
            self._emit(out, Decision(
                K.LINK, person, record_id=rec.record_id, record=rec,
                other_record_id=pair.record_id, evidence=self._evidence(form, pair),
                reason=MUST_LINK if pair.weight == MUST else "",
            ))  # fmt: skip
        else:
            person = self._mint(rec, ts_ms)
            reason = NOTHING_TO_COMPARE if has_nothing_to_compare(rec) else ""
            self._emit(out, Decision(K.NEW, person, record_id=rec.record_id, record=rec,
                                     reason=reason))  # fmt: skip
        self._join_others(rec, form, best, blocked, out, held)

    def _update(self, rec: PersonRecord, ts_ms: int | None, out: list[Decision]) -> None:
        """A known record with new fields stays with its person when it still links to one of
        its records (or is its only record), else it leaves and is placed afresh. Either way the
        records that were linked to it are checked again (_recheck)."""
        rid = rec.record_id
        form, keys, probes = self.state.form(rec)
        person = self.person_of(rid)
        assert person is not None  # a known record is in a person
        neighbours = sorted(self.state.clusters.edges.get(rid, ()))  # before the update
        others = self.state.clusters.members[person] - {rid}
        must = sorted(self.state.must.get(rid, set()).intersection(others))
        stay: _Pair | None = _Pair(MUST, must[0]) if must else None
        if others and stay is None:
            for other in self._rescored(rid, others):
                pair = self._pair(form, other)
                if _better(pair, stay):
                    stay = pair
            if stay is not None and not stay.weight >= self.model.link_weight:
                self._emit(out, Decision(K.UNLINK, person, record_id=rid, reason="update"))
                self._place(rec, ts_ms, out)
                self._recheck(rid, neighbours, ts_ms, out)
                return
        nothing = has_nothing_to_compare(rec)
        self._emit(out, Decision(
            K.LINK, person, record_id=rid, record=rec,
            other_record_id=stay.record_id if stay else None,
            evidence=self._evidence(form, stay) if stay else None,
            reason=MUST_LINK if must else NOTHING_TO_COMPARE if nothing else "update",
        ))  # fmt: skip
        best = self._candidates(form, rid, keys + probes)
        self._join_others(rec, form, best, self.state.blocked(rid), out)
        self._recheck(rid, neighbours, ts_ms, out)

    def _rescored(self, rid: str, others: set[str]) -> list[str]:
        """The records of its person a record is re-scored against: its linked neighbours
        first, then the rest (in a very large person, a bounded re-score)."""
        near = sorted(others.intersection(self.state.clusters.edges.get(rid, ())))
        far = sorted(others.difference(near)) if len(near) < MAX_RESCORE else []
        return (near + far)[:MAX_RESCORE]

    def _recheck(
        self, updated: str, neighbours: list[str], ts_ms: int | None, out: list[Decision]
    ) -> None:
        """The records linked to `updated` before its update may have held to their person
        through the fields it no longer has. Each that now links to no record of its person
        leaves it and is placed afresh, as it would have been had it arrived after the update
        (the persons do not depend on the arrival order); its own neighbours are checked in
        turn. A deleted record's neighbours are not checked (forget): a deletion contradicts
        nothing, and records linked through it stay one person (clusters.py)."""
        todo, seen = list(neighbours), {updated}
        while todo and len(seen) <= MAX_RECHECK:
            rid = todo.pop(0)
            person = self.person_of(rid)
            if rid in seen or person is None:
                continue
            seen.add(rid)
            others = self.state.clusters.members[person] - {rid}
            if not others or self._holds(rid, others):
                continue
            former = sorted(self.state.clusters.edges.get(rid, ()))
            rec = self.state.records[rid]
            self._emit(out, Decision(K.UNLINK, person, record_id=rid, reason="update"))
            self._place(rec, ts_ms, out)
            todo.extend(former)

    def _holds(self, rid: str, others: set[str]) -> bool:
        """Whether a record is must-linked to, or links by the model to, one of `others`."""
        if self.state.must.get(rid, set()).intersection(others):
            return True
        form = self.state.forms[rid]
        link = self.model.link_weight
        return any(self._pair(form, o).weight >= link for o in self._rescored(rid, others))

    def _join_others(
        self,
        rec: PersonRecord,
        form: object,
        best: dict[str, _Pair],
        blocked: set[str],
        out: list[Decision],
        held: set[str] | None = None,
    ) -> None:
        """After `rec` joined a person: MERGE each other person it links to (the oldest id
        survives) unless a cannot-link forbids it, and REVIEW the uncertain ones: those below
        the link weight, the `held` (ambiguous) ones and those holding a record the model says
        is another person than one of this person's (merging would make two people one)."""
        rid, state = rec.record_id, self.state
        link, review = self.model.link_weight, self.model.review_weight
        person = state.clusters.person(rid)
        assert person is not None  # it has just been applied
        doubts: list[_Pair] = []
        for other, pair in _strongest(best, review):
            if other == person or other in blocked or other not in state.clusters.members:
                continue
            if (
                pair.weight >= link
                and not state.conflict(person, other)
                and (
                    pair.weight == MUST
                    or (not (held and other in held) and not self._persons_clash(person, other))
                )
            ):
                keep, gone = min(person, other), max(person, other)
                self._emit(out, Decision(
                    K.MERGE, keep, record_id=rid, other_record_id=pair.record_id,
                    other_person_ids=(gone,), evidence=self._evidence(form, pair),
                    reason=MUST_LINK if pair.weight == MUST else "link",
                ))  # fmt: skip
                person = keep
            elif pair.weight >= review and not self._answered(person, rid, form, pair):
                doubts.append(pair)
        for pair in sorted(doubts, key=lambda p: (-p.weight, p.record_id))[:MAX_REVIEWS]:
            if (rid, pair.record_id) not in state.reviews and (
                (pair.record_id, rid) not in state.reviews
            ):
                self._emit(out, Decision(
                    K.REVIEW, person, record_id=rid, other_record_id=pair.record_id,
                    evidence=self._evidence(form, pair),
                ))  # fmt: skip

    def _answered(self, person: str, rid: str, form: object, pair: _Pair) -> bool:
        """Whether a doubt needs no supervisor: the pair itself is one the model says are two
        people (a namesake's NIK one serial from this one), and the record's person holds
        another record that says the same of the other person (the NIK is its holder's, not
        a typo). A record alone in its person (a NIK nobody else holds) is still asked."""
        if self._conflict is None or pair.weight == MUST:
            return False
        forms = self.state.forms
        theirs = forms.get(pair.record_id)
        if theirs is None or not self._conflict(form, theirs):
            return False
        members = self.state.clusters.members.get(person, set())
        other = self.state.clusters.person(pair.record_id)
        return other is not None and any(
            self._clashes(forms[r], other)
            for r in sorted(members - {rid})[:MAX_CLASH_CHECK] if r in forms
        )  # fmt: skip

    def _clashes(self, form: object, person: str) -> bool:
        """Whether the person holds a record the model says is another person than `form`."""
        conflict = self._conflict
        if conflict is None:
            return False
        forms = self.state.forms
        members = sorted(self.state.clusters.members.get(person, ()))[:MAX_CLASH_CHECK]
        return any(conflict(form, forms[m]) for m in members if m in forms)

    def _persons_clash(self, a: str, b: str) -> bool:
        """Whether two persons hold a pair of records the model says are two people."""
        if self._conflict is None:
            return False
        forms = self.state.forms
        members = self.state.clusters.members
        small, large = sorted((a, b), key=lambda p: len(members.get(p, ())))
        return any(
            self._clashes(forms[r], large)
            for r in sorted(members.get(small, ()))[:MAX_CLASH_CHECK]
            if r in forms
        )

    def _ambiguous(self, form: object, linked: list[tuple[str, _Pair]]) -> bool:
        """Whether the two strongest persons a record links to cannot be one person and the
        stronger does not win by AMBIGUITY_MARGIN (a supervisor decides instead). The stronger
        wins outright when it holds the record's NIK exactly and the other does not: of two
        namesakes born the same day, the one whose NIK the record carries (a date typo on the
        record does not make the NIK less his; a key slipped onto the namesake's serial is
        much rarer than a NIK typed right)."""
        if len(linked) < 2 or linked[0][1].weight == MUST:
            return False
        (first, a), (second, b) = linked[0], linked[1]
        if a.weight - b.weight >= AMBIGUITY_MARGIN or not self._persons_clash(first, second):
            return False
        same, forms = self._same_nik, self.state.forms
        return same is None or not (
            same(form, forms[a.record_id]) and not same(form, forms[b.record_id])
        )

    def _candidates(self, form: object, rid: str, keys: tuple[str, ...]) -> dict[str, _Pair]:
        """Person -> its best pair with the record among the blocking candidates (persons other
        than the record's own). The hot loop: one model score per candidate."""
        if self._score is None:
            return self._compared(form, rid, keys)
        person_of = self.state.clusters.person
        # Pairs below the review weight decide nothing: a floored score stops them early.
        floor = (self.model.review_weight,) if self._floored else ()
        own = person_of(rid)
        weights: dict[str, tuple[float, str]] = {}  # person -> (weight, record id) of its best
        candidates = self.state.index.candidates(keys, rid)
        self.state.counts["candidates"] += len(candidates)
        for other, weight in zip(candidates, self._weights(form, candidates, floor), strict=True):
            if not weight > -math.inf:  # -inf or NaN: no link (most candidates)
                continue
            person = person_of(other)
            held = weights.get(person)
            if held is None or weight > held[0] or (weight == held[0] and other < held[1]):
                weights[person] = (weight, other)
        weights.pop(own, None)  # type: ignore[arg-type]
        return {p: _Pair(w, other) for p, (w, other) in weights.items()}

    def _weights(
        self, form: object, candidates: list[str], floor: tuple[float, ...]
    ) -> list[float]:
        """The model's weight of each candidate pair (-inf for a pair the model failed on):
        in one call when the model scores many at once (MatchModel.scores), else pair by pair."""
        forms = self.state.forms
        if self._scores is not None and floor:
            try:
                weights = self._scores(form, [forms[o] for o in candidates], *floor)
                if len(weights) == len(candidates):
                    return weights
            except Exception:  # a model bug: find the pairs it fails on, one at a time
                pass
        out: list[float] = []
        for other in candidates:
            try:
                out.append(self._score(form, forms[other], *floor))  # type: ignore[misc]
            except Exception:  # as in _pair
                self.state.counts["model_errors"] += 1
                out.append(-math.inf)
        return out

    def _compared(self, form: object, rid: str, keys: tuple[str, ...]) -> dict[str, _Pair]:
        """_candidates for a model without a fast score: the evidence of every pair."""
        person_of = self.state.clusters.person
        own = person_of(rid)
        best: dict[str, _Pair] = {}
        candidates = self.state.index.candidates(keys, rid)
        self.state.counts["candidates"] += len(candidates)
        for other in candidates:
            person = person_of(other)
            pair = self._pair(form, other)
            if person != own and person is not None and _better(pair, best.get(person)):
                best[person] = pair
        return best

    def _pair(self, form: object, other: str) -> _Pair:
        """The pair's weight (and evidence, when the model has no faster way to a weight)."""
        theirs = self.state.forms[other]
        evidence = None
        try:
            if self._score is not None:
                weight = self._score(form, theirs)
            else:
                evidence = self.model.compare(form, theirs)  # type: ignore[arg-type]
                weight = evidence.weight
        except Exception:  # a model bug must not stop the stream: counted, never logged
            self.state.counts["model_errors"] += 1
            return _Pair(-math.inf, other)
        return _Pair(weight if weight == weight else -math.inf, other, evidence)  # NaN: no link

    def _evidence(self, form: object, pair: _Pair) -> Evidence | None:
        """The evidence a decision carries (None for a supervisor's must-link)."""
        if pair.evidence is not None or pair.weight == MUST:
            return pair.evidence
        try:
            return self.model.compare(form, self.state.forms[pair.record_id])  # type: ignore[arg-type]
        except Exception:  # as in _pair
            self.state.counts["model_errors"] += 1
            return None

    def _enforce(self, person: str, ts_ms: int | None, out: list[Decision]) -> None:
        """SPLIT the person if it holds a cannot-link pair; the largest part keeps the id."""
        parts = self.state.clusters.parts(person, lambda r: self.state.cannot.get(r, ()))
        for part in parts[1:]:
            new = self._mint(self.state.records[part[0]], ts_ms)
            self._emit(out, Decision(
                K.SPLIT, person, moved_record_ids=tuple(part), other_person_ids=(new,),
                reason="cannot-link",
            ))  # fmt: skip

    def _mint(self, founder: PersonRecord, ts_ms: int | None) -> str:
        """A person id never given out before (a re-created record would get its old one)."""
        person = self._new_id(founder, ts_ms)
        ms = ts_ms or 0
        while self.state.clusters.known(person):
            ms += 1
            person = self._new_id(founder, ms)
        return person

    def _emit(self, out: list[Decision], decision: Decision) -> list[Decision]:
        self.state.apply(decision)
        out.append(decision)
        return out
