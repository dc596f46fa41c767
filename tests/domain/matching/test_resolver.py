"""domain/matching/resolver.py: the issue's "must hold" cases at the resolver, against a
stand-in scorer and (once it exists) the real MatchModel."""

from __future__ import annotations

import pytest

from domain.matching.decisions import DecisionKind as K
from domain.matching.index import BlockIndex
from domain.matching.model import MatchModel
from domain.matching.resolver import MAX_REVIEWS, NOTHING_TO_COMPARE

from .resolver_support import models, person, real_model, resolver

NIK = "7413014501900001"  # a woman born 1990-01-05, registered in Muna


@pytest.mark.parametrize("typo", ["7413014501960001", "7413015401900001"])  # digit, swap
@pytest.mark.parametrize("model", models())
def test_a_nik_typo_in_the_permits_system_ends_in_the_civil_registry_person(model, typo) -> None:
    r = resolver(model)
    registry = person(
        "Rsiak",
        "WA ODE SITI",
        "1990-01-05",
        sex="P",
        nik=NIK,
        kelurahan="RAHA I",
        kk_number="7413010101080002",
        source="disdukcapil",
    )
    # Off in the date part: the typo'd NIK no longer fits the record's birth date.
    permit = person(
        "Rpermit",
        "Wa Ode Siti",
        "1990-01-05",
        sex="P",
        nik=typo,
        kelurahan="RAHA I",
        source="dpmptsp",
    )
    [new] = r.resolve(registry, 1_000)
    decisions = r.resolve(permit, 2_000)
    assert new.kind is K.NEW
    assert [d.kind for d in decisions] == [K.LINK]
    assert r.person_of("Rpermit") == r.person_of("Rsiak") == new.person_id
    assert len(r) == 2  # records held (the heap settler's measure), not people
    assert decisions[0].other_record_id == "Rsiak" and decisions[0].evidence is not None


@pytest.mark.parametrize("model", models())
def test_two_people_with_one_name_and_birth_date_in_one_kelurahan_stay_apart(model) -> None:
    r = resolver(model)
    a = person(
        "Ra",
        "MUHAMMAD RIDWAN",
        "1985-03-12",
        sex="L",
        nik="7413011203850004",
        kk_number="7413010505100001",
        address="JL. SUKOWATI NO. 3",
        kelurahan="RAHA I",
    )
    b = person(
        "Rb",
        "MUHAMMAD RIDWAN",
        "1985-03-12",
        sex="L",
        nik="7413011203850031",
        kk_number="7413012207120004",
        address="JL. LAODE POMBOE NO. 41",
        kelurahan="RAHA I",
    )
    r.resolve(a, 1)
    decisions = r.resolve(b, 2)
    assert decisions[0].kind is K.NEW
    assert r.person_of("Ra") != r.person_of("Rb")


def test_a_neighbouring_serial_typo_goes_to_a_supervisor_not_nowhere() -> None:
    # ...0188 typed for ...0189 (a neighbouring key), same name and birth date, no KK or phone
    # to share: the NIK cannot tell it from a namesake born the same day, so no link, but a
    # REVIEW with the evidence (it used to be dropped unseen).
    r = resolver(real_model())
    r.resolve(
        person(
            "Rsiak",
            "WA ODE SITI",
            "1990-01-05",
            sex="P",
            nik="7413014501900189",
            kk_number="7413010101080002",
            kelurahan="RAHA I",
            source="disdukcapil",
        ),
        1,
    )
    permit = person(
        "Rpermit",
        "Wa Ode Siti",
        "1990-01-05",
        sex="P",
        nik="7413014501900188",
        kelurahan="RAHA I",
        source="dpmptsp",
    )
    decisions = r.resolve(permit, 2)
    assert [d.kind for d in decisions] == [K.NEW, K.REVIEW]
    review = decisions[1]
    assert review.other_record_id == "Rsiak" and review.evidence is not None
    nik = {c.field: c.level for c in review.evidence.comparisons}["nik"]
    assert nik == "next_serial"
    assert r.person_of("Rpermit") != r.person_of("Rsiak")
    assert [d.record_id for d in r.open_reviews()] == ["Rpermit"]


