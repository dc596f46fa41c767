"""The match model: weights, thresholds, the parameter file and blocking keys."""

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from domain.matching.model import MatchModel
from domain.matching.record import PersonRecord

BORN = dt.date(1985, 3, 12)
NIK = "7413011203850001"
KK = "7413012005100003"


@pytest.fixture(scope="module")
def model() -> MatchModel:
    return MatchModel.load()


def rec(record_id: str = "r", **fields: object) -> PersonRecord:
    return PersonRecord(record_id, **fields)  # type: ignore[arg-type]


def levels(model: MatchModel, a: PersonRecord, b: PersonRecord) -> dict[str, str]:
    return {c.field: c.level for c in model.compare(a, b).comparisons}


def registry(**changes: object) -> PersonRecord:
    fields: dict[str, object] = dict(
        name="WA ODE SITI NURHAYATI", birth_date=BORN, sex="P", nik="7413015203850001",
        kk_number=KK, address="DUSUN II", kelurahan="2003", kecamatan="01",
    )  # fmt: skip
    fields.update(changes)
    return rec("siak", **fields)


def test_default_parameters_load_with_link_above_review(model):
    assert model.link_weight > model.review_weight > 0
    assert 0 < model.prior < 1


def test_missing_fields_weigh_nothing(model):
    only_name = model.compare(rec(name="SITI AMINAH"), rec(name="SITI AMINAH", nik=NIK))
    weights = {c.field: c.weight for c in only_name.comparisons}
    assert [f for f, w in weights.items() if w != 0] == ["name"]
    assert only_name.weight == weights["name"]


def test_titles_do_not_change_the_weight(model):
    plain = model.compare(rec(name="Ahmad Yani"), rec(name="AHMAD YANI"))
    titled = model.compare(rec(name="Drs. H. Ahmad Yani, S.H."), rec(name="AHMAD YANI"))
    assert titled.weight == plain.weight


def test_prefix_contradicting_sex_lowers_the_weight(model):
    other = rec(name="SITI AMINAH", sex="P", birth_date=BORN)
    wa = model.compare(rec(name="WA SITI AMINAH", sex="P", birth_date=BORN), other)
    la = model.compare(rec(name="LA SITI AMINAH", sex="P", birth_date=BORN), other)
    assert la.weight < wa.weight
    assert levels(model, rec(name="LA SITI AMINAH", sex="P"), other)["prefix"] == "sex_conflict"


def test_common_name_weighs_less_than_a_rare_one():
    model = MatchModel.load().replace(frequencies={"SITI": 0.05, "HASNAWATI": 0.0005})
    common = model.compare(rec(name="SITI"), rec(name="SITI")).weight
    rare = model.compare(rec(name="HASNAWATI"), rec(name="HASNAWATI")).weight
    assert common < rare


def test_a_subset_name_weighs_by_the_chance_a_random_name_holds_its_words():
    # 'SITI' within 'SITI AMINAH': a random name holds SITI with the word's frequency, which is
    # set against the subset level's u (not the exact level's, a rarer event).
    model = MatchModel.load().replace(frequencies={"SITI": 0.004, "AMINAH": 0.004})
    m, u = model.params["name"]["subset"]
    weight = model.compare(rec(name="SITI"), rec(name="SITI AMINAH")).weight
    assert weight == pytest.approx(math.log2(m / 0.004))


def test_nik_typo_in_the_permits_system_links_to_the_registry_person(model):
    permits = rec("permits", name="Hj. Siti Nurhayati Wa Ode", birth_date=BORN, sex="P",
                  nik="7413015303850001")  # fmt: skip
    evidence = model.compare(permits, registry())
    assert levels(model, permits, registry())["nik"] == "near_dob"
    assert evidence.weight >= model.link_weight


def test_nik_transposition_with_the_same_name_links(model):
    permits = rec("permits", name="SITI NURHAYATI", birth_date=BORN, sex="P",
                  nik="7413015230850001")  # fmt: skip
    assert model.compare(permits, registry()).weight >= model.link_weight


