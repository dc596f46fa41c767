"""DPMPTSP (SiCantik, the permits office): trperizinan, tmpemohon, tmpermohonan,
trstspermohonan_log. Refs are the agency's own ids: permit `dpmptsp:<tmpermohonan.id>`, service
`dpmptsp:<trperizinan.id>`, applicant `dpmptsp:tmpemohon:<tmpemohon.id>`.

A code the hub does not know (c_izin_selesai, c_status) is a dead letter naming the column:
better seen and fixed than guessed.
"""

from __future__ import annotations

from ..canonical import APPLICATION, DELETED, STATUS, Canonical, PermitEvent, ServiceEvent
from .change import RawChange
from .errors import MappingError
from .person import PersonSpec, person_facts
from .registry import mapping
from .values import boolean, column, date, enum_code, integer, text, timestamp, to_int

AGENCY = "dpmptsp"

# tmpermohonan.c_izin_selesai
OUTCOME = {0: "IN_PROCESS", 1: "ISSUED", 2: "REJECTED", 3: "CANCELLED"}
# trstspermohonan_log.c_status
STATUS_CODES = {
    1: "RECEIVED",  # berkas diterima
    2: "INCOMPLETE",  # berkas tidak lengkap
    3: "FILE_COMPLETE",  # berkas lengkap: the SLA clock starts
    4: "VERIFIED",  # verifikasi teknis
    5: "CLOCK_STOPPED",  # menunggu perbaikan pemohon
    6: "CLOCK_RESUMED",  # perbaikan diterima
    7: "APPROVED",  # penandatanganan izin
    8: "ISSUED",  # izin terbit
    9: "REJECTED",  # permohonan ditolak
    10: "CANCELLED",  # permohonan dibatalkan
}

# Applicants: identified by the NIK the front office typed in (no_identitas), often wrong.
TMPEMOHON = PersonSpec(
    nik="no_identitas",
    key_columns=("id",),
    fields={
        "name": text("n_pemohon"),
        "birth_date": date("tgl_lahir"),
        "birth_place": text("tempat_lahir"),
        "address": text("alamat"),
        "phone": text("telp"),
    },
)

# tmpermohonan column -> PermitEvent field (APPLICATION events)
APPLICATION_FIELDS = {
    "registration_no": text("no_pendaftaran"),
    "received_date": date("d_terima_berkas"),
    "file_complete_date": date("d_berkas_lengkap"),
    "finished_date": date("d_selesai_proses"),
    "permit_number": text("no_surat"),
    "outcome": enum_code("c_izin_selesai", OUTCOME),
}

# trstspermohonan_log column -> PermitEvent field (STATUS events)
STATUS_FIELDS = {
    "status": enum_code("c_status", STATUS_CODES),
    "status_code": integer("c_status"),
    "status_time": timestamp("d_status"),
    "status_note": text("keterangan"),
}

# trperizinan column -> ServiceEvent field
SERVICE_FIELDS = {
    "code": text("c_kode"),
    "name": text("n_perizinan"),
    "sla_days": integer("durasi"),
    "unit": text("n_unit_teknis"),
}


def _ref(change: RawChange, column_name: str, fmt: str) -> str | None:
    value = column(change.row, column_name)
    try:
        number = to_int(value)
    except ValueError:
        raise MappingError(
            f"column {column_name}: expected an id, got a value of type {type(value).__name__}"
        ) from None
    return fmt.format(agency=change.agency, id=number) if number is not None else None


@mapping(AGENCY, "tmpemohon")
def tmpemohon(change: RawChange) -> list[Canonical]:
    """An applicant: a PersonFact (with the NIK as typed), findings when that NIK is not valid."""
    return person_facts(change, TMPEMOHON)


@mapping(AGENCY, "tmpermohonan")
def tmpermohonan(change: RawChange) -> list[Canonical]:
    """An application row: its full current state (APPLICATION), or DELETED."""
    permit_id = f"{change.agency}:{change.record_id(('id',))}"
    common = {
        "permit_id": permit_id,
        "agency": change.agency,
        "source_position": change.position,
        "source_ts": change.source_ts,
    }
    if change.is_delete:
        return [PermitEvent(kind=DELETED, **common)]
    row = change.row
    return [
        PermitEvent(
            kind=APPLICATION,
            service_ref=_ref(change, "perizinan_id", "{agency}:{id}"),
            applicant_ref=_ref(change, "pemohon_id", "{agency}:tmpemohon:{id}"),
            **common,
            **{name: getter(row) for name, getter in APPLICATION_FIELDS.items()},
        )
    ]


@mapping(AGENCY, "trstspermohonan_log")
def trstspermohonan_log(change: RawChange) -> list[Canonical]:
    """A status-log row: one STATUS event of its application. The log is insert-only in
    SiCantik; a deleted log row does not undo a step that happened, so it maps to nothing."""
    if change.is_delete:
        return []
    row = change.row
    log_id = change.record_id(("id",))
    if not log_id.isdigit():
        raise MappingError("table trstspermohonan_log: id is not a number")
    permit_id = _ref(change, "permohonan_id", "{agency}:{id}")
    if permit_id is None:
        raise MappingError("column permohonan_id: a status-log row without its application")
    return [
        PermitEvent(
            permit_id=permit_id,
            agency=change.agency,
            kind=STATUS,
            status_seq=int(log_id),
            source_position=change.position,
            source_ts=change.source_ts,
            **{name: getter(row) for name, getter in STATUS_FIELDS.items()},
        )
    ]


@mapping(AGENCY, "trperizinan")
def trperizinan(change: RawChange) -> list[Canonical]:
    """A permit type and its SLA (durasi, working days); a deleted type is inactive."""
    service_ref = f"{change.agency}:{change.record_id(('id',))}"
    common = {
        "service_ref": service_ref,
        "agency": change.agency,
        "source_position": change.position,
        "source_ts": change.source_ts,
    }
    if change.is_delete:
        return [ServiceEvent(active=False, deleted=True, **common)]
    row = change.row
    active = boolean("aktif")(row)
    return [
        ServiceEvent(
            active=True if active is None else active,
            deleted=False,
            **common,
            **{name: getter(row) for name, getter in SERVICE_FIELDS.items()},
        )
    ]
