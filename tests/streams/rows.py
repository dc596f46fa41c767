"""Rows of the demo agencies' tables as the connectors read them, and mapping one change of
such a row after the Avro round trip, as the worker sees it. Shared by the streams tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.tokens import Tokens
from schemas import catalog
from streams.mappings import map_change
from tests.streams.helpers import decoded_envelope, envelope, key_of, round_trip

TOKENS = Tokens(b"the streams tests' secret, 32 b.")  # keys person facts as normalize does
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