def test_namesakes_with_consecutive_serials_are_asked_about_only_when_in_doubt() -> None:
    r = resolver(real_model())
    same = dict(sex="P", kelurahan="RAHA I", kecamatan="01")
    r.resolve(
        person(
            "Ra",
            "WA ODE SITI",
            "1990-01-05",
            nik="7413014501900189",
            kk_number="7413010101080002",
            source="disdukcapil",
            **same,
        ),
        1,
    )
    # The registry issued both NIKs: two residents, nothing to ask.
    decisions = r.resolve(
        person(
            "Rb",
            "WA ODE SITI",
            "1990-01-05",
            nik="7413014501900188",
            kk_number="7413010101080005",
            source="disdukcapil",
            **same,
        ),
        2,
    )
    assert [d.kind for d in decisions] == [K.NEW]
    # The second resident's permit, under her own NIK: hers, and no question about the first.
    decisions = r.resolve(
        person(
            "Rpermit", "Wa Ode Siti", "1990-01-05", nik="7413014501900188", source="dpmptsp", **same
        ),
        3,
    )
    assert [d.kind for d in decisions] == [K.LINK]
    assert r.person_of("Rpermit") == r.person_of("Rb") != r.person_of("Ra")
    assert r.open_reviews() == []


def test_a_record_carrying_one_namesakes_nik_joins_her_despite_a_date_typo() -> None:
    # Two residents of one name, born the same day in one village (consecutive serials); a
    # health-centre record holds the second one's NIK exactly but writes her birth date a day
    # off. The typo makes the first as likely by name and date, not by NIK: she is the second.
    r = resolver(real_model())
    same = dict(sex="P", kelurahan="RAHA I", kecamatan="01", source="disdukcapil")
    r.resolve(person("Ra", "WA ODE SITI", "1990-01-05", nik="7413014501900189",
                     kk_number="7413010101080002", address="DUSUN I", **same), 1)  # fmt: skip
    r.resolve(person("Rb", "WA ODE SITI", "1990-01-05", nik="7413014501900188",
                     kk_number="7413010101080005", address="DUSUN II", **same), 2)  # fmt: skip
    health = person("Rh", "Wa Ode Siti", "1990-01-06", nik="7413014501900188", sex="P",
                    kelurahan="RAHA I", kecamatan="01", source="puskesmas")  # fmt: skip
    decisions = r.resolve(health, 3)
    assert decisions[0].kind == K.LINK and K.MERGE not in [d.kind for d in decisions]
    assert r.person_of("Rh") == r.person_of("Rb") != r.person_of("Ra")
    # Without a NIK the same record is an honest doubt between the two: joined to neither.
    r.resolve(person("Rn", "Wa Ode Siti", "1990-01-06", sex="P", kelurahan="RAHA I",
                     kecamatan="01", source="puskesmas"), 4)  # fmt: skip
    assert r.person_of("Rn") not in (r.person_of("Ra"), r.person_of("Rb"))


def test_a_record_without_nik_like_two_namesakes_joins_neither_and_merges_none() -> None:
    r = resolver(real_model())
    common = dict(sex="L", address="JL. SUKOWATI NO. 3", kelurahan="RAHA I", kecamatan="01")
    a = person(
        "Ra",
        "MUHAMMAD RIDWAN",
        "1985-03-12",
        nik="7413011203850004",
        kk_number="7413010505100001",
        **common,
    )
    b = person(
        "Rb",
        "MUHAMMAD RIDWAN",
        "1985-03-12",
        nik="7413011203850031",
        kk_number="7413012207120004",
        **common,
    )
    r.resolve(a, 1)
    r.resolve(b, 2)
    decisions = r.resolve(person("Rc", "Muhammad Ridwan", "1985-03-12", **common), 3)
    assert [d.kind for d in decisions] == [K.NEW, K.REVIEW, K.REVIEW]
    assert len({r.person_of(x) for x in ("Ra", "Rb", "Rc")}) == 3


