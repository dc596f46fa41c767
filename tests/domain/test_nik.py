"""NIK / KK / NIB / NPWP checks (the region table behind them: test_regions.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.nik import (
    IdStatus,
    NikStatus,
    Sex,
    check_kk,
    check_nib,
    check_nik,
    check_npwp,
    mask_nik,
    parse_nik,
    parse_sex,
)
from domain.regions import MUNA_BARAT_DISTRICTS

TODAY = dt.date(2026, 5, 4)
MAN = "7413030703930001"  # Lawa, born 7 March 1993, male
WOMAN = "7413014711880002"  # Sawerigadi, born 7 November 1988, female (07 + 40)


def nik(region: str = "741303", ddmmyy: str = "070393", serial: str = "0001") -> str:
    return region + ddmmyy + serial


# --- well-formed NIKs ---------------------------------------------------------------------


def test_valid_male_nik_gives_its_parts():
    check = check_nik(MAN, dt.date(1993, 3, 7), "L", today=TODAY)
    assert check.status is IdStatus.VALID and check.ok
    assert check.findings == ()
    assert (check.province, check.regency, check.district) == ("74", "13", "03")
    assert check.birth_date == dt.date(1993, 3, 7)
    assert check.sex is Sex.L
    assert check.serial == "0001"


def test_valid_female_nik_day_plus_40():
    check = check_nik(WOMAN, dt.date(1988, 11, 7), Sex.P, today=TODAY)
    assert check.status is IdStatus.VALID
    assert check.sex is Sex.P
    assert check.birth_date == dt.date(1988, 11, 7)


def test_without_recorded_data_only_the_nik_itself_is_checked():
    assert check_nik(MAN, today=TODAY).status is IdStatus.VALID


def test_status_values_are_the_documented_names():
    assert NikStatus is IdStatus
    assert [s.value for s in IdStatus] == [
        "VALID",
        "MALFORMED",
        "UNKNOWN_REGION",
        "BAD_DATE",
        "DATE_MISMATCH",
        "SEX_MISMATCH",
    ]


def test_surrounding_whitespace_is_ignored():
    assert check_nik(f" {MAN}\n", today=TODAY).ok


@pytest.mark.parametrize(("dd", "day"), [("01", 1), ("31", 31), ("41", 1), ("71", 31)])
def test_day_range_limits(dd, day):
    check = check_nik(nik(ddmmyy=f"{dd}0193"), today=TODAY)
    assert check.ok
    assert check.birth_date == dt.date(1993, 1, day)
    assert check.sex is (Sex.L if int(dd) <= 31 else Sex.P)


# --- MALFORMED ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        MAN[:-1],  # 15 digits: a digit left out
        MAN + "1",  # 17 digits
        "",
        "74130307O3930001",  # letter O for zero
        "7413-0307-9300-01",
        "7413030703 30001",
        "٧٤١٣٠٣٠٧٠٣٩٣٠٠٠١",  # Arabic-Indic digits: isdigit() but not a NIK
    ],
)
def test_malformed(value):
    check = check_nik(value, today=TODAY)
    assert check.status is IdStatus.MALFORMED
    assert check.findings == (IdStatus.MALFORMED,)
    assert check.birth_date is None and check.province is None


@pytest.mark.parametrize("value", [None, 7413030703930001, b"7413030703930001"])
def test_non_text_is_malformed_not_an_error(value):
    assert check_nik(value, today=TODAY).status is IdStatus.MALFORMED


def test_malformed_detail_names_the_length_not_the_value():
    check = check_nik(MAN[:-1], today=TODAY)
    assert "15" in check.detail
    assert MAN[:-1] not in check.detail


# --- UNKNOWN_REGION -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "region",
    [
        "991303",  # no province 99
        "001303",
        "201303",  # 20 was never assigned
        "977101",  # no 97: Papua's provinces are 91-96
        "741603",  # Sulawesi Tenggara has no regency 16
        "747303",  # ... nor a third kota
        "741312",  # Muna Barat has 11 districts
        "741300",
        "730000",  # regency 00 is the province itself
        "737100",  # district 00 is the regency itself
        "317199",  # Jakarta Pusat has 8 districts
        "960199",  # Kabupaten Sorong (Papua Barat Daya) has 30
        "923399",  # Papua Barat has no regency 33
        "117601",  # Aceh's kota end at 75
    ],
)
def test_unknown_region(region):
    check = check_nik(nik(region), today=TODAY)
    assert check.status is IdStatus.UNKNOWN_REGION
    assert check.birth_date == dt.date(1993, 3, 7)  # the other parts are still decoded


@pytest.mark.parametrize(
    "region",
    [
        "740316",  # Katobu, Kabupaten Muna
        "747105",  # Kendari Barat, Kota Kendari
        "317101",  # Gambir, Jakarta Pusat
        "110101",  # Bakongan, Aceh Selatan
        "960130",  # Sayosa Timur, Kabupaten Sorong (Papua Barat Daya)
        "910101",  # Merauke under its pre-2022 code (Papua) ...
        "930101",  # ... and under its code in Papua Selatan
    ],
)
def test_real_districts_elsewhere_are_accepted(region):
    assert check_nik(nik(region), today=TODAY).ok


def test_every_muna_barat_district_is_known():
    for code in MUNA_BARAT_DISTRICTS:
        assert check_nik(nik(f"7413{code}"), today=TODAY).ok


# --- BAD_DATE -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ddmmyy",
    [
        "000393",  # day 0
        "320393",  # day 32
        "400393",  # 32-40 is neither a man's nor a woman's day
        "720393",  # beyond 31 + 40
        "070093",  # month 0
        "071393",  # month 13
        "310493",  # 31 April
        "300293",  # 30 February
        "290201",  # 29 February of a common year in both centuries
        "690201",  # ... for a woman
    ],
)
def test_bad_date(ddmmyy):
    check = check_nik(nik(ddmmyy=ddmmyy), today=TODAY)
    assert check.status is IdStatus.BAD_DATE
    assert check.birth_date is None


def test_leap_day_is_a_date():
    assert check_nik(nik(ddmmyy="290200"), today=TODAY).birth_date == dt.date(2000, 2, 29)
    assert check_nik(nik(ddmmyy="690296"), today=TODAY).birth_date == dt.date(1996, 2, 29)


# --- century inference --------------------------------------------------------------------


def test_two_digit_year_takes_the_latest_century_not_in_the_future():
    assert check_nik(nik(ddmmyy="010125"), today=TODAY).birth_date == dt.date(2025, 1, 1)
    assert check_nik(nik(ddmmyy="010130"), today=TODAY).birth_date == dt.date(1930, 1, 1)


def test_born_today_is_this_century_and_tomorrow_the_last():
    assert check_nik(nik(ddmmyy="040526"), today=TODAY).birth_date == dt.date(2026, 5, 4)
    assert check_nik(nik(ddmmyy="050526"), today=TODAY).birth_date == dt.date(1926, 5, 5)


def test_recorded_birth_date_decides_the_century():
    old = check_nik(nik(ddmmyy="010125"), dt.date(1925, 1, 1), today=TODAY)
    assert old.ok and old.birth_date == dt.date(1925, 1, 1)


def test_default_today_is_the_current_date():
    assert parse_nik(nik(ddmmyy="010100")).birth_date == dt.date(2000, 1, 1)


# --- DATE_MISMATCH / SEX_MISMATCH ---------------------------------------------------------


def test_date_mismatch_reports_the_date_the_nik_says():
    check = check_nik(MAN, dt.date(1993, 3, 8), today=TODAY)
    assert check.status is IdStatus.DATE_MISMATCH
    assert check.birth_date == dt.date(1993, 3, 7)


def test_year_mismatch_is_a_date_mismatch():
    check = check_nik(MAN, dt.date(1994, 3, 7), today=TODAY)
    assert check.status is IdStatus.DATE_MISMATCH


def test_sex_mismatch():
    check = check_nik(MAN, dt.date(1993, 3, 7), "P", today=TODAY)
    assert check.status is IdStatus.SEX_MISMATCH
    assert check.sex is Sex.L


def test_all_findings_are_listed_first_one_is_the_status():
    check = check_nik(nik("741399"), dt.date(1993, 3, 8), 2, today=TODAY)
    assert check.status is IdStatus.UNKNOWN_REGION
    assert check.findings == (
        IdStatus.UNKNOWN_REGION,
        IdStatus.DATE_MISMATCH,
        IdStatus.SEX_MISMATCH,
    )


def test_bad_date_and_unknown_region_together():
    check = check_nik(nik("991303", "320393"), today=TODAY)
    assert check.findings == (IdStatus.UNKNOWN_REGION, IdStatus.BAD_DATE)


@pytest.mark.parametrize(
    ("code", "sex"),
    [
        ("L", Sex.L),
        ("l", Sex.L),
        ("LAKI-LAKI", Sex.L),
        (1, Sex.L),
        ("1", Sex.L),
        (Sex.L, Sex.L),
        ("P", Sex.P),
        ("Perempuan", Sex.P),
        (2, Sex.P),
        (" 2 ", Sex.P),
    ],
)
def test_parse_sex_codes(code, sex):
    assert parse_sex(code) is sex


@pytest.mark.parametrize("code", ["X", 3, 0, True, None, 1.0, ""])
def test_parse_sex_unknown_is_none(code):
    assert parse_sex(code) is None


def test_unrecognised_sex_code_is_a_caller_error():
    with pytest.raises(ValueError, match="sex code"):
        check_nik(MAN, sex=3, today=TODAY)


def test_sex_siak_codes():
    assert (Sex.L.siak_code, Sex.P.siak_code) == (1, 2)


# --- never leak the value -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "birth", "sex"),
    [
        (MAN, dt.date(1993, 3, 8), "P"),
        (MAN[:-1], None, None),
        (nik("991303", "320393"), None, None),
    ],
)
def test_results_never_contain_the_nik(value, birth, sex):
    check = check_nik(value, birth, sex, today=TODAY)
    assert value not in check.detail
    assert value not in repr(check)


def test_nik_info_repr_hides_the_nik():
    info = parse_nik(MAN, today=TODAY)
    assert MAN not in repr(info)
    assert info.masked == "741303**********"


# --- parse_nik ----------------------------------------------------------------------------


def test_parse_nik_parts_and_region():
    info = parse_nik(WOMAN, today=TODAY)
    assert (info.province, info.regency, info.district, info.serial) == ("74", "13", "01", "0002")
    assert info.birth_date == dt.date(1988, 11, 7) and info.sex is Sex.P
    assert info.region_code == "741301"
    assert info.region.district_name == "Sawerigadi"


def test_parse_nik_does_not_judge_the_region():
    info = parse_nik(nik("991303"), today=TODAY)
    assert info is not None and info.region is None


@pytest.mark.parametrize("value", [MAN[:-1], nik(ddmmyy="320393"), None, "abc"])
def test_parse_nik_none_for_malformed_or_bad_date(value):
    assert parse_nik(value, today=TODAY) is None


# --- mask_nik -----------------------------------------------------------------------------


def test_mask_keeps_only_the_region():
    assert mask_nik(MAN) == "741303**********"


def test_a_masked_nik_leaves_the_whole_serial_unknown_beside_birth_date_and_sex():
    # The officer's screen shows birth date, sex and kecamatan: every digit but the serial. No
    # digit of the serial may show, or the guess shrinks from 10,000 candidates.
    shown = mask_nik(MAN)
    serial = parse_nik(MAN, today=TODAY).serial
    assert shown[12:] == "****" and serial not in shown[6:]
    assert shown.count("*") == 10


def test_mask_of_malformed_values():
    assert mask_nik(MAN[:-1]) == "741303*********"
    assert mask_nik(" 7413030703930001 ") == "741303**********"
    assert mask_nik("12345") == "*****"
    assert mask_nik("") == ""
    assert mask_nik(None) == ""


# --- No. KK, NIB, NPWP --------------------------------------------------------------------


def test_check_kk():
    assert check_kk("7413030402190001").ok
    assert check_kk("7413030402190001").normalized == "7413030402190001"
    assert check_kk("741303040219001").status is IdStatus.MALFORMED
    assert check_kk("7413990402190001").status is IdStatus.UNKNOWN_REGION
    assert check_kk(None).status is IdStatus.MALFORMED


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("9120001234567", IdStatus.VALID),
        (" 9120001234567 ", IdStatus.VALID),
        ("912000123456", IdStatus.MALFORMED),
        ("91200012345678", IdStatus.MALFORMED),
        ("91200012345A7", IdStatus.MALFORMED),
        (9120001234567, IdStatus.MALFORMED),
    ],
)
def test_check_nib(value, status):
    assert check_nib(value).status is status


@pytest.mark.parametrize(
    ("value", "status", "normalized"),
    [
        ("012345678901000", IdStatus.VALID, "012345678901000"),
        ("01.234.567.8-901.000", IdStatus.VALID, "012345678901000"),
        ("0012345678901000", IdStatus.VALID, "0012345678901000"),
        (MAN, IdStatus.VALID, MAN),  # a resident's NIK serves as NPWP
        ("01234567890100", IdStatus.MALFORMED, None),
        ("01.234.567.8-901.00X", IdStatus.MALFORMED, None),
        (None, IdStatus.MALFORMED, None),
    ],
)
def test_check_npwp(value, status, normalized):
    check = check_npwp(value)
    assert check.status is status
    assert check.normalized == normalized


def test_id_check_repr_hides_the_number():
    assert "012345678901000" not in repr(check_npwp("012345678901000"))


def test_numbers_of_twelve_digits_or_more_are_masked_inside_text() -> None:
    from domain.nik import mask_numbers_in

    text = "2026-11-02 08:00:00|7413014508900001 kk 7413010101100001 rt 12345678901"
    assert mask_numbers_in(text) == (
        "2026-11-02 08:00:00|741301********** kk 741301********** rt 12345678901"
    )


def test_numbers_of_twelve_digits_or_more_are_redacted_whole_for_logs() -> None:
    from domain.nik import redact_numbers_in

    text = "cursor 2026-11-02 08:00:00|7413014508900001 rt 12345678901"
    assert redact_numbers_in(text) == "cursor 2026-11-02 08:00:00|<redacted> rt 12345678901"
