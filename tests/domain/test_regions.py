"""The Kemendagri region table (domain/data/*.csv) behind the NIK and KK region check."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

import domain.regions as regions
from domain.nik import IdStatus, check_kk, check_nik
from domain.regions import (
    MUNA_BARAT_DISTRICTS,
    PROVINCES,
    REGENCIES_74,
    districts,
    is_known_region,
    lookup_region,
    provinces,
    regencies,
)

TODAY = dt.date(2026, 5, 4)


def nik(region: str) -> str:
    """A NIK from `region`, born 7 March 1993, male, serial 0001."""
    return region + "070393" + "0001"


# --- the table as a whole -----------------------------------------------------------------


def test_38_provinces_with_papua_split():
    assert len(PROVINCES) == 38
    assert PROVINCES["91"] == "Papua" and PROVINCES["92"] == "Papua Barat"
    assert [PROVINCES[c] for c in ("93", "94", "95", "96")] == [
        "Papua Selatan",
        "Papua Tengah",
        "Papua Pegunungan",
        "Papua Barat Daya",
    ]


def test_the_2025_list_has_every_regency_and_district():
    # Kepmendagri 300.2.2-2138/2025: 514 regencies and kota, 7,285 districts.
    assert sum(len(regencies(p)) for p in provinces()) == 514
    assert sum(len(districts(p + r)) for p in provinces() for r in regencies(p)) == 7285


def test_sulawesi_tenggara_regencies():
    assert len(REGENCIES_74) == 17
    assert REGENCIES_74["13"] == "Kabupaten Muna Barat"
    assert REGENCIES_74["71"] == "Kota Kendari"
    # Kemendagri numbering, not BPS's (where Buton is 7401 and Kolaka 7404).
    assert REGENCIES_74["01"] == "Kabupaten Kolaka" and REGENCIES_74["04"] == "Kabupaten Buton"


def test_muna_barat_districts_agree_with_the_design_notes():
    assert MUNA_BARAT_DISTRICTS == {
        "01": "Sawerigadi",
        "02": "Barangka",
        "03": "Lawa",
        "04": "Wadaga",
        "05": "Tiworo Selatan",
        "06": "Maginti",
        "07": "Tiworo Tengah",
        "08": "Tiworo Utara",
        "09": "Tiworo Kepulauan",
        "10": "Kusambi",
        "11": "Napano Kusambi",
    }


def test_the_file_sits_beside_the_module_and_is_read_once():
    assert regions.CURRENT_FILE == Path(regions.__file__).parent / "data" / "wilayah.csv"
    assert regions.CURRENT_FILE.is_file() and regions.RETIRED_FILE.is_file()
    assert regions._table() is regions._table()


def test_the_lists_are_copies():
    regencies("74").clear()
    assert len(regencies("74")) == 17


def test_unknown_module_attribute():
    with pytest.raises(AttributeError, match="REGENCIES_75"):
        _ = regions.REGENCIES_75


# --- real districts all over Indonesia ----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "names"),
    [
        ("110101", ("Aceh", "Kabupaten Aceh Selatan", "Bakongan")),
        ("117101", ("Aceh", "Kota Banda Aceh", "Baiturrahman")),
        ("317101", ("Daerah Khusus Ibukota Jakarta", "Kota Administrasi Jakarta Pusat", "Gambir")),
        ("320101", ("Jawa Barat", "Kabupaten Bogor", "Cibinong")),
        ("327302", ("Jawa Barat", "Kota Bandung", "Coblong")),
        ("510305", ("Bali", "Kabupaten Badung", "Kuta Selatan")),
        ("517101", ("Bali", "Kota Denpasar", "Denpasar Selatan")),
        ("740316", ("Sulawesi Tenggara", "Kabupaten Muna", "Katobu")),
        ("910301", ("Papua", "Kabupaten Jayapura", "Sentani")),
        ("930101", ("Papua Selatan", "Kabupaten Merauke", "Merauke")),
        ("940101", ("Papua Tengah", "Kabupaten Nabire", "Nabire")),
        ("950101", ("Papua Pegunungan", "Kabupaten Jayawijaya", "Wamena")),
        ("960101", ("Papua Barat Daya", "Kabupaten Sorong", "Makbon")),
    ],
)
def test_a_real_district_is_known_with_its_names(code, names):
    region = lookup_region(code)
    assert (region.province_name, region.regency_name, region.district_name) == names
    assert not region.retired
    assert check_nik(nik(code), today=TODAY).ok
    assert check_kk(code + "1234567890").ok


@pytest.mark.parametrize(
    "code",
    [
        "117601",  # Aceh's kota end at 75
        "320199",  # Kabupaten Bogor has 40 districts
        "327331",  # Kota Bandung has 30
        "517105",  # Kota Denpasar has 4
        "940901",  # Papua Tengah has 8 regencies
        "950141",  # Jayawijaya has 40 districts
        "920201",  # Manokwari's districts start at 03
        "970101",  # no province 97
        "210000",
    ],
)
def test_a_district_that_does_not_exist_is_flagged(code):
    assert lookup_region(code) is None
    check = check_nik(nik(code), today=TODAY)
    assert check.status is IdStatus.UNKNOWN_REGION
    assert check.findings == (IdStatus.UNKNOWN_REGION,)  # the date part is still fine
    assert check_kk(code + "1234567890").status is IdStatus.UNKNOWN_REGION


# --- the 2022 Papua split -----------------------------------------------------------------


def test_a_pre_split_papua_code_stays_valid():
    old, new = lookup_region("910101"), lookup_region("930101")
    assert (old.province_name, old.regency_name, old.district_name) == (
        "Papua",
        "Kabupaten Merauke",
        "Merauke",
    )
    assert old.retired and not new.retired
    assert check_nik(nik("910101"), today=TODAY).ok and check_nik(nik("930101"), today=TODAY).ok
    assert "01" not in regencies("91")  # the list in force no longer has it


def test_a_district_renumbered_by_the_split_is_known_under_both_codes():
    # Taelarek was 91.02.46 in Jayawijaya (Papua) and is 95.01.18 in Papua Pegunungan.
    assert lookup_region("910246").district_name == lookup_region("950118").district_name
    assert lookup_region("950146") is None  # the old district number under the new regency


def test_only_the_regencies_moved_by_the_split_are_retired():
    with regions.RETIRED_FILE.open(newline="", encoding="utf-8") as f:
        retired = [row["code"] for row in csv.DictReader(f)]
    assert {code[:2] for code in retired} == {"91", "92"}
    assert sum(len(c) == 5 for c in retired) == 26 and sum(len(c) == 8 for c in retired) == 588
    assert all(lookup_region(c.replace(".", "")).retired for c in retired if len(c) == 8)
    kept = {f"{p}.{r}" for p in ("91", "92") for r in regencies(p)}
    assert len(kept) == 16 and not kept & {c[:5] for c in retired}  # whole regencies moved


# --- lookups ------------------------------------------------------------------------------


def test_lookup_region():
    region = lookup_region("74.13.03")
    assert region.code == "741303" and region.dotted == "74.13.03"
    assert (region.province_name, region.regency_name, region.district_name) == (
        "Sulawesi Tenggara",
        "Kabupaten Muna Barat",
        "Lawa",
    )
    assert lookup_region("737101").regency_name == "Kota Makassar"  # every regency is named
    assert lookup_region("741312") is None
    assert lookup_region("7413") is None


def test_is_known_region_rejects_non_digits():
    assert not is_known_region("7a", "13", "01")
    assert not is_known_region("74", "1", "01")
    assert not is_known_region("74", "1", "301")  # would spell 741301 when glued together
    assert not is_known_region("٧٤", "13", "01")  # Arabic-Indic digits