@pytest.mark.parametrize("model", models())
def test_a_kk_number_in_the_nik_field_links_no_family(model) -> None:
    kk = "7413010505100001"
    r = resolver(model)
    r.resolve(person("Rfather", "LA ODE HASAN", "1970-02-02", sex="L", nik=kk, kk_number=kk), 1)
    r.resolve(person("Rdaughter", "WA ODE NURMA", "2001-09-17", sex="P", nik=kk, kk_number=kk), 2)
    # ...nor a NIK field holding the KK number that another record carries as its KK.
    r.resolve(
        person(
            "Rmother", "WA ODE SITI", "1975-06-01", sex="P", nik="7413014106750002", kk_number=kk
        ),
        3,
    )
    r.resolve(person("Rson", "LA ODE ALI", "2005-01-30", sex="L", nik=kk), 4)
    persons = [r.person_of(x) for x in ("Rfather", "Rdaughter", "Rmother", "Rson")]
    assert len(set(persons)) == 4


@pytest.mark.parametrize("model", models())
def test_records_with_nothing_to_compare_get_their_own_person_and_a_finding(model) -> None:
    r = resolver(model)
    [a] = r.resolve(person("R1", address="JL. MAWAR 1", kelurahan="RAHA I"), 1)
    [b] = r.resolve(person("R2", address="JL. MAWAR 1", kelurahan="RAHA I"), 2)
    [c] = r.resolve(person("R3", "...", nik="-"), 3)
    assert [d.kind for d in (a, b, c)] == [K.NEW] * 3
    assert {d.reason for d in (a, b, c)} == {NOTHING_TO_COMPARE}
    assert len({a.person_id, b.person_id, c.person_id}) == 3
    # ...and a later record with the same address does not join them either.
    r.resolve(person("R4", "SITI", "1990-01-05", address="JL. MAWAR 1", kelurahan="RAHA I"), 4)
    assert r.person_of("R4") not in {a.person_id, b.person_id}


def test_a_merge_keeps_the_oldest_id_and_the_old_id_still_resolves() -> None:
    r = resolver()
    [a] = r.resolve(person("Ra", "LA ODE HASAN", "1970-02-02", address="JL. MAWAR 1"), 1_000)
    b = r.resolve(person("Rb", "LA ODE HASAN", nik="7413010202700003"), 2_000)[0]  # + REVIEW
    assert a.person_id < b.person_id and a.person_id != b.person_id
    bridge = person(
        "Rc", "LA ODE HASAN", "1970-02-02", address="JL. MAWAR 1", nik="7413010202700003"
    )
    decisions = r.resolve(bridge, 3_000)
    assert [d.kind for d in decisions] == [K.LINK, K.MERGE]
    assert decisions[0].person_id == b.person_id  # the best pair (the NIK) first
    merge = decisions[1]
    assert (merge.person_id, merge.other_person_ids) == (a.person_id, (b.person_id,))
    assert {r.person_of(x) for x in ("Ra", "Rb", "Rc")} == {a.person_id}
    assert r.canonical(b.person_id) == a.person_id
    assert r.records_of(b.person_id) == ["Ra", "Rb", "Rc"]
    assert r.stats["merges"] == 1 and r.stats["aliases"] == 1


def _household(r) -> None:
    """x1..x3 share NIK, name and birth date; y shares name, birth date and x3's address."""
    for i, ts in ((1, 10), (2, 20)):
        r.resolve(person(f"Rx{i}", "SITI AMINAH", "1991-04-04", nik=NIK), ts)
    r.resolve(person("Rx3", "SITI AMINAH", "1991-04-04", nik=NIK, address="JL. MAWAR 1"), 30)
    r.resolve(person("Ry", "SITI AMINAH", "1991-04-04", address="JL. MAWAR 1"), 40)


def test_a_cannot_link_splits_along_the_weakest_link_and_the_larger_part_keeps_the_id() -> None:
    r = resolver()
    _household(r)
    kept = r.person_of("Rx1")
    assert {r.person_of(x) for x in ("Rx2", "Rx3", "Ry")} == {kept}
    decisions = r.cannot_link("Rx1", "Ry", 50)
    assert [d.kind for d in decisions] == [K.CANNOT_LINK, K.SPLIT]
    split = decisions[1]
    assert (split.person_id, split.moved_record_ids) == (kept, ("Ry",))
    assert r.person_of("Ry") == split.other_person_ids[0] != kept
    assert r.records_of(kept) == ["Rx1", "Rx2", "Rx3"]


