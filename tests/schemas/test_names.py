"""The Avro naming rule of source identifiers."""

from __future__ import annotations

import pytest

from schemas.names import avro_name


@pytest.mark.parametrize(
    ("sql", "avro"),
    [
        ("NIK", "NIK"),
        ("tgl_ubah", "tgl_ubah"),
        ("NO KK", "NO_KK"),
        ("no-surat", "no_surat"),
        ("jumlah.rp", "jumlah_rp"),
        ("2024_total", "_2024_total"),
        ("_private", "_private"),
        ("Tgl Lahir (dd/mm)", "Tgl_Lahir__dd_mm_"),
    ],
)
def test_sql_identifiers_become_valid_avro_names(sql: str, avro: str) -> None:
    assert avro_name(sql) == avro


def test_a_non_ascii_letter_is_replaced() -> None:
    assert avro_name("nama_lengkap_é") == "nama_lengkap__"
