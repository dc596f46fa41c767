"""The compiled writers write exactly what fastavro writes for the table's registered schemas."""

from __future__ import annotations

import datetime as dt
import decimal
import io

import fastavro
import pytest
import sqlalchemy as sa

from connectors.encoding import RowEncoder, envelope, source_record
from connectors.shapes import EncodeError, TableShape

META = sa.MetaData()
TABLE = sa.Table(
    "ALL TYPES",
    META,
    sa.Column("ID", sa.BigInteger, primary_key=True),
    sa.Column("NAMA", sa.String(60)),
    sa.Column("JK", sa.SmallInteger),
    sa.Column("TGL", sa.Date),
    sa.Column("UBAH", sa.DateTime),
    sa.Column("JAM", sa.Time),
    sa.Column("AKTIF", sa.Boolean),
    sa.Column("BERAT", sa.Float),
    sa.Column("BIAYA", sa.Numeric(12, 2)),
    sa.Column("TEKS", sa.Numeric),
    sa.Column("FOTO", sa.LargeBinary),
)
SHAPE = TableShape.from_table(TABLE)
NS = "mpp.t.all_types"

ROWS = [
    {c: None for c in SHAPE.columns} | {"ID": 1},
    {
        "ID": -(2**62),
        "NAMA": "Wa Ode Sitti Ṣāliḥah",
        "JK": 2,
        "TGL": dt.date(1946, 8, 17),
        "UBAH": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
        "JAM": dt.time(7, 30, 15, 250000),
        "AKTIF": True,
        "BERAT": -61.25,
        "BIAYA": decimal.Decimal("-1234.5"),
        "TEKS": decimal.Decimal("3.14159"),
        "FOTO": b"\x00\xff" * 100,
    },
    {  # what other drivers and logs hand over: text dates, aware times, ints for bools
        "ID": 2**40,
        "NAMA": 12345,
        "JK": True,
        "TGL": "1969-12-31",
        "UBAH": dt.datetime(1960, 1, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
        "AKTIF": 0,
        "BERAT": 3,
        "BIAYA": 7,
        "FOTO": bytearray(b"abc"),
        "TEKS": "x" * 300,
    },
]


def _fastavro(schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


@pytest.mark.parametrize("row", ROWS)
def test_row_and_key_bytes_equal_fastavros(row: dict) -> None:
    enc = RowEncoder(SHAPE)
    values = enc.values(row)
    assert enc.row(values) == _fastavro(SHAPE.row_schema(NS), SHAPE.convert_row(row))
    assert enc.key(values) == _fastavro(SHAPE.key_schema(NS), SHAPE.convert_key(row))


def test_the_envelope_decodes_with_the_registered_schema() -> None:
    enc = RowEncoder(SHAPE)
    before, after = enc.row(enc.values(ROWS[0])), enc.row(enc.values(ROWS[1]))
    source = source_record("dukcapil", "siak", "postgres", "ALL TYPES", "0/1:2", False, 1700)
    body = envelope(before, after, "u", 1_700_000_000_123, source)
    decoded = fastavro.schemaless_reader(
        io.BytesIO(body), fastavro.parse_schema(SHAPE.envelope_schema(NS))
    )
    assert decoded["op"] == "u" and decoded["ts_ms"] == 1_700_000_000_123
    assert decoded["after"]["NAMA"] == ROWS[1]["NAMA"]
    assert decoded["after"]["UBAH"] == ROWS[1]["UBAH"].replace(tzinfo=dt.UTC)
    assert decoded["before"]["ID"] == 1 and decoded["before"]["NAMA"] is None
    assert decoded["source"] == {
        "agency": "dukcapil",
        "connector": "siak",
        "db": "postgres",
        "table": "ALL TYPES",
        "position": "0/1:2",
        "snapshot": False,
        "ts_ms": 1700,
    }


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("JK", 2**31),
        ("TGL", "0000-00-00"),
        ("UBAH", "infinity"),
        ("NAMA", "\udc80"),
        ("BIAYA", decimal.Decimal("1.234")),
    ],
)
def test_a_value_that_cannot_be_written_names_its_column(column: str, value) -> None:
    enc = RowEncoder(SHAPE)
    with pytest.raises(EncodeError, match=f"column {column}"):
        enc.row(enc.values({"ID": 1, column: value}))


def test_a_null_key_is_refused() -> None:
    enc = RowEncoder(SHAPE)
    with pytest.raises(EncodeError, match="key column ID is null"):
        enc.key(enc.values({"NAMA": "x"}))


def test_longs_of_every_size_are_written_as_fastavro_writes_them() -> None:
    import random

    from connectors.encoding import _varint

    rng = random.Random(5)
    edges = [0, -1, 63, 64, -64, -65, 2**13, 2**14 - 1, 2**14, 2**31, -(2**63), 2**63 - 1]
    values = edges + [rng.randint(-(2**63), 2**63 - 1) for _ in range(3000)]
    values += [rng.randint(-(10**7), 10**7) for _ in range(3000)]
    for n in values:
        assert _varint(n) == _fastavro("long", n), n