def test_the_founders_id_stays_with_the_larger_part_not_with_the_founder() -> None:
    r = resolver()
    [f] = r.resolve(person("Rf", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 1)
    for rid in ("Rg", "Rh", "Ri"):
        r.resolve(person(rid, "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", nik=NIK), 2)
    assert r.records_of(f.person_id) == ["Rf", "Rg", "Rh", "Ri"]
    [_, split] = r.cannot_link("Rf", "Rh", 3)
    assert split.moved_record_ids == ("Rf",)
    assert r.records_of(f.person_id) == ["Rg", "Rh", "Ri"]
    assert r.person_of("Rf") == split.other_person_ids[0]


def test_a_cannot_link_holds_against_new_evidence() -> None:
    r = resolver()
    r.resolve(person("Rf", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 1)
    for rid in ("Rg", "Rh"):
        r.resolve(person(rid, "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", nik=NIK), 2)
    r.cannot_link("Rf", "Rh", 3)
    apart = r.person_of("Rf")
    # A new record that links to both persons joins the best and puts the other up for review.
    decisions = r.resolve(person("Rj", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", nik=NIK), 4)
    assert [d.kind for d in decisions] == [K.LINK, K.REVIEW]
    assert decisions[1].other_record_id == "Rf"
    assert r.person_of("Rj") == r.person_of("Rh") != apart
    # The record itself gaining the NIK changes nothing, nor does the command repeated.
    decisions = r.resolve(person("Rf", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", nik=NIK), 5)
    assert [d.kind for d in decisions] == [K.LINK]
    assert r.person_of("Rf") == apart != r.person_of("Rh")
    assert r.cannot_link("Rf", "Rh") == [] and r.cannot_link("Rh", "Rf") == []


def test_a_merge_that_would_join_a_cannot_link_is_refused_and_reviewed() -> None:
    r = resolver()
    r.cannot_link("Ra", "Rb")  # decided before either record arrived
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", address="JL. MAWAR 1"), 1)
    r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", nik=NIK), 2)
    decisions = r.resolve(
        person("Rc", "SITI AMINAH", "1991-04-04", address="JL. MAWAR 1", nik=NIK), 3
    )
    assert [d.kind for d in decisions] == [K.LINK, K.REVIEW]
    assert r.person_of("Rc") == r.person_of("Rb") != r.person_of("Ra")
    assert [d.other_record_id for d in r.open_reviews()] == ["Ra"]


def test_a_must_link_merges_and_holds_when_a_record_changes() -> None:
    r = resolver()
    [a] = r.resolve(person("Ra", "SITI AMINAH", "1991-04-04"), 1)
    [b] = r.resolve(person("Rb", "AMINAH", "1992-05-05"), 2)
    decisions = r.must_link("Rb", "Ra")
    assert [d.kind for d in decisions] == [K.MUST_LINK, K.MERGE]
    assert decisions[1].other_person_ids == (b.person_id,)
    assert r.person_of("Rb") == a.person_id
    assert r.must_link("Ra", "Rb") == []
    decisions = r.resolve(person("Rb", "NURDIN", "1950-01-01"), 3)
    assert [d.kind for d in decisions] == [K.LINK] and r.person_of("Rb") == a.person_id
    # A later "different persons" on the same pair wins and splits them again.
    assert [d.kind for d in r.cannot_link("Ra", "Rb", 4)] == [K.CANNOT_LINK, K.SPLIT]
    assert r.person_of("Ra") != r.person_of("Rb")


def test_a_must_link_across_a_cannot_link_splits_the_merged_person_again() -> None:
    r = resolver()
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK), 1)
    r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", nik=NIK), 2)
    r.resolve(person("Rc", "NURDIN", "1950-01-01"), 3)
    r.cannot_link("Ra", "Rc")
    decisions = r.must_link("Rb", "Rc", 4)
    assert [d.kind for d in decisions] == [K.MUST_LINK, K.MERGE, K.SPLIT]
    assert r.person_of("Rb") == r.person_of("Rc") != r.person_of("Ra")


def test_an_update_stays_or_leaves() -> None:
    r = resolver()
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK, kelurahan="RAHA I"), 1)
    r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 2)
    kept = r.person_of("Ra")
    assert r.person_of("Rb") == kept
    stays = r.resolve(
        person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", address="JL. MAWAR 1"), 3
    )
    assert [(d.kind, d.person_id) for d in stays] == [(K.LINK, kept)]
    assert r.record("Rb").address == "JL. MAWAR 1"
    leaves = r.resolve(person("Rb", "NURDIN", "1950-01-01"), 4)
    assert [d.kind for d in leaves] == [K.UNLINK, K.NEW]
    assert leaves[0].person_id == kept and r.person_of("Rb") == leaves[1].person_id != kept


def test_a_lone_record_keeps_its_id_when_updated_and_may_then_merge() -> None:
    r = resolver()
    [a] = r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK, kelurahan="RAHA I"), 1)
    [b] = r.resolve(person("Rb", "NURDIN", "1950-01-01"), 2)
    decisions = r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 3)
    assert [d.kind for d in decisions] == [K.LINK, K.MERGE]
    assert decisions[0].person_id == b.person_id
    assert r.person_of("Rb") == a.person_id == r.canonical(b.person_id)


