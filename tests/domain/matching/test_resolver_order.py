"""domain/matching/resolver.py: the persons do not depend on the order the facts arrive in.

Facts come to the resolver from several partitions (the person topic is keyed by record), so a
civil-registry correction and a permit applicant's record may arrive either way round. The case
that found it (tests/test_pipeline.py, 30 November 2026): an applicant whose NIK lost a digit at
the counter links to the resident's civil-registry record by name, birth date and NIK; the
registry then corrects the resident's name. Arriving first, the applicant stayed in the person
on the strength of a name the registry no longer holds; arriving last, it was (rightly, under
the model) a person of its own with a review. An update now re-checks the records that held to
the person through the updated one, so both orders end in the same persons."""

from __future__ import annotations

import itertools

import pytest

from domain.matching.decisions import DecisionKind as K
from domain.matching.record import PersonRecord

from .resolver_support import person, real_model, resolver

NIK = "3171011909770001"  # born in Jakarta 1977-09-19, moved into Muna Barat
REGISTRY = person(
    "Rbio", "LA ODE MARSITO", "1977-09-19", sex="L", nik=NIK, kk_number="7413053001180001",
    birth_place="JAKARTA", address="DUSUN V", kelurahan="7413052005", kecamatan="741305",
    source="disdukcapil",
)  # fmt: skip
MOVED_IN = PersonRecord(
    "Rmove", nik=NIK, kelurahan="7413052005", kecamatan="741305", source="disdukcapil"
)
APPLICANT = person(
    "Rapp", "La Ode Marsito", "1977-09-19", nik=NIK[:7] + NIK[8:], birth_place="Jakarta",
    address="DUSUN V", phone="081234567890", source="dpmptsp",
)  # fmt: skip
RENAMED = person(
    "Rbio", "SESUDAH RACUN", "1977-09-19", sex="L", nik=NIK, kk_number="7413053001180001",
    birth_place="JAKARTA", address="DUSUN V", kelurahan="7413052005", kecamatan="741305",
    source="disdukcapil",
)  # fmt: skip
RECORDS = ("Rbio", "Rmove", "Rapp")


def persons(order: tuple[PersonRecord, ...]) -> set[frozenset[str]]:
    """The resolver's persons (as sets of record ids) after the records in this order."""
    r = resolver(real_model())
    for ts, rec in enumerate(order, start=1):
        r.resolve(rec, ts)
    groups: dict[str, set[str]] = {}
    for rid in RECORDS:
        groups.setdefault(r.person_of(rid) or rid, set()).add(rid)
    return {frozenset(g) for g in groups.values()}


def orders() -> list[tuple[PersonRecord, ...]]:
    """Every arrival order of the three records, the registry's correction after its record."""
    out = []
    for perm in itertools.permutations([REGISTRY, MOVED_IN, APPLICANT]):
        at = perm.index(REGISTRY)
        for where in range(at + 1, len(perm) + 1):
            out.append((*perm[:where], RENAMED, *perm[where:]))
    return out


@pytest.mark.parametrize("order", orders(), ids=lambda o: "-".join(r.record_id for r in o))
def test_a_correction_and_an_applicant_end_in_the_same_persons_either_way_round(order) -> None:
    assert persons(order) == persons((REGISTRY, MOVED_IN, RENAMED, APPLICANT))


def test_the_applicant_the_correction_leaves_without_evidence_goes_to_review() -> None:
    r = resolver(real_model())
    for ts, rec in enumerate((REGISTRY, MOVED_IN, APPLICANT), start=1):
        r.resolve(rec, ts)
    resident = r.person_of("Rbio")
    assert r.person_of("Rapp") == r.person_of("Rmove") == resident
    decisions = r.resolve(RENAMED, 4)
    kinds = [d.kind for d in decisions]
    assert kinds[:3] == [K.LINK, K.UNLINK, K.NEW], kinds
    assert decisions[1].record_id == "Rapp"
    assert r.person_of("Rbio") == r.person_of("Rmove") == resident != r.person_of("Rapp")
    # Not dropped silently: a supervisor is asked whether the applicant is the resident.
    [review] = r.open_reviews()
    assert {review.record_id, review.other_record_id} & {"Rbio", "Rmove"}
    assert "Rapp" in {review.record_id, review.other_record_id}


def test_a_correction_that_keeps_the_evidence_moves_no_one() -> None:
    r = resolver(real_model())
    for ts, rec in enumerate((REGISTRY, MOVED_IN, APPLICANT), start=1):
        r.resolve(rec, ts)
    moved = person(
        "Rbio", "LA ODE MARSITO", "1977-09-19", sex="L", nik=NIK, kk_number="7413053001180001",
        birth_place="JAKARTA", address="DUSUN VI", kelurahan="7413052005", kecamatan="741305",
        source="disdukcapil",
    )  # fmt: skip
    assert [d.kind for d in r.resolve(moved, 4)] == [K.LINK]
    assert len({r.person_of(rid) for rid in RECORDS}) == 1
