"""What the resolver tests share: a small deterministic stand-in scorer (the MatchModel's
interface with hand-set weights), a person-id function, record builders and a way to compare
two resolvers' states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from domain.matching.decisions import Decision, Evidence, FieldComparison
from domain.matching.ids import person_id
from domain.matching.model import MatchModel
from domain.matching.record import PersonRecord
from domain.matching.resolver import Resolver


def _one_edit(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 1 or (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


class StandIn:
    """Hand-set Fellegi-Sunter-like weights; a NIK that is also a record's KK number is not a
    NIK match (a KK typed into the NIK field is shared by a whole family)."""

    link_weight = 10.0
    review_weight = 4.0

    def blocking_keys(self, r: PersonRecord) -> tuple[str, ...]:
        keys = []
        if r.nik:
            keys.append("nik:" + r.nik)
        if r.kk_number:
            keys.append("kk:" + r.kk_number)
        if r.name and r.birth_date:
            keys.append(f"nd:{r.name.upper()}|{r.birth_date}")
        if r.birth_date:
            keys.append(f"dob:{r.birth_date}")
        if r.name:
            keys.append("name:" + r.name.upper())
        return tuple(keys)

    def compare(self, a: PersonRecord, b: PersonRecord) -> Evidence:
        out: list[FieldComparison] = []
        if a.nik and b.nik:
            kk = {a.kk_number, b.kk_number}
            if a.nik == b.nik and a.nik not in kk and len(a.nik) == 16 and a.nik.isdigit():
                out.append(FieldComparison("nik", "exact", 12.0))
            elif _one_edit(a.nik, b.nik):
                out.append(FieldComparison("nik", "one-edit", 6.0))
            elif a.nik != b.nik:
                out.append(FieldComparison("nik", "different", -6.0))
        for field, agree, disagree in (
            ("name", 5.0, -5.0),
            ("birth_date", 4.0, -4.0),
            ("address", 2.0, -1.0),
            ("kelurahan", 1.0, 0.0),
        ):
            x, y = getattr(a, field), getattr(b, field)
            if x is None or y is None:
                continue
            same = str(x).upper() == str(y).upper()
            out.append(
                FieldComparison(
                    field, "exact" if same else "different", agree if same else disagree
                )
            )
        weight = sum(c.weight for c in out)
        return Evidence(tuple(out), weight, 1 / (1 + 2**-weight))


def ids_by_time(record: PersonRecord, ts_ms: int | None) -> str:
    """Person ids ordered by time, unique per record (as the hub's are)."""
    return person_id(ts_ms, record.record_id.encode().ljust(10, b"\0")[-10:])


def real_model() -> MatchModel:
    """The MatchModel with its shipped parameters."""
    return MatchModel.load()


def models() -> list[object]:
    """pytest params: the stand-in scorer and the real model."""
    return [pytest.param(StandIn(), id="stand-in"), pytest.param(real_model(), id="model")]


def resolver(model: object | None = None, **kwargs: object) -> Resolver:
    """A Resolver over the model (the stand-in by default) with time-ordered person ids."""
    return Resolver(model or StandIn(), ids_by_time, **kwargs)  # type: ignore[arg-type]


def person(
    rid: str, name: str | None = None, born: str | None = None, **fields: object
) -> PersonRecord:
    """A record with a name and an ISO birth date."""
    date = dt.date.fromisoformat(born) if born else None
    return PersonRecord(rid, name=name, birth_date=date, **fields)  # type: ignore[arg-type]


def state(r: Resolver, record_ids: list[str]) -> dict[str, object]:
    """Everything a replay must reproduce: each record's person and snapshot, the aliases,
    the open reviews and the counts."""
    return {
        "persons": {rid: r.person_of(rid) for rid in record_ids},
        "records": {rid: r.record(rid) for rid in record_ids},
        "aliases": r.aliases(),
        "reviews": [as_tuple(d) for d in r.open_reviews()],
        "stats": r.stats,
    }


def as_tuple(d: Decision) -> tuple[object, ...]:
    """A decision with every field (records and evidence in full)."""
    rec = d.record.as_dict() if d.record is not None else None
    return (
        d.kind,
        d.person_id,
        d.record_id,
        rec,
        d.other_record_id,
        d.other_person_ids,
        d.moved_record_ids,
        d.evidence,
        d.reason,
    )


Step = Callable[[Resolver], list[Decision]]


_NAMES = ["SITI AMINAH", "WA ODE SITI", "LA ODE HASAN", "MUHAMMAD RIDWAN", "NURDIN", "HJ. SITI"]
_KELURAHAN = ["RAHA I", "RAHA II", "WAMPONIKI"]


def scenario(rng_seed: int, n: int, record_ids: list[str]) -> list[Step]:
    """A seeded mix of commands on a small population (so that records collide a lot): new
    records with typos and missing fields, updates, repeats, deletions, must- and cannot-links.
    `record_ids` collects the ids the steps use."""
    import random

    rng = random.Random(rng_seed)
    people = [
        (
            rng.choice(_NAMES),
            dt.date(1960 + rng.randrange(40), 1 + i % 12, 1 + i % 27),
            f"74130{rng.randrange(10)}{i:06d}0{i % 10}{i % 7}1",
            rng.choice(_KELURAHAN),
            f"JL. MAWAR {rng.randrange(5)}",
        )
        for i in range(25)
    ]

    def variant(rid: str) -> PersonRecord:
        name, born, nik, kel, address = rng.choice(people)
        if rng.random() < 0.2:
            nik = nik[:7] + str((int(nik[7]) + 1) % 10) + nik[8:]
        return PersonRecord(
            rid,
            name=name if rng.random() < 0.9 else None,
            birth_date=born if rng.random() < 0.8 else None,
            nik=nik if rng.random() < 0.6 else None,
            kelurahan=kel if rng.random() < 0.7 else None,
            address=address if rng.random() < 0.5 else None,
        )

    steps: list[Step] = []
    for i in range(n):
        roll, ts = rng.random(), 1_000 * (rng_seed + i)
        known = record_ids or ["R-none"]
        if roll < 0.65 or not record_ids:
            rid = f"R{rng_seed}-{i:04d}"
            record_ids.append(rid)
            rec = variant(rid)
            steps.append(lambda r, rec=rec, ts=ts: r.resolve(rec, ts))
        elif roll < 0.8:
            rec = variant(rng.choice(known))
            steps.append(lambda r, rec=rec, ts=ts: r.resolve(rec, ts))
        elif roll < 0.85:
            rid = rng.choice(known)
            steps.append(lambda r, rid=rid: r.forget(rid))
        elif roll < 0.9:
            a, b = rng.choice(known), rng.choice(known)
            steps.append(lambda r, a=a, b=b, ts=ts: r.must_link(a, b, ts))
        elif roll < 0.95:
            a, b = rng.choice(known), rng.choice(known)
            steps.append(lambda r, a=a, b=b, ts=ts: r.cannot_link(a, b, ts))
        else:  # a repeat of the record as it is now: decides nothing
            rid = rng.choice(known)
            steps.append(lambda r, rid=rid: r.resolve(r.record(rid)) if r.record(rid) else [])
    return steps


def scenario_digest(model: object | None = None) -> str:
    """sha256 of every decision of a fixed scenario (to compare across processes)."""
    import hashlib

    r, ids = resolver(model), []
    decisions = [d for step in scenario(7, 400, ids) for d in step(r)]
    return hashlib.sha256(repr([as_tuple(d) for d in decisions]).encode()).hexdigest()