def test_kk_in_the_nik_field_is_not_a_nik_match(model):
    health = rec("puskesmas", name="ANDI", birth_date=dt.date(2012, 6, 1), nik=KK)
    found = {c.field: (c.level, c.weight) for c in model.compare(health, registry()).comparisons}
    assert found["nik"] == ("kk_in_nik", 0.0)


def test_same_name_and_birth_date_in_one_kelurahan_with_other_niks_stay_apart(model):
    # Born the same day in one district: NIKs one serial apart, each right for its record.
    other = registry(nik="7413015203850002", kk_number="7413012005100009",
                     address="DUSUN III")  # fmt: skip
    assert model.compare(other, registry()).weight < model.link_weight


def test_a_neighbouring_serial_with_one_name_and_date_is_a_supervisors_question(model):
    # 8 for 9 on a keypad, or a namesake born the same day: with no shared KK, phone or other
    # id, never linked and never silently dropped either: the review band.
    typo = model.prepare(rec("dpmptsp", name="Wa Ode Siti Nurhayati", birth_date=BORN,
                             sex="P", nik="7413015203850002", kelurahan="2003",
                             kecamatan="01"))  # fmt: skip
    resident = model.prepare(registry())
    weight = model.score(typo, resident, model.review_weight)
    assert model.review_weight <= weight < model.link_weight
    assert weight == model.compare(typo, resident).weight
    assert model.conflict(typo, resident)  # the two NIKs' holders are never merged unasked
    # The same pair sharing the family's KK is no more than a question either (twins).
    twin = model.prepare(registry(nik="7413015203850002"))
    assert model.review_weight <= model.score(twin, resident) < model.link_weight


def test_twins_with_other_names_are_never_linked_unseen(model):
    twin = registry(name="WA ODE HASNIA", nik="7413015203850002")
    assert model.compare(twin, registry()).weight < model.link_weight


def test_household_agreement_with_another_name_only_reaches_review(model):
    sibling = rec("dinkes", name="WA ODE SITI AMINAH", kk_number=KK, address="DUSUN II",
                  kelurahan="2003", kecamatan="01", birth_date=dt.date(1985, 9, 30))  # fmt: skip
    assert model.compare(sibling, registry()).weight < model.link_weight


def test_probability_grows_with_weight(model):
    assert model.probability(-10) < model.probability(0) < model.probability(30) <= 1.0


def test_score_equals_the_evidence_weight(model):
    a, b = model.prepare(registry()), model.prepare(rec(name="Siti Nurhayati", nik=NIK))
    assert model.score(a, b) == model.compare(a, b).weight


def test_save_then_load_gives_the_same_model(model, tmp_path: Path):
    path = tmp_path / "params.json"
    model.save(path)
    again = MatchModel.load(path)
    assert again.to_dict() == model.to_dict()
    assert again.compare(registry(), rec(name="SITI")).weight == (
        model.compare(registry(), rec(name="SITI")).weight
    )


def test_saved_file_shows_m_u_and_weight_per_level(model, tmp_path: Path):
    path = tmp_path / "params.json"
    model.save(path)
    exact = json.loads(path.read_text())["fields"]["nik"]["exact"]
    assert set(exact) == {"m", "u", "weight"}
    assert '"exact": {"m": ' in path.read_text()  # one line per level


def keys(model: MatchModel, **fields: object) -> set[str]:
    return set(model.blocking_keys(rec(**fields)))


def test_blocking_keys_carry_their_kind(model):
    found = keys(model, name="SITI", birth_date=BORN, nik=NIK, kk_number=KK, phone="0812345678",
                 address="DUSUN II", kecamatan="01")  # fmt: skip
    kinds = {k.split(":", 1)[0] for k in found}
    assert kinds == {"nik", "nikd", "kk", "dob", "day", "tok", "kel", "addr", "tel"}


