"""Schema derivation from table metadata and value conversion (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import decimal
import io

import fastavro
import pytest
import sqlalchemy as sa

from connectors.shapes import EncodeError, TableShape, column_type, source_ts_ms


def _table() -> sa.Table:
    return sa.Table(
        "BIODATA_WNI",
        sa.MetaData(),
        sa.Column("NIK", sa.String(16), primary_key=True),
        sa.Column("NAMA_LGKP", sa.String(100)),
        sa.Column("JENIS_KLMIN", sa.SmallInteger),
        sa.Column("TGL_LHR", sa.Date),
        sa.Column("TGL_UBAH", sa.DateTime),
        sa.Column("SALDO", sa.Numeric(12, 2)),
        sa.Column("AKTIF", sa.Boolean),
    )


def test_sql_types_map_to_avro_logical_types() -> None:
    assert column_type(sa.Date()).avro == {"type": "int", "logicalType": "date"}
    assert column_type(sa.DateTime()).avro == {"type": "long", "logicalType": "timestamp-micros"}
    assert column_type(sa.Numeric(12, 2)).avro["logicalType"] == "decimal"
    assert column_type(sa.Numeric(12, 2)).avro["scale"] == 2
    assert column_type(sa.BigInteger()).avro == "long"
    assert column_type(sa.String(10)).avro == "string"


def test_a_row_round_trips_through_the_envelope_schema() -> None:
    shape = TableShape.from_table(_table())
    schema = fastavro.parse_schema(shape.envelope_schema("mpp.disdukcapil.BIODATA_WNI"))
    row = {
        "NIK": "7413014501900001",
        "NAMA_LGKP": "WA ODE SITI",
        "JENIS_KLMIN": 2,
        "TGL_LHR": dt.date(1990, 1, 5),
        "TGL_UBAH": dt.datetime(2026, 11, 2, 8, 30),
        "SALDO": decimal.Decimal("1500.25"),
        "AKTIF": True,
    }
    env = {
        "before": None,
        "after": shape.convert_row(row),
        "op": "c",
        "ts_ms": 1,
        "source": {
            "agency": "a",
            "connector": "c",
            "db": "polling",
            "table": "BIODATA_WNI",
            "position": "p",
            "snapshot": False,
            "ts_ms": None,
        },
    }
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, env)
    buf.seek(0)
    back = fastavro.schemaless_reader(buf, schema)
    assert back["after"]["NIK"] == row["NIK"]
    assert back["after"]["TGL_LHR"] == row["TGL_LHR"]
    assert back["after"]["SALDO"] == row["SALDO"]
    assert back["after"]["TGL_UBAH"].replace(tzinfo=None) == row["TGL_UBAH"]


def test_every_value_field_is_nullable_with_default_so_added_columns_evolve() -> None:
    schema = TableShape.from_table(_table()).row_schema("ns")
    assert all(f["default"] is None and f["type"][0] == "null" for f in schema["fields"])


def test_an_unencodable_value_names_its_column() -> None:
    shape = TableShape.from_table(_table())
    with pytest.raises(EncodeError, match="TGL_LHR"):
        shape.convert_row({"NIK": "1", "TGL_LHR": "0000-00-00"})
    with pytest.raises(EncodeError, match="NAMA_LGKP"):
        shape.convert_row({"NIK": "1", "NAMA_LGKP": b"\xff\xfeWA"})


def test_a_null_key_is_refused() -> None:
    with pytest.raises(EncodeError, match="key column NIK"):
        TableShape.from_table(_table()).convert_key({"NIK": None})


def test_source_time_of_a_naive_wall_clock_value() -> None:
    assert source_ts_ms(dt.datetime(1970, 1, 1, 0, 0, 1)) == 1000
    assert source_ts_ms(None) is None