def test_the_same_record_again_decides_nothing() -> None:
    r = resolver()
    rec = person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK)
    assert len(r.resolve(rec, 1)) == 1
    assert r.resolve(rec, 2) == []
    # Spaces and control characters are cleaned away: still the same record.
    assert r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=f" {NIK}\x00 "), 3) == []
    assert r.resolve(person("Ra", "SITI AMINAH", "1991-04-05", nik=NIK), 4) != []


def test_forget_unlinks_and_the_person_keeps_its_id() -> None:
    r = resolver()
    [a] = r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK), 1)
    r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", nik=NIK), 2)
    [unlink] = r.forget("Ra")
    assert (unlink.kind, unlink.person_id, unlink.record_id) == (K.UNLINK, a.person_id, "Ra")
    assert r.person_of("Ra") is None and r.records_of(a.person_id) == ["Rb"]
    assert r.forget("Ra") == []
    r.forget("Rb")
    assert r.records_of(a.person_id) == [] and r.canonical(a.person_id) == a.person_id
    # The record re-created gets a new id (ids are never given out twice).
    [again] = r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", nik=NIK), 1)
    assert again.kind is K.NEW and again.person_id != a.person_id


def test_a_record_linked_through_a_deleted_one_stays_with_its_person() -> None:
    r = resolver()
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", address="JL. MAWAR 1"), 1)
    r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", address="JL. MAWAR 1", nik=NIK), 2)
    r.resolve(person("Rc", "SITI AMINAH", nik=NIK), 3)
    kept = r.person_of("Ra")
    assert r.records_of(kept) == ["Ra", "Rb", "Rc"]
    r.forget("Rb")
    assert r.records_of(kept) == ["Ra", "Rc"]
    # ...and a cannot-link between the two still finds a link to cut.
    assert [d.kind for d in r.cannot_link("Ra", "Rc")] == [K.CANNOT_LINK, K.SPLIT]


@pytest.mark.parametrize(
    ("caps", "reviews"), [({}, 3), ({"max_block": 2}, 0), ({"block_caps": {"dob": 2}}, 0)]
)
def test_an_oversize_block_gives_no_candidates(caps, reviews) -> None:
    r = resolver(**caps)
    for i in range(3):
        r.resolve(person(f"R{i}", f"NAME{i}", "1991-04-04", address="JL. MAWAR 1"), i)
    # Only the birth date to block on: a block of three, over a cap of two.
    decisions = r.resolve(person("R9", born="1991-04-04", address="JL. MAWAR 1"), 9)
    assert [d.kind for d in decisions] == [K.NEW] + [K.REVIEW] * reviews


def test_the_index_skips_only_oversize_blocks_per_key_kind() -> None:
    index = BlockIndex(max_block=1, caps={"nik": 3})
    for rid in ("a", "b", "c"):
        index.add(rid, ["nik:1", "dob:x"])
    assert index.candidates(["dob:x", "nik:1"], exclude="a") == ["b", "c"]
    assert index.candidates(["dob:x"], exclude="a") == []
    index.remove("b", ["nik:1", "dob:x"])
    index.remove("c", ["nik:1", "dob:x"])
    assert index.candidates(["dob:x"], exclude="x") == ["a"] and index.block_size("nik:1") == 1


