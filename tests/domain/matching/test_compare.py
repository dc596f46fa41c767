"""Comparison levels per field; level 0 ('missing') wherever either side has no value."""

import datetime as dt

from domain.matching.compare import (
    LEVELS,
    address_level,
    area_level,
    birth_date_level,
    kk_level,
    levels,
    name_level,
    nik_level,
    phone_level,
    prefix_level,
)
from domain.matching.prepared import prepare
from domain.matching.record import PersonRecord

BORN = dt.date(1985, 3, 12)
NIK = "7413011203850001"  # Muna Barat, born 12-03-85, male, serial 0001
KK = "7413012005100003"


def rec(record_id: str = "r", **fields: object) -> PersonRecord:
    return PersonRecord(record_id, **fields)  # type: ignore[arg-type]


def level(fn, field: str, a: PersonRecord, b: PersonRecord) -> str:
    return LEVELS[field][fn(prepare(a), prepare(b))]


def name(a: str, b: str) -> str:
    return level(name_level, "name", rec(name=a), rec(name=b))


def test_name_with_hajjah_and_wa_ode_moved_is_exact():
    assert name("HJ. WA ODE SITI", "Siti Wa Ode") == "exact"


def test_name_old_and_new_spelling_is_exact():
    assert name("Soeharto", "Suharto") == "exact"
    assert name("Djoko", "Joko") == "exact"


def test_name_moh_is_muhammad():
    assert name("Moh. Ali", "Muhammad Ali") == "exact"


def test_name_titles_do_not_count():
    assert name("Drs. H. Ahmad Yani, S.H.", "AHMAD YANI") == "exact"


def test_name_word_order_and_spelling_variants_are_tokens():
    assert name("ALI MUHAMMAD", "Muhammad Ali") == "tokens"
    assert name("Jusuf Hamzah", "YUSUF HAMZA") == "tokens"


def test_name_one_letter_typos_are_jw95_or_one_edit():
    assert name("Nurhayati", "Nurhayatie") == "jw95"
    assert name("Hasrudin", "Hasrudim") == "jw95"
    # Short names, which Jaro-Winkler rates low for one typo: a level of their own.
    assert name("DONO", "DORO") == "one_edit"
    assert name("VIMAN", "VIMAD") == "one_edit"
    assert name("RAHMI", "RAMHI") == "one_edit"  # two letters swapped
    assert name("SITI AMINAH", "SITI AMINAT") != "one_edit"  # jw95 already


def test_name_missing_word_is_subset():
    assert name("SITI", "SITI AMINAH") == "subset"


def test_name_initial_is_compatible():
    assert name("A. RAHMAN", "ABDUL RAHMAN") == "initials"


def test_different_names_are_else():
    assert name("HASNIA", "SALMA") == "else"


def test_prefix_la_against_a_woman_is_a_sex_conflict():
    a, b = rec(name="LA SITI", sex="L"), rec(name="SITI", sex="P")
    assert level(prefix_level, "prefix", a, b) == "sex_conflict"


def test_prefix_wa_against_wa_ode_differs_in_ode():
    a, b = rec(name="WA SITI", sex="P"), rec(name="WA ODE SITI", sex="P")
    assert level(prefix_level, "prefix", a, b) == "ode_differs"


def dob(a: dt.date, b: dt.date) -> str:
    return level(birth_date_level, "birth_date", rec(birth_date=a), rec(birth_date=b))


def test_birth_date_day_and_month_swapped():
    assert dob(dt.date(1985, 3, 12), dt.date(1985, 12, 3)) == "swapped"


def test_birth_date_one_day_or_one_digit_off_is_near():
    assert dob(dt.date(1985, 3, 31), dt.date(1985, 4, 1)) == "near"
    assert dob(dt.date(1985, 3, 12), dt.date(1986, 3, 12)) == "near"


def test_birth_date_same_year_and_else():
    assert dob(dt.date(1985, 3, 12), dt.date(1985, 7, 25)) == "year"
    assert dob(dt.date(1985, 3, 12), dt.date(1990, 7, 25)) == "else"


def nik(a: PersonRecord, b: PersonRecord) -> str:
    return level(nik_level, "nik", a, b)


def test_nik_exact():
    assert nik(rec(nik=NIK, birth_date=BORN), rec(nik=NIK)) == "exact"


def test_nik_typo_in_date_digits_is_near_dob():
    # The typo'd NIK says born 13-03-85; its own record says 12-03: the typo is provably there.
    typo = "7413011303850001"
    a = rec(nik=typo, birth_date=BORN, sex="L")
    b = rec(nik=NIK, birth_date=BORN, sex="L")
    assert nik(a, b) == "near_dob"


def test_nik_typo_without_birth_dates_is_one_edit():
    assert nik(rec(nik="7413011303850001"), rec(nik=NIK)) == "one_edit"


def test_nik_adjacent_transposition():
    assert nik(rec(nik="7413011208350001"), rec(nik=NIK)) == "transposition"


def test_nik_typo_in_the_serial_with_birth_dates_is_serial_same_date():
    a, b = rec(nik="7413011203850007", birth_date=BORN), rec(nik=NIK, birth_date=BORN)
    assert nik(a, b) == "serial_same_date"


def test_nik_typo_in_the_serial_is_serial_same_date():
    assert nik(rec(nik="7413011203850007"), rec(nik=NIK)) == "serial_same_date"


