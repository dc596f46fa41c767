"""Service standards (standar pelayanan) of the MPP: what each service promises, in working days
from berkas lengkap (see domain/workdays.py), and the unit (OPD) that delivers it. Data, not
code: a new service is a new row. Every agency's permits are measured against these the same
way (domain/permits.py); an agency whose system has no SLA column takes it from here (a mapping
field `{type: standard, column: <service code column>}`).

Service codes are stable identifiers used in events, read models and metrics; never rename one.
Agency codes are the `agency` names of the connectors (topic mpp.<agency>.<table>).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceStandard:
    """One MPP service and its SLA in working days (0 = finished the same day)."""

    code: str
    name: str
    agency: str
    sla_days: int
    unit: str | None = None  # the OPD (organisasi perangkat daerah) that delivers it


_HEALTH = "Dinas Kesehatan"
_PUPR = "Dinas Pekerjaan Umum dan Penataan Ruang"
_CAPIL = "Dinas Kependudukan dan Pencatatan Sipil"

SERVICES: tuple[ServiceStandard, ...] = (
    ServiceStandard("SIP_DOKTER", "Surat Izin Praktik Dokter", "dpmptsp", 9, _HEALTH),
    ServiceStandard("SIP_BIDAN", "Surat Izin Praktik Bidan", "dpmptsp", 12, _HEALTH),
    ServiceStandard("SIP_PERAWAT", "Surat Izin Praktik Perawat", "dpmptsp", 15, _HEALTH),
    ServiceStandard("SIA", "Surat Izin Apotek", "dpmptsp", 24, _HEALTH),
    ServiceStandard("PBG", "Persetujuan Bangunan Gedung", "pupr", 28, _PUPR),
    ServiceStandard("SLF", "Sertifikat Laik Fungsi", "pupr", 3, _PUPR),
    ServiceStandard("REKLAME", "Izin Reklame", "dpmptsp", 5, "Badan Pendapatan Daerah"),
    ServiceStandard("ITR", "Informasi Tata Ruang", "dpmptsp", 7, _PUPR),
    ServiceStandard("KKPR", "Kesesuaian Kegiatan Pemanfaatan Ruang", "dpmptsp", 25, _PUPR),
    ServiceStandard(
        "SKCK", "Surat Keterangan Catatan Kepolisian", "polres", 0, "Polres Muna Barat"
    ),
    ServiceStandard("KK", "Kartu Keluarga", "disdukcapil", 3, _CAPIL),
)

BY_CODE: dict[str, ServiceStandard] = {s.code: s for s in SERVICES}


def service(code: str) -> ServiceStandard:
    """The service standard for a service code; KeyError naming the code if there is none."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"no service standard with code {code!r}") from None


def services_of(agency: str) -> tuple[ServiceStandard, ...]:
    """The services an agency delivers, in table order."""
    return tuple(s for s in SERVICES if s.agency == agency)