def test_nik_with_one_typo_shares_a_key_with_the_true_nik(model):
    assert keys(model, nik=NIK) & keys(model, nik="7413011203850007")


def test_nik_with_a_transposition_shares_a_key_with_the_true_nik(model):
    assert keys(model, nik=NIK) & keys(model, nik="7413011230850001")


def test_nik_with_a_dropped_or_added_digit_shares_a_key_with_the_true_nik(model):
    assert keys(model, nik=NIK) & keys(model, nik="741301120385001")
    assert keys(model, nik=NIK) & keys(model, nik="74130112038500011")


PROVED = {"nik": NIK, "birth_date": BORN}  # a NIK that agrees with its record's own birth date


def finds(model: MatchModel, a: dict[str, object], b: dict[str, object]) -> bool:
    """Whether the resolver, looking record a up, meets record b in its index by a NIK key."""
    kept_a, probes_a = model.index_keys(rec(**a))
    kept_b, _ = model.index_keys(rec(**b))
    return any(k.startswith(("nik:", "nikd:")) for k in set(kept_a + probes_a) & set(kept_b))


@pytest.mark.parametrize(
    "typo",
    ["7413011203850007", "7413011230850001", "741301120385001", "74130112038500011"],
    ids=["digit", "swap", "dropped", "added"],
)
def test_a_nik_typo_and_the_proved_nik_meet_in_the_index_whichever_came_first(model, typo):
    suspect = {"nik": typo}  # no birth date of its own: nothing proves it
    assert finds(model, suspect, PROVED) and finds(model, PROVED, suspect)


def test_two_suspect_niks_one_digit_apart_meet_in_the_index(model):
    assert finds(model, {"nik": NIK}, {"nik": "7413011203850007"})


def test_two_proved_niks_one_digit_apart_do_not_meet_by_their_nik(model):
    # Born the same day in one district, numbered 0001 and 0002 by the registry: two people,
    # and the model never links two proved NIKs (their birth date still makes them candidates).
    other = {"nik": "7413011203850002", "birth_date": BORN}
    assert model.prepare(rec(**other)).nik_proof and model.prepare(rec(**PROVED)).nik_proof
    assert not finds(model, other, PROVED) and not finds(model, PROVED, other)
    # EM still estimates on every key the two share (blocking_keys)
    assert {k for k in keys(model, **PROVED) & keys(model, **other) if k.startswith("nikd:")}


def test_a_proved_nik_is_looked_up_under_its_deletions_but_not_indexed_under_them(model):
    kept, probes = model.index_keys(rec(**PROVED))
    assert not [k for k in kept if k.startswith("nikd:")]
    assert {k for k in probes if k.startswith("nikd:")} == {
        "nikd:" + NIK[:i] + NIK[i + 1 :] for i in range(16)
    }
    assert set(model.blocking_keys(rec(**PROVED))) == set(kept) | set(probes)


def test_different_niks_share_no_nik_key(model):
    assert not keys(model, nik=NIK) & keys(model, nik="7471054508920003")


def test_kk_typed_as_nik_shares_the_family_key(model):
    assert keys(model, nik=KK) & keys(model, kk_number=KK)


def test_name_variants_share_a_key(model):
    a = keys(model, name="Hj. Wa Ode Siti Nurhayati", birth_date=BORN)
    b = keys(model, name="NOERHAJATI", birth_date=dt.date(1985, 12, 3))
    assert a & b


def test_two_niks_each_right_for_their_record_conflict(model):
    namesake = model.prepare(registry(nik="7413015203850002"))
    assert model.conflict(namesake, model.prepare(registry()))
    assert not model.conflict(model.prepare(rec(name="SITI")), model.prepare(registry()))


def test_a_typo_in_every_name_word_still_shares_the_birth_date_key(model):
    typo = keys(model, name="KIINDRA", birth_date=BORN)
    assert keys(model, name="KIANDRA", birth_date=BORN) & typo


