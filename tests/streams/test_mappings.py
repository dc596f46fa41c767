"""The per-agency mappings: raw change events (as the connectors publish them) to canonical
events, one behaviour per test, plus every row of the generated sample databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from domain.nik import check_nik, parse_sex
from ops.samples import siak, sicantik
from ops.samples.people import generate_population
from schemas import catalog
from streams.canonical import DataQualityFinding, PermitEvent, PersonFact, ServiceEvent
from streams.mappings import MAPPINGS, MappingError, RawChange, map_change, mapping_for
from tests.streams.helpers import (
    TS,
    decoded_envelope,
    envelope,
    key_of,
    round_trip,
)

WOMAN = "7413014508900001"
KK = "7413010101100001"
UBAH = dt.datetime(2025, 8, 18, 9, 30)


def biodata(**over: Any) -> dict[str, Any]:
    row = {
        "NIK": WOMAN, "NO_KK": KK, "NAMA_LGKP": "WA ODE SITTI", "JENIS_KLMIN": 2,
        "TMPT_LHR": "LAWORO", "TGL_LHR": dt.date(1990, 8, 5), "AGAMA": 1, "STAT_KWN": 2,
        "STAT_HBKEL": 3, "JENIS_PKRJN": 9, "NO_KEC": 1, "NO_KEL": 2001, "ALAMAT": "DUSUN II",
        "TGL_UBAH": UBAH,
    }  # fmt: skip
    return row | over


def pemohon(**over: Any) -> dict[str, Any]:
    row = {
        "id": 42, "n_pemohon": "Wa Ode Sitti", "no_identitas": WOMAN, "tempat_lahir": "Laworo",
        "tgl_lahir": dt.date(1990, 8, 5), "alamat": "DUSUN II, Kec. Sawerigadi",
        "telp": "081234567890", "updated_at": UBAH,
    }  # fmt: skip
    return row | over


def permohonan(**over: Any) -> dict[str, Any]:
    row = {
        "id": 7, "pemohon_id": 42, "perizinan_id": 2, "no_pendaftaran": "REG-20250811-0001",
        "d_terima_berkas": dt.date(2025, 8, 11), "d_berkas_lengkap": dt.date(2025, 8, 12),
        "d_selesai_proses": None, "no_surat": None, "c_izin_selesai": 0, "updated_at": UBAH,
    }  # fmt: skip
    return row | over


def status_log(**over: Any) -> dict[str, Any]:
    row = {
        "id": 1001, "permohonan_id": 7, "c_status": 3, "n_status": "Berkas lengkap",
        "d_status": dt.datetime(2025, 8, 12, 10, 15, 30), "keterangan": None,
    }  # fmt: skip
    return row | over


def perizinan(**over: Any) -> dict[str, Any]:
    row = {
        "id": 2, "n_perizinan": "Surat Izin Praktik Bidan", "c_kode": "SIP_BIDAN", "durasi": 12,
        "n_unit_teknis": "Dinas Kesehatan", "aktif": 1, "updated_at": UBAH,
    }  # fmt: skip
    return row | over


def run(table: str, op: str, row: dict | None, *, before: dict | None = None, **kw) -> list:
    """Map one change after the Avro round trip, as the worker sees it."""
    env = decoded_envelope(table, envelope(table, op, row, before=before, **kw))
    key = key_of(table, row if row is not None else before or {})
    return map_change(env, key)


def only(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def assert_encodes(events: list) -> None:
    """Every event fits its canonical schema (and reads back the same)."""
    for e in events:
        schema = catalog.get(e.schema_name)
        assert e.topic == schema.topic
        assert round_trip(schema.schema, e.record()) == e.record()


# --- the registry --------------------------------------------------------------------------


def test_every_sample_table_has_a_mapping() -> None:
    tables = {(siak.AGENCY, t.name.lower()) for t in siak.TABLES}
    tables |= {(sicantik.AGENCY, t.name.lower()) for t in sicantik.TABLES}
    assert tables <= set(MAPPINGS)


def test_table_names_compare_case_insensitively() -> None:
    assert mapping_for("disdukcapil", "biodata_wni") is mapping_for("disdukcapil", "BIODATA_WNI")
    assert mapping_for("dpmptsp", "BIODATA_WNI") is None


def test_a_table_without_mapping_is_a_mapping_error() -> None:
    env = envelope("BIODATA_WNI", "c", biodata(), agency="bapenda")
    with pytest.raises(MappingError, match="no mapping for table BIODATA_WNI of agency bapenda"):
        map_change(env, {"NIK": WOMAN})


SOURCE = {"agency": "a", "table": "t", "position": "p"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "c", "after": {}}, "no source block"),
        ({"op": "x", "after": {}, "source": SOURCE}, "op"),
        ({"op": "c", "after": None, "source": SOURCE}, "after"),
        ({"op": "c", "after": {}, "source": {"agency": "a", "table": "t"}}, "source.position"),
    ],
)
def test_a_malformed_envelope_is_a_mapping_error(change: dict, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        RawChange.from_envelope(change, None)


def test_raw_change_times_and_record_id() -> None:
    change = RawChange.from_envelope(envelope("tmpemohon", "u", pemohon()), {"id": 42})
    assert change.source_ts == TS
    assert change.ts == TS + dt.timedelta(milliseconds=500)
    assert change.finding_ts == TS
    assert change.record_id() == "42"
    no_key = RawChange.from_envelope(envelope("tmpemohon", "u", pemohon()), None)
    assert no_key.record_id(("id",)) == "42"
    unknown_ts = RawChange.from_envelope(
        envelope("tmpemohon", "u", pemohon(), source_ts_ms=None), None
    )
    assert unknown_ts.source_ts is None
    assert unknown_ts.finding_ts == unknown_ts.ts


def test_composite_keys_are_joined_with_a_bar() -> None:
    change = RawChange.from_envelope(
        envelope("tmpemohon", "u", pemohon()), {"a": 1, "b": " x ", "c": dt.date(2025, 1, 2)}
    )
    assert change.record_id() == "1|x|2025-01-02"


def test_a_change_without_any_key_is_a_mapping_error() -> None:
    change = RawChange.from_envelope(envelope("tmpemohon", "d", None, before={}), None)
    with pytest.raises(MappingError, match="no primary key"):
        change.record_id(("id",))


# --- BIODATA_WNI ---------------------------------------------------------------------------


def test_biodata_wni_row_is_a_full_person_fact() -> None:
    events = run("BIODATA_WNI", "r", biodata(), position="2025-08-18T09:30:00|1")
    assert events == [
        PersonFact(
            person_key=WOMAN,
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
        )
    ]
    assert events[0].key == WOMAN
    assert_encodes(events)


def test_biodata_wni_malformed_nik_keeps_the_record_under_an_x_key_with_a_finding() -> None:
    bad = "74130145089001"  # 14 digits
    events = run("BIODATA_WNI", "c", biodata(NIK=bad), position="p-bad")
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.person_key == f"x-disdukcapil-BIODATA_WNI-{bad}"
    assert fact.nik == bad and fact.nik_status == "MALFORMED"
    assert fact.name == "WA ODE SITTI"  # kept, not dropped
    assert finding.rule_code == "NIK_MALFORMED"
    assert finding.severity == "ERROR"
    assert finding.field == "NIK"
    assert finding.agency == "disdukcapil" and finding.table == "BIODATA_WNI"
    assert finding.source_position == "p-bad"
    assert finding.ts == TS
    # No personal data in the finding: the record key (a NIK) is masked.
    assert finding.record_key == "7413********01"
    assert bad not in finding.detail + finding.record_key + finding.key
    assert_encodes(events)


def test_biodata_wni_date_mismatch_is_a_warning() -> None:
    events = run("BIODATA_WNI", "u", biodata(TGL_LHR=dt.date(1990, 8, 6)))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.nik_status == "DATE_MISMATCH"
    assert fact.person_key.startswith("x-")
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
            person_key=WOMAN,
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


def test_a_delete_with_the_full_row_resolves_as_the_upserts_did() -> None:
    row = biodata(TGL_LHR=dt.date(1990, 8, 6))  # date mismatch: x- key
    (upsert, _finding) = run("BIODATA_WNI", "c", row)
    (delete,) = run("BIODATA_WNI", "d", None, before=row)
    assert delete.op == "DELETE"
    assert delete.person_key == upsert.person_key
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
            person_key=WOMAN,
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
    assert fact.person_key == "x-disdukcapil-PINDAH_DATANG-741304202508180000001"
    assert finding.record_key == "741304202508180000001"  # a move number, not a NIK


def test_family_cards_map_to_nothing() -> None:
    row = {
        "NO_KK": KK, "NIK_KK": WOMAN, "ALAMAT": "DUSUN II", "NO_RT": "001", "NO_RW": "002",
        "NO_KEC": 1, "NO_KEL": 2001, "TGL_UBAH": UBAH,
    }  # fmt: skip
    assert run("DATA_KELUARGA", "c", row) == []
    assert run("DATA_KELUARGA", "d", None, before={"NO_KK": KK}) == []


# --- tmpemohon --------------------------------------------------------------------------------


def test_an_applicant_with_a_valid_nik_is_keyed_by_it() -> None:
    events = run("tmpemohon", "c", pemohon())
    assert events == [
        PersonFact(
            person_key=WOMAN,
            nik_status="VALID",
            agency="dpmptsp",
            source_table="tmpemohon",
            source_record_id="42",
            op="UPSERT",
            source_position="pos-1",
            nik=WOMAN,
            name="Wa Ode Sitti",
            birth_date=dt.date(1990, 8, 5),
            birth_place="Laworo",
            address="DUSUN II, Kec. Sawerigadi",
            source_ts=TS,
        )
    ]
    assert_encodes(events)


def test_an_applicant_with_a_mistyped_nik_gets_an_x_key_and_a_finding() -> None:
    typo = "7413014608900001"  # day off by one: date mismatch with tgl_lahir
    events = run("tmpemohon", "c", pemohon(no_identitas=typo))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.person_key == "x-dpmptsp-tmpemohon-42"
    assert fact.nik == typo and fact.nik_status == "DATE_MISMATCH"
    assert finding.record_key == "42"
    assert finding.field == "no_identitas"
    assert (finding.agency, finding.table) == ("dpmptsp", "tmpemohon")


def test_an_applicant_without_nik_is_missing() -> None:
    events = run("tmpemohon", "c", pemohon(no_identitas="  "))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert (fact.nik, fact.nik_status) == (None, "MISSING")
    assert finding.rule_code == "NIK_MISSING"


def test_an_applicant_delete_with_only_the_key_is_a_delete_of_the_record() -> None:
    (fact,) = run("tmpemohon", "d", None, before={"id": 42})
    assert fact.op == "DELETE"
    assert fact.source_record_id == "42"
    assert fact.person_key == "x-dpmptsp-tmpemohon-42"  # the NIK is not in a key-only delete


# --- tmpermohonan -----------------------------------------------------------------------------


def test_an_application_row_is_an_application_event() -> None:
    events = run("tmpermohonan", "u", permohonan(), position="bin.000003:4711")
    assert events == [
        PermitEvent(
            permit_id="dpmptsp:7",
            agency="dpmptsp",
            kind="APPLICATION",
            source_position="bin.000003:4711",
            service_ref="dpmptsp:2",
            applicant_ref="dpmptsp:tmpemohon:42",
            registration_no="REG-20250811-0001",
            received_date=dt.date(2025, 8, 11),
            file_complete_date=dt.date(2025, 8, 12),
            finished_date=None,
            outcome="IN_PROCESS",
            permit_number=None,
            source_ts=TS,
        )
    ]
    assert events[0].key == "dpmptsp:7"
    assert_encodes(events)


@pytest.mark.parametrize(
    ("code", "outcome"), [(0, "IN_PROCESS"), (1, "ISSUED"), (2, "REJECTED"), (3, "CANCELLED")]
)
def test_c_izin_selesai_is_the_outcome(code: int, outcome: str) -> None:
    (event,) = run("tmpermohonan", "u", permohonan(c_izin_selesai=code))
    assert event.outcome == outcome


def test_an_issued_application_carries_its_number_and_finish_date() -> None:
    (event,) = run(
        "tmpermohonan",
        "u",
        permohonan(c_izin_selesai=1, d_selesai_proses=dt.date(2025, 8, 20), no_surat="503/0001"),
    )
    assert (event.finished_date, event.permit_number) == (dt.date(2025, 8, 20), "503/0001")


def test_an_unknown_outcome_code_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="column c_izin_selesai: unknown code 7"):
        run("tmpermohonan", "u", permohonan(c_izin_selesai=7))


def test_a_deleted_application_is_a_deleted_event() -> None:
    events = run("tmpermohonan", "d", None, before={"id": 7}, position="p-del")
    assert events == [
        PermitEvent(
            permit_id="dpmptsp:7",
            agency="dpmptsp",
            kind="DELETED",
            source_position="p-del",
            source_ts=TS,
        )
    ]
    assert_encodes(events)


# --- trstspermohonan_log ----------------------------------------------------------------------

STATUSES = [
    (1, "RECEIVED"), (2, "INCOMPLETE"), (3, "FILE_COMPLETE"), (4, "VERIFIED"),
    (5, "CLOCK_STOPPED"), (6, "CLOCK_RESUMED"), (7, "APPROVED"), (8, "ISSUED"), (9, "REJECTED"),
    (10, "CANCELLED"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "status"), STATUSES)
def test_each_status_log_code_is_a_status_event(code: int, status: str) -> None:
    events = run("trstspermohonan_log", "c", status_log(c_status=code, keterangan="catatan"))
    assert events == [
        PermitEvent(
            permit_id="dpmptsp:7",
            agency="dpmptsp",
            kind="STATUS",
            source_position="pos-1",
            status=status,
            status_code=code,
            status_time=dt.datetime(2025, 8, 12, 10, 15, 30, tzinfo=dt.UTC),
            status_seq=1001,
            status_note="catatan",
            source_ts=TS,
        )
    ]
    assert_encodes(events)


def test_the_status_codes_are_those_of_the_sample_permits_office() -> None:
    assert {c for c, _ in STATUSES} == set(sicantik.STATUS)
    assert {0, *sicantik.OUTCOME.values()} == {0, 1, 2, 3}


def test_an_unknown_status_code_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="column c_status: unknown code 11"):
        run("trstspermohonan_log", "c", status_log(c_status=11))


def test_a_status_row_without_its_application_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="permohonan_id"):
        run("trstspermohonan_log", "c", status_log(permohonan_id=None))


def test_a_deleted_status_row_maps_to_nothing() -> None:
    assert run("trstspermohonan_log", "d", None, before={"id": 1001}) == []


# --- trperizinan ------------------------------------------------------------------------------


def test_a_permit_type_is_a_service_event() -> None:
    events = run("trperizinan", "r", perizinan())
    assert events == [
        ServiceEvent(
            service_ref="dpmptsp:2",
            agency="dpmptsp",
            active=True,
            source_position="pos-1",
            code="SIP_BIDAN",
            name="Surat Izin Praktik Bidan",
            sla_days=12,
            unit="Dinas Kesehatan",
            deleted=False,
            source_ts=TS,
        )
    ]
    assert events[0].key == "dpmptsp:2"
    assert_encodes(events)


def test_an_inactive_permit_type() -> None:
    (event,) = run("trperizinan", "u", perizinan(aktif=0))
    assert event.active is False


def test_a_deleted_permit_type_is_inactive_and_deleted() -> None:
    (event,) = run("trperizinan", "d", None, before={"id": 2})
    assert (event.service_ref, event.active, event.deleted) == ("dpmptsp:2", False, True)
    assert_encodes([event])


# --- every row of the sample databases ---------------------------------------------------------


@pytest.fixture(scope="module")
def samples() -> dict[str, list[dict[str, Any]]]:
    """Rows of a small generated SIAK and SiCantik (bad NIK rate raised to see findings)."""
    population = generate_population(120, seed=7, today=dt.date(2025, 8, 18))
    siak_db = sa.create_engine("sqlite://")
    siak.load_siak(siak_db, population)
    permits_db = sa.create_engine("sqlite://")
    sicantik.create_sicantik(permits_db, population, 150, seed=7, bad_nik_rate=0.3)
    rows: dict[str, list[dict[str, Any]]] = {}
    for engine, tables in ((siak_db, siak.TABLES), (permits_db, sicantik.TABLES)):
        with engine.connect() as conn:
            for t in tables:
                rows[t.name] = [dict(r) for r in conn.execute(sa.select(t)).mappings()]
    return rows


def test_every_sample_row_maps_and_encodes(samples: dict[str, list[dict[str, Any]]]) -> None:
    counts: dict[str, int] = {}
    for table, rows in samples.items():
        for i, row in enumerate(rows):
            events = run(table, "r", row, position=f"{table}-{i}")
            assert_encodes(events)
            for e in events:
                counts[type(e).__name__] = counts.get(type(e).__name__, 0) + 1
    people = len(samples["BIODATA_WNI"]) + len(samples["PINDAH_DATANG"])
    assert counts["PersonFact"] == people + len(samples["tmpemohon"])
    assert counts["PermitEvent"] == len(samples["tmpermohonan"]) + len(
        samples["trstspermohonan_log"]
    )
    assert counts["ServiceEvent"] == len(samples["trperizinan"])


def test_findings_are_exactly_the_sample_nik_errors(
    samples: dict[str, list[dict[str, Any]]],
) -> None:
    expected, found = 0, 0
    for table, nik_col, born_col, sex_col in (
        ("BIODATA_WNI", "NIK", "TGL_LHR", "JENIS_KLMIN"),
        ("tmpemohon", "no_identitas", "tgl_lahir", None),
    ):
        for row in samples[table]:
            check = check_nik(
                row[nik_col].strip(), row[born_col], parse_sex(row[sex_col]) if sex_col else None
            )
            expected += not check.ok
            events = run(table, "r", row)
            (fact,) = only(events, PersonFact)
            nik_findings = [f for f in only(events, DataQualityFinding) if f.field == nik_col]
            found += len(nik_findings)
            assert (fact.person_key == row[nik_col].strip()) is check.ok
    assert expected > 0  # the sample has typing errors in applicants' NIKs
    assert found == expected
