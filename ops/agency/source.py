"""A connector's source as its connector sees it: each configured table's shape (the Avro schemas
it registers), row count and a sample of rows, and a sample row as the worker decodes it (the
change envelope after the Avro round trip)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
import sqlalchemy as sa

from connectors.config import ConnectorConfig
from connectors.files.exports import CSV_SUFFIXES, read_csv
from connectors.shapes import TableShape


class SourceError(RuntimeError):
    """The source cannot be read (one line naming what and why)."""


@dataclass
class SourceTable:
    """One configured table of a source."""

    name: str
    shape: TableShape
    sql_types: dict[str, str]  # column -> type as the database names it
    row_count: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    has_primary_key: bool = True

    def namespace(self, agency: str) -> str:
        return f"mpp.{agency}.{self.name}"


def read_source(cfg: ConnectorConfig, limit: int = 20) -> list[SourceTable]:
    """Every configured table of a connector's source, with up to `limit` sample rows."""
    if cfg.source.mode == "file":
        return [_export_table(cfg, t.name, t.key or [], t.file, limit) for t in cfg.tables]
    try:
        engine = sa.create_engine(cfg.source_url())
    except Exception as e:  # noqa: BLE001 - a malformed URL or a missing driver
        raise SourceError(f"source.url: {type(e).__name__}: {e}") from None
    try:
        return [_sql_table(engine, t.name, t.key, limit) for t in cfg.tables]
    except sa.exc.NoSuchTableError as e:
        raise SourceError(f"tables: no table {e} in the source") from None
    except sa.exc.OperationalError as e:
        raise SourceError(f"source: cannot read it ({str(e.orig).splitlines()[0]})") from None
    finally:
        engine.dispose()


def _sql_table(engine: sa.Engine, name: str, key: list[str] | None, limit: int) -> SourceTable:
    table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    shape = TableShape.from_table(table, key)
    order = [table.c[c] for c in shape.key] or list(table.c)[:1]
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        rows = conn.execute(sa.select(table).order_by(*order).limit(limit)).mappings()
        sample = [dict(r) for r in rows]
    types = {c.name: str(c.type) for c in table.columns}
    return SourceTable(name, shape, types, count, sample, bool(table.primary_key.columns))


def _export_table(
    cfg: ConnectorConfig, name: str, key: list[str], pattern: str | None, limit: int
) -> SourceTable:
    directory = cfg.source.directory
    if directory is None or not Path(directory).is_dir():
        raise SourceError(f"source.directory: {directory} is not a directory")
    files = sorted(
        p for p in Path(directory).glob(pattern or f"{name}*")
        if p.suffix.lower() in CSV_SUFFIXES
    )  # fmt: skip
    if not files:
        raise SourceError(f"tables: no CSV export of {name} in {directory}")
    try:
        export = read_csv(files[-1].read_bytes(), key, [])
    except Exception as e:  # noqa: BLE001 - FileRejected and decoding errors alike
        raise SourceError(f"{files[-1].name}: not a readable export ({e})") from None
    shape = TableShape.text_columns(name, export.columns, key)
    sample = [row for _, row in export.rows[:limit]]
    types = dict.fromkeys(export.columns, "TEXT")
    return SourceTable(name, shape, types, len(export.rows), sample, bool(key))


def as_decoded(agency: str, table: SourceTable, row: dict[str, Any], n: int) -> tuple[dict, dict]:
    """(envelope, key) of a sample row as the worker decodes them: a snapshot read (op r),
    converted by the table's shape and written and read back with its Avro schemas."""
    shape, ns = table.shape, table.namespace(agency)
    envelope = {
        "before": None,
        "after": shape.convert_row(row),
        "op": "r",
        "ts_ms": 0,
        "source": {
            "agency": agency,
            "connector": "agency-check",
            "db": "sample",
            "table": table.name,
            "position": f"check:{n}",
            "snapshot": True,
            "ts_ms": None,
        },
    }
    key = shape.convert_key(row) if shape.key else None
    decoded_key = _round_trip(shape.key_schema(ns), key) if key is not None else None
    return _round_trip(shape.envelope_schema(ns), envelope), decoded_key


def _round_trip(schema: Any, record: Any) -> Any:
    parsed = fastavro.parse_schema(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, parsed, None)