def test_reviews_close_when_a_supervisor_decides() -> None:
    r = resolver()
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04"), 1)
    decisions = r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 2)
    assert [d.kind for d in decisions] == [K.NEW, K.REVIEW]
    assert [(d.record_id, d.other_record_id) for d in r.open_reviews()] == [("Rb", "Ra")]
    r.cannot_link("Rb", "Ra")
    assert r.open_reviews() == []
    assert r.stats["reviews"] == 1 and r.stats["open_reviews"] == 0


def test_a_record_puts_at_most_three_doubts_up_for_review() -> None:
    r = resolver()
    for i in range(5):  # five people sharing a name and birth date, each with a NIK of its own
        r.resolve(person(f"R{i}", "SITI AMINAH", "1991-04-04", nik=f"7413014404910{i}{i}{i}"), i)
    decisions = r.resolve(person("Rx", "SITI AMINAH", "1991-04-04"), 9)
    assert [d.kind for d in decisions] == [K.NEW] + [K.REVIEW] * MAX_REVIEWS
    assert [d.other_record_id for d in decisions[1:]] == ["R0", "R1", "R2"]


@pytest.mark.parametrize("model", models())
def test_the_pairs_scored_are_counted_and_a_replay_scores_none(model) -> None:
    r = resolver(model)
    logged = r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", sex="P", kelurahan="RAHA I"), 1)
    assert r.scored == 0  # the first record has no one to be compared with
    logged += r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", sex="P", kelurahan="RAHA I"), 2)
    assert r.scored == 1
    logged += r.resolve(person("Rc", "SITI AMINA", "1991-04-04", sex="P", kelurahan="RAHA I"), 3)
    assert r.scored == 3  # Ra and Rb: one pair each, however many keys they share
    replayed = resolver(model)
    for d in logged:
        replayed.apply(d)
    assert replayed.scored == 0
    assert replayed.records_of(replayed.person_of("Rc")) == r.records_of(r.person_of("Rc"))


@pytest.mark.parametrize("registry_first", [True, False], ids=["registry-first", "typo-first"])
def test_a_nik_typo_meets_the_proved_nik_in_either_order(registry_first) -> None:
    # Nothing but the NIK in common: a one-word name makes no name key, and the typo'd record,
    # without a birth date, borrows its NIK's (1996, not 1990): no date key in common. The
    # registry's NIK, proved by its birth date, is not indexed under its deletions
    # (blocking.py): the pair must still be scored.
    r = resolver(real_model())
    registry = person("Rsiak", "SITI", "1990-01-05", sex="P", nik=NIK, source="disdukcapil")
    typo = person("Rpermit", "SITI", nik="7413014501960001", source="dpmptsp")
    first, second = (registry, typo) if registry_first else (typo, registry)
    r.resolve(first, 1)
    r.resolve(second, 2)
    assert r.scored == 1


class _FailsOnOnePerson(MatchModel):
    """The real model, except that scoring any pair with a record named POISON raises."""

    def score(self, a, b, floor=None):  # type: ignore[no-untyped-def]
        if "POISON" in (a.record.name or "", b.record.name or ""):
            raise RuntimeError("model bug")
        return super().score(a, b, floor)


def test_a_pair_the_model_fails_on_is_counted_and_the_other_candidates_still_score() -> None:
    # MatchModel.scores scores a record's candidates in one call; when it raises, the pairs
    # are scored one at a time, so one bad pair costs only itself.
    model = _FailsOnOnePerson.load()
    r = resolver(model)
    siti = dict(sex="P", nik="7413014404910001", kelurahan="RAHA I", address="JL. MAWAR 1")
    r.resolve(person("Ra", "SITI AMINAH", "1991-04-04", **siti), 1)
    r.resolve(person("Rp", "POISON", "1991-04-04", **siti), 2)
    assert r.stats["model_errors"] == 1  # Rp against Ra
    decisions = r.resolve(person("Rc", "SITI AMINAH", "1991-04-04", **siti), 3)
    assert r.stats["model_errors"] == 2  # Rc against Rp
    assert [d.kind for d in decisions] == [K.LINK]
    assert r.person_of("Rc") == r.person_of("Ra") != r.person_of("Rp")
