"""The NIK check of a person record: VALID, or the status and words of its finding."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.identity import NikCheck, NikStatus, check_person_nik, clean_nik
from domain.nik import Sex

TODAY = dt.date(2025, 8, 18)
WOMAN = "7413014508900001"  # Sawerigadi, 05-08-1990, P (day + 40)
WOMAN_BORN = dt.date(1990, 8, 5)
MAN = "7413030512850002"  # Lawa, 05-12-1985, L


def resolve(nik: object, **kw) -> NikCheck:
    return check_person_nik(nik, today=TODAY, **kw)


def test_a_nik_that_agrees_with_birth_date_and_sex_is_valid() -> None:
    identity = resolve(WOMAN, birth_date=WOMAN_BORN, sex=Sex.P)
    assert identity.status is NikStatus.VALID
    assert identity.valid
    assert identity.nik == WOMAN
    assert identity.detail == ""


def test_a_nik_is_valid_when_the_record_has_no_birth_date_or_sex() -> None:
    identity = resolve(MAN)
    assert (identity.status, identity.nik) == (NikStatus.VALID, MAN)


def test_blanks_around_the_nik_are_not_part_of_it() -> None:
    identity = resolve(f"  {MAN} ")
    assert identity.valid
    assert identity.nik == MAN


@pytest.mark.parametrize("nik", [None, "", "   "])
def test_no_nik_is_missing(nik: object) -> None:
    identity = resolve(nik)
    assert identity.status is NikStatus.MISSING
    assert not identity.valid
    assert identity.nik is None
    assert identity.rule_code == "NIK_MISSING"
    assert identity.detail == "no NIK recorded"


@pytest.mark.parametrize(
    ("nik", "status", "kw"),
    [
        ("741301450890001", NikStatus.MALFORMED, {}),  # 15 digits
        ("74130145089000011", NikStatus.MALFORMED, {}),  # 17 digits
        ("7413O14508900001", NikStatus.MALFORMED, {}),  # a letter O
        ("7499014508900001", NikStatus.UNKNOWN_REGION, {}),  # no regency 74.99
        ("7413013208900001", NikStatus.BAD_DATE, {}),  # day 32
        ("7413014513900001", NikStatus.BAD_DATE, {}),  # month 13
        (WOMAN, NikStatus.DATE_MISMATCH, {"birth_date": dt.date(1990, 8, 6)}),
        (WOMAN, NikStatus.SEX_MISMATCH, {"birth_date": WOMAN_BORN, "sex": Sex.L}),
        (MAN, NikStatus.SEX_MISMATCH, {"sex": Sex.P}),
    ],
)
def test_an_unusable_nik_gets_its_status(nik: str, status: NikStatus, kw: dict) -> None:
    identity = resolve(nik, **kw)
    assert identity.status is status
    assert not identity.valid
    assert identity.nik == nik.strip()
    assert identity.rule_code == f"NIK_{status.value}"
    assert identity.detail  # says what is wrong
    assert nik not in identity.detail  # ... without the value


def test_the_check_repr_carries_no_nik() -> None:
    assert WOMAN not in repr(resolve(WOMAN))
    assert "7413O14508900001" not in repr(resolve("7413O14508900001"))


def test_a_nik_given_as_a_number_is_checked_as_its_digits() -> None:
    identity = resolve(int(MAN))
    assert (identity.status, identity.nik) == (NikStatus.VALID, MAN)


def test_the_century_comes_from_the_recorded_birth_date() -> None:
    # "25" could be 1925 or 2025: the recorded birth date decides.
    nik = "7413010101250001"
    assert resolve(nik, birth_date=dt.date(1925, 1, 1)).valid
    assert resolve(nik, birth_date=dt.date(2025, 1, 1)).valid


@pytest.mark.parametrize(("raw", "clean"), [(None, None), ("", None), (" 12 ", "12"), (12, "12")])
def test_clean_nik(raw: object, clean: str | None) -> None:
    assert clean_nik(raw) == clean