def test_nik_typo_in_the_district_on_one_date_is_near_same_date():
    assert nik(rec(nik="7413021203850001"), rec(nik=NIK)) == "near_same_date"


def test_nik_typo_to_an_impossible_serial_is_near_dob():
    # Serial 0601 would be the 601st person born that day in the district: a typo.
    a, b = rec(nik="7413011203850601", birth_date=BORN), rec(nik=NIK, birth_date=BORN)
    assert nik(a, b) == "near_dob"


def test_nik_consecutive_serials_are_next_serial():
    # Two people born the same day in one district, or a typo: the NIK cannot tell.
    assert nik(rec(nik="7413011203850002"), rec(nik=NIK)) == "next_serial"


def test_nik_one_digit_apart_but_each_agrees_with_its_own_birth_date_is_else():
    # Siblings born 1985 and 1986 in one district: NIKs one digit apart, both right.
    a = rec(nik=NIK, birth_date=BORN, sex="L")
    b = rec(nik="7413011203860001", birth_date=dt.date(1986, 3, 12), sex="L")
    assert nik(a, b) == "else"


def test_consecutive_serials_each_right_for_their_record_stay_next_serial():
    # Namesakes born the same day in one district, or the neighbouring key typed for the last
    # digit: both right for their records, so only a supervisor tells them apart (never 'else',
    # which would send a typo nowhere).
    a = rec(nik=NIK, birth_date=BORN, sex="L")
    b = rec(nik="7413011203850002", birth_date=BORN, sex="L")
    assert nik(a, b) == "next_serial"


def test_a_nik_one_digit_off_in_its_date_part_between_dated_records_is_date_digit():
    # ALIKA born the 27th (her NIK says so) against a record born the 29th whose NIK says the
    # 28th: the dates are weighed by birth_date, the NIKs add only district and serial.
    alika = rec(nik="7413115710870001", birth_date=dt.date(1987, 10, 17), sex="P")
    other = rec(nik="7413115810870001", birth_date=dt.date(1987, 10, 19), sex="P")
    assert nik(alika, other) == "date_digit"
    undated = rec(nik="7413115810870001", sex="P")  # its date is the NIK's: near_dob
    assert nik(alika, undated) != "date_digit"


def test_the_month_or_the_year_one_off_is_near():
    assert dob(dt.date(1960, 10, 5), dt.date(1960, 9, 5)) == "near"  # 10 -> 09: two digits
    assert dob(dt.date(1960, 3, 5), dt.date(1959, 3, 5)) == "near"  # 1960 -> 1959
    assert dob(dt.date(1960, 3, 5), dt.date(1958, 3, 5)) == "else"
    assert dob(dt.date(1960, 10, 5), dt.date(1960, 8, 5)) == "year"


def test_a_name_with_two_typing_errors_is_two_edits_not_else():
    assert name("HAMZAH", "HAMFAHH") == "two_edits"
    assert name("KARYA", "KGYA") == "two_edits"
    assert name("SITI AMINAH", "ANDI") == "else"


def test_kk_number_in_the_nik_field_is_no_nik_match():
    a = rec(nik=KK, birth_date=BORN)
    b = rec(nik=NIK, kk_number=KK, birth_date=BORN)
    assert nik(a, b) == "kk_in_nik"
    assert level(kk_level, "kk", a, b) == "exact"


def test_same_kk_number_in_both_nik_fields_is_unverified():
    # Two family members, each with the family's KK typed as NIK: it encodes neither birth date.
    a = rec(nik=KK, birth_date=BORN)
    b = rec(nik=KK, birth_date=dt.date(2010, 6, 1))
    assert nik(a, b) == "exact_unverified"


def test_kk_one_edit():
    a, b = rec(kk_number=KK), rec(kk_number="7413012005100008")
    assert level(kk_level, "kk", a, b) == "one_edit"


def test_phone_prefixes_are_normalised():
    a, b = rec(phone="+62 812-3456-7890"), rec(phone="081234567890")
    assert level(phone_level, "phone", a, b) == "exact"


def test_address_variants_agree_highly():
    a = rec(address="JL. POROS LAWORO NO. 5")
    b = rec(address="Jalan Poros Laworo No 5 RT 002/RW 001")
    assert level(address_level, "address", a, b) in ("exact", "high")


def test_same_village_number_in_another_kecamatan_is_else():
    a, b = rec(kelurahan="2001", kecamatan="01"), rec(kelurahan="2001", kecamatan="02")
    assert level(area_level, "area", a, b) == "else"


def test_missing_fields_are_level_missing():
    assert levels(prepare(rec(name="SITI")), prepare(rec(nik=NIK))) == (0,) * len(LEVELS)


def test_garbage_values_become_missing():
    bad = rec(name=12, birth_date="1985-03-12", sex=object(), nik="123", phone=[1], address=3.5)
    assert levels(prepare(bad), prepare(rec(name="SITI", nik=NIK))) == (0,) * len(LEVELS)


def test_name_typo_in_the_one_word_an_agency_kept_is_close():
    assert name("PUJI KIANDRA", "KIINDRA") == "jw88"
    assert name("JAYA", "JYAA") == "jw88"  # folding would merge the doubled letters
    assert name("PUJI KIANDRA", "RUSDI") == "else"
