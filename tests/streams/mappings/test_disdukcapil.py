"""The Disdukcapil (SIAK) mappings: BIODATA_WNI, PINDAH_DATANG, DATA_KELUARGA."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from streams.canonical import DataQualityFinding, PersonFact
from streams.mappings import MappingError, map_change
from tests.streams.helpers import TS, envelope
from tests.streams.rows import KK, TOKENS, UBAH, WOMAN, assert_encodes, biodata, only, run

# --- BIODATA_WNI ---------------------------------------------------------------------------


def test_biodata_wni_row_is_a_full_person_fact() -> None:
    events = run("BIODATA_WNI", "r", biodata(), position="2025-08-18T09:30:00|1")
    assert events == [
        PersonFact(
            nik_status="VALID",
            agency="disdukcapil",
            source_table="BIODATA_WNI",
            source_record_id=WOMAN,
            op="UPSERT",
            source_position="2025-08-18T09:30:00|1",
            nik=WOMAN,
            name="WA ODE SITTI",
            sex="P",
            birth_date=dt.date(1990, 8, 5),
            birth_place="LAWORO",
            address="DUSUN II",
            kecamatan_code="741301",
            kelurahan_code="7413012001",
            religion="ISLAM",
            marital_status="KAWIN",
            occupation="PETANI/PEKEBUN",
            kk_number=KK,
            deceased=False,
            death_date=None,
            source_ts=TS,
            # A clean record says so: no findings (a correction clears earlier ones).
            quality={"record_ref": "741301**********", "issues": [], "checked_at": TS},
        )
    ]
    # Keyed by normalize, by a token of the source record: never the NIK.
    with pytest.raises(ValueError, match="record_key"):
        events[0].key  # noqa: B018
    assert events[0].keyed(TOKENS).key == TOKENS.record("disdukcapil", "BIODATA_WNI", WOMAN)
    assert_encodes(events)


def test_biodata_wni_malformed_nik_keeps_the_record_with_a_finding() -> None:
    bad = "74130145089001"  # 14 digits
    events = run("BIODATA_WNI", "c", biodata(NIK=bad), position="p-bad")
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.source_record_id == bad and fact.op == "UPSERT"
    assert fact.nik == bad and fact.nik_status == "MALFORMED"
    assert fact.name == "WA ODE SITTI"  # kept, not dropped
    assert finding.rule_code == "NIK_MALFORMED"
    assert finding.severity == "ERROR"
    assert finding.field == "NIK"
    assert finding.agency == "disdukcapil" and finding.table == "BIODATA_WNI"
    assert finding.source_position == "p-bad"
    assert finding.ts == TS
    # No personal data in the finding: the record key (a NIK) is masked.
    assert finding.record_key == "741301********"
    assert bad not in finding.detail + finding.record_key + finding.key
    # The fact states the version's findings, with the same masked reference.
    assert fact.quality == {
        "record_ref": "741301********",
        "issues": [
            {
                "rule_code": "NIK_MALFORMED",
                "field": "NIK",
                "detail": finding.detail,
                "severity": "ERROR",
            }
        ],
        "checked_at": TS,
    }
    assert_encodes(events)


def test_biodata_wni_date_mismatch_is_a_warning() -> None:
    events = run("BIODATA_WNI", "u", biodata(TGL_LHR=dt.date(1990, 8, 6)))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.nik_status == "DATE_MISMATCH"
    assert fact.nik == WOMAN  # kept as recorded: the resolver weighs it
    assert (finding.rule_code, finding.severity) == ("NIK_DATE_MISMATCH", "WARNING")


def test_biodata_wni_sex_mismatch() -> None:
    (fact, finding) = run("BIODATA_WNI", "u", biodata(JENIS_KLMIN=1))
    assert fact.nik_status == "SEX_MISMATCH" and fact.sex == "L"
    assert finding.rule_code == "NIK_SEX_MISMATCH"


def test_biodata_wni_delete_is_a_delete_fact_under_the_nik() -> None:
    # The polling connector's delete carries only the key.
    events = run("BIODATA_WNI", "d", None, before={"NIK": WOMAN}, position="p-del")
    assert events == [
        PersonFact(
            nik_status="VALID",
            agency="disdukcapil",
            source_table="BIODATA_WNI",
            source_record_id=WOMAN,
            op="DELETE",
            source_position="p-del",
            nik=WOMAN,
            source_ts=TS,
        )
    ]
    assert_encodes(events)


def test_a_delete_is_keyed_as_the_upserts_of_its_record_were() -> None:
    row = biodata(TGL_LHR=dt.date(1990, 8, 6))  # date mismatch
    (upsert, _finding) = run("BIODATA_WNI", "c", row)
    (delete,) = run("BIODATA_WNI", "d", None, before=row)
    (key_only,) = run("BIODATA_WNI", "d", None, before={"NIK": WOMAN})
    assert delete.op == key_only.op == "DELETE"
    assert delete.keyed(TOKENS).key == upsert.keyed(TOKENS).key == key_only.keyed(TOKENS).key
    assert delete.nik_status == upsert.nik_status == "DATE_MISMATCH"
    assert delete.name is None  # a delete states nothing about the person


def test_biodata_wni_unknown_codes_are_kept_as_digits() -> None:
    (fact,) = run("BIODATA_WNI", "u", biodata(AGAMA=9, STAT_KWN=None, JENIS_PKRJN=77))
    assert (fact.religion, fact.marital_status, fact.occupation) == ("9", None, "77")


def test_biodata_wni_bad_kk_and_unknown_sex_code_are_findings() -> None:
    events = run("BIODATA_WNI", "u", biodata(NO_KK="12345", JENIS_KLMIN=3))
    (fact,) = only(events, PersonFact)
    assert fact.sex is None and fact.kk_number == "12345"
    assert fact.nik_status == "VALID"  # no recorded sex to disagree with
    rules = {f.rule_code: f for f in only(events, DataQualityFinding)}
    assert set(rules) == {"KK_MALFORMED", "SEX_CODE_UNKNOWN"}
    assert rules["KK_MALFORMED"].field == "NO_KK"
    assert "12345" not in rules["KK_MALFORMED"].detail


def test_biodata_wni_as_text_from_a_file_export_maps_the_same() -> None:
    text_row = {
        k: (v.isoformat() if isinstance(v, dt.date) else str(v)) for k, v in biodata().items()
    }
    text_row["NO_KEC"] = "01"
    change = envelope("BIODATA_WNI", "r", biodata())
    change["after"] = text_row
    (typed,) = run("BIODATA_WNI", "r", biodata())
    (from_text,) = map_change(change, {"NIK": WOMAN})
    assert from_text == typed


def test_biodata_wni_with_other_case_column_names_maps_the_same() -> None:
    change = envelope("BIODATA_WNI", "r", biodata())
    change["after"] = {k.lower(): v for k, v in change["after"].items()}
    (typed,) = run("BIODATA_WNI", "r", biodata())
    assert map_change(change, {"nik": WOMAN}) == [typed]


def test_an_unreadable_date_is_a_mapping_error_naming_the_column_not_the_value() -> None:
    change = envelope("BIODATA_WNI", "r", biodata())
    change["after"]["TGL_LHR"] = "tanggal 5 agustus"
    with pytest.raises(MappingError, match="column TGL_LHR: expected a date") as e:
        map_change(change, {"NIK": WOMAN})
    assert "agustus" not in str(e.value)


def test_full_region_codes_are_kept() -> None:
    change = envelope("BIODATA_WNI", "u", biodata())
    change["after"] |= {"NO_KEC": "741305", "NO_KEL": "7413052003"}  # a text export
    (fact,) = map_change(change, {"NIK": WOMAN})
    assert (fact.kecamatan_code, fact.kelurahan_code) == ("741305", "7413052003")


# --- PINDAH_DATANG, DATA_KELUARGA -----------------------------------------------------------


def pindah(**over: Any) -> dict[str, Any]:
    row = {
        "NO_PINDAH": "741304202508180000001", "NIK": WOMAN, "NO_KK": "7413041808250001",
        "NO_PROP_ASAL": 74, "NO_KAB_ASAL": 13, "NO_KEC_ASAL": 1, "NO_KEL_ASAL": 2001,
        "NO_PROP_TUJUAN": 74, "NO_KAB_TUJUAN": 13, "NO_KEC_TUJUAN": 4, "NO_KEL_TUJUAN": 2003,
        "KLASIFIKASI_PINDAH": 3, "TGL_PINDAH": dt.date(2025, 8, 18), "TGL_UBAH": UBAH,
    }  # fmt: skip
    return row | over


def test_a_move_is_a_partial_fact_with_only_the_new_address() -> None:
    events = run("PINDAH_DATANG", "c", pindah(), position="p-move")
    assert events == [
        PersonFact(
            nik_status="VALID",
            agency="disdukcapil",
            source_table="PINDAH_DATANG",
            source_record_id="741304202508180000001",
            op="UPSERT",
            source_position="p-move",
            nik=WOMAN,
            kecamatan_code="741304",
            kelurahan_code="7413042003",
            source_ts=TS,
            quality={"record_ref": "741304202508180000001", "issues": [], "checked_at": TS},
        )
    ]
    assert_encodes(events)


def test_a_move_from_elsewhere_uses_the_destination_province_and_regency() -> None:
    (fact,) = run(
        "PINDAH_DATANG", "c", pindah(NO_PROP_TUJUAN=73, NO_KAB_TUJUAN=71, NO_KEC_TUJUAN=2)
    )
    assert fact.kecamatan_code == "737102"
    assert fact.kelurahan_code == "7371022003"


def test_a_move_of_a_malformed_nik_is_kept_under_the_move_record() -> None:
    events = run("PINDAH_DATANG", "c", pindah(NIK="7413"))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    move = "741304202508180000001"
    assert fact.keyed(TOKENS).key == TOKENS.record("disdukcapil", "PINDAH_DATANG", move)
    assert (fact.nik, fact.nik_status) == ("7413", "MALFORMED")
    assert finding.record_key == "741304202508180000001"  # a move number, not a NIK


def test_family_cards_map_to_nothing() -> None:
    row = {
        "NO_KK": KK, "NIK_KK": WOMAN, "ALAMAT": "DUSUN II", "NO_RT": "001", "NO_RW": "002",
        "NO_KEC": 1, "NO_KEL": 2001, "TGL_UBAH": UBAH,
    }  # fmt: skip
    assert run("DATA_KELUARGA", "c", row) == []
    assert run("DATA_KELUARGA", "d", None, before={"NO_KK": KK}) == []


# --- CAPIL_MATI (death registrations) -------------------------------------------------------


def mati(**over: Any) -> dict[str, Any]:
    row = {
        "MATI_NO": "741301-KM-18082025-0001", "NIK": WOMAN, "NO_KK": KK,
        "NAMA_LGKP": "WA ODE SITTI", "JENIS_KLMIN": 2, "TGL_LHR": dt.date(1990, 8, 5),
        "TGL_MATI": dt.date(2025, 8, 16), "TMPT_MATI": "RUMAH", "SEBAB_MATI": 1,
        "PLPR_TGL_LAPOR": dt.date(2025, 8, 18), "TGL_UBAH": UBAH,
    }  # fmt: skip
    return row | over


def test_a_death_registration_is_a_fact_of_death_with_its_date() -> None:
    events = run("CAPIL_MATI", "c", mati(), position="p-mati")
    (fact,) = events
    assert isinstance(fact, PersonFact) and fact.op == "UPSERT"
    assert fact.deceased is True and fact.death_date == dt.date(2025, 8, 16)
    assert (fact.nik, fact.nik_status) == (WOMAN, "VALID")
    assert (fact.source_table, fact.source_record_id) == ("CAPIL_MATI", "741301-KM-18082025-0001")
    assert (fact.name, fact.sex, fact.birth_date) == ("WA ODE SITTI", "P", dt.date(1990, 8, 5))
    assert fact.kk_number == KK
    assert_encodes(events)


def test_a_deleted_biodata_row_is_not_a_death() -> None:
    (fact,) = run("BIODATA_WNI", "d", None, before={"NIK": WOMAN})
    assert fact.op == "DELETE"
    assert fact.deceased is None and fact.death_date is None
