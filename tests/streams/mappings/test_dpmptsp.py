"""The DPMPTSP (SiCantik) mappings: tmpemohon, tmpermohonan, trstspermohonan_log,
trperizinan."""

from __future__ import annotations

import datetime as dt

import pytest

from ops.samples import sicantik
from streams.canonical import DataQualityFinding, PermitEvent, PersonFact, ServiceEvent
from streams.mappings import MappingError
from tests.streams.helpers import TS
from tests.streams.rows import (
    TOKENS,
    WOMAN,
    assert_encodes,
    only,
    pemohon,
    perizinan,
    permohonan,
    run,
    status_log,
)

# --- tmpemohon --------------------------------------------------------------------------------


def test_an_applicant_is_a_person_fact_with_the_nik_as_typed() -> None:
    events = run("tmpemohon", "c", pemohon())
    assert events == [
        PersonFact(
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
            phone="081234567890",
            source_ts=TS,
            quality={"record_ref": "42", "issues": [], "checked_at": TS},
        )
    ]
    assert events[0].keyed(TOKENS).key == TOKENS.record("dpmptsp", "tmpemohon", "42")
    assert_encodes(events)


def test_an_applicant_with_a_mistyped_nik_keeps_it_with_a_finding() -> None:
    typo = "7413014608900001"  # day off by one: date mismatch with tgl_lahir
    events = run("tmpemohon", "c", pemohon(no_identitas=typo))
    (fact,) = only(events, PersonFact)
    (finding,) = only(events, DataQualityFinding)
    assert fact.name == "Wa Ode Sitti"  # the record is kept whole: the resolver links it
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
    # The same record key as its upserts', though the NIK is not in a key-only delete.
    assert fact.keyed(TOKENS).key == run("tmpemohon", "c", pemohon())[0].keyed(TOKENS).key
    assert fact.nik_status == "MISSING"


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