def test_score_with_a_floor_drops_two_niks_each_right_for_their_record(model):
    # A sister born a year later in one district: NIKs one digit apart, each right.
    a = model.prepare(registry())
    b = model.prepare(registry(nik="7413015203860001", birth_date=dt.date(1986, 3, 12)))
    assert model.score(a, b) > -float("inf")
    assert model.score(a, b, model.review_weight) == float("-inf")
    same = model.prepare(registry(nik="7413015203850001"))
    assert model.score(a, same, model.review_weight) == model.score(a, same)


def test_scores_of_many_candidates_are_their_scores_one_by_one(model):
    # The resolver's batch: pairs that end at their NIK (a sister's NIK right for her, a NIK
    # of another district and date) and pairs scored in full, in the candidates' order.
    a = model.prepare(registry())
    others = [model.prepare(r) for r in (
        registry(nik="7413015203860001", birth_date=dt.date(1986, 3, 12)),
        registry(),
        rec(name="Siti Nurhayati", nik=NIK),
        rec(name="BUDI SANTOSO", nik="3201011708900003", birth_date=dt.date(1990, 8, 17)),
        rec(name="SITI NURHAYATI", birth_date=BORN),
        registry(nik="7413015203580001"),
        rec(),
    )]  # fmt: skip
    floor = model.review_weight
    got = model.scores(a, others, floor)
    assert got == [model.score(a, b, floor) for b in others]
    assert got[0] == got[3] == -math.inf and got[1] > model.link_weight
    assert model.scores(a, [], floor) == []


def test_the_registry_s_old_move_record_stays_linked_after_a_second_move(model):
    # The biodata after a family's move (new kecamatan, new KK) against the registry's own
    # PINDAH_DATANG row of an earlier move: only the NIK and the old area. The issuer never
    # gives a NIK twice, so where the resident lived says nothing against them.
    moved = registry(kecamatan="02", kelurahan="2001", kk_number="7413022006260002")
    old_move = rec("siak", nik="7413015203850001", kecamatan="01", kelurahan="2003")
    moved, old_move = (replace(r, source="disdukcapil") for r in (moved, old_move))
    assert levels(model, old_move, moved)["area"] == "else"
    assert model.compare(old_move, moved).weight >= model.link_weight
    a, b = model.prepare(old_move), model.prepare(moved)
    assert model.score(a, b, model.review_weight) == model.compare(old_move, moved).weight
    # Another agency's record with that NIK and the old area: the area still counts.
    clinic = replace(old_move, source="dinkes")
    assert model.compare(clinic, moved).weight < model.compare(old_move, moved).weight
    weights = {c.field: c.weight for c in model.compare(clinic, moved).comparisons}
    assert weights["area"] < 0


def test_nik_with_two_year_digits_swapped_and_a_date_typo_links(model):
    # 85 typed 58 in the NIK, and the 12th written the 13th: a NIK transposition that no
    # NIK-encoded date can vouch for. It weighs as one typed digit does (compare.TIED), not 0.
    permits = rec("permits", name="SITI NURHAYATI", birth_date=dt.date(1985, 3, 13), sex="P",
                  nik="7413015203580001")  # fmt: skip
    assert levels(model, permits, registry())["nik"] == "transposition"
    nik = model.to_dict()["fields"]["nik"]
    weights = {c.field: c.weight for c in model.compare(permits, registry()).comparisons}
    assert nik["transposition"] == nik["one_edit"]
    assert weights["nik"] == pytest.approx(nik["one_edit"]["weight"], abs=1e-3)
    assert weights["nik"] > 10
    assert model.compare(permits, registry()).weight >= model.link_weight


def test_hamlet_in_arabic_numerals_with_rt_rw_is_the_same_address(model):
    health = rec("puskesmas", name="SITI NURHAYATI", address="Dsn. 2 RT 006/RW 002")
    assert levels(model, health, registry())["address"] == "exact"
    other = rec("puskesmas", name="SITI NURHAYATI", address="DSN. 3 RT 006/RW 002")
    assert levels(model, other, registry())["address"] != "exact"
