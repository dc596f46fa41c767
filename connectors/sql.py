"""Reading rows from a source table through SQLAlchemy, robustly.

SQLite hands date/time columns back as text and SQLAlchemy parses them while fetching: one legacy
row with '0000-00-00' there would fail the whole query. We select those columns as text and let
the row conversion (connectors/shapes.py) parse them per row, so a bad value becomes that row's
dead letter instead of stopping capture. A PostgreSQL snapshot reads with one `COPY ... TO
STDOUT` in key order (its rows parsed by psycopg's C loaders), other databases page by key.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa


def row_select(table: sa.Table, dialect: str) -> sa.Select:
    """SELECT of every column, with SQLite dates/times left as text (parsed per row later)."""
    if dialect != "sqlite":
        return sa.select(table)
    cols = [
        sa.type_coerce(c, sa.String).label(c.name)
        if isinstance(c.type, sa.Date | sa.DateTime | sa.Time)
        else c
        for c in table.columns
    ]
    return sa.select(*cols)


def count_rows(engine: sa.Engine, table: sa.Table) -> int:
    """Row count, for the snapshot's progress bar and its expected-rows metric."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def read_chunk(
    engine: sa.Engine, table: sa.Table, key: list[str], after: list | None, limit: int
) -> list[dict[str, Any]]:
    """Rows after the last key read, in key order (keyset pagination: O(chunk) per call)."""
    key_cols = [table.c[k] for k in key]
    q = row_select(table, engine.dialect.name).order_by(*key_cols).limit(limit)
    if after is not None:
        after = restore_key(key_cols, after)
        if len(key_cols) == 1:
            q = q.where(key_cols[0] > after[0])
        else:
            q = q.where(sa.tuple_(*key_cols) > sa.tuple_(*[sa.literal(v) for v in after]))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def restore_key(key_cols: list[sa.Column], after: list) -> list:
    """Key values read back from a JSON offset: dates and times were stored as ISO text."""
    out = []
    for col, v in zip(key_cols, after, strict=True):
        if isinstance(v, str) and isinstance(col.type, sa.DateTime):
            v = datetime.datetime.fromisoformat(v)
        elif isinstance(v, str) and isinstance(col.type, sa.Date):
            v = datetime.date.fromisoformat(v)
        out.append(v)
    return out


class _Lenient:
    """Wraps one psycopg loader: a value it refuses ('infinity', BC dates) comes back as text,
    which the row conversion then refuses for that row alone (a dead letter)."""

    inner: type

    def __init__(self, oid: int, context: Any = None):
        super().__init__(oid, context)  # psycopg's Loader, next in the MRO
        self._inner = self.inner(oid, context)

    def load(self, data: Any) -> Any:
        import psycopg

        try:
            return self._inner.load(data)
        except psycopg.DataError:
            return bytes(data).decode()


def lenient_postgres_dates(engine: sa.Engine) -> None:
    """Make snapshot and polling reads of PostgreSQL survive legacy out-of-range dates: psycopg
    refuses to load 'infinity' and BC dates, which would fail a whole chunk of rows."""
    import psycopg
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    lenient_base = type("LenientLoader", (_Lenient, Loader), {})

    @sa.event.listens_for(engine, "connect")
    def _register(dbapi_conn: Any, _record: Any) -> None:
        for name in ("date", "timestamp", "timestamptz"):
            oid = psycopg.postgres.types[name].oid
            base = dbapi_conn.adapters.get_loader(oid, Format.TEXT)
            lenient = type(f"Lenient{base.__name__}", (lenient_base,), {"inner": base})
            dbapi_conn.adapters.register_loader(oid, lenient)

    engine.dispose()  # connections opened before (reflection) come back with the loaders


def chunks(
    engine: sa.Engine,
    table: sa.Table,
    key: list[str],
    after: list | None,
    size: int,
    stopping: Callable[[], bool],
) -> Iterator[list[tuple]]:
    """Every row after the last key read, in key order, as value tuples in column order and in
    lists of `size`: one `COPY ... TO STDOUT` on PostgreSQL, keyset pages elsewhere."""
    if engine.dialect.name == "postgresql":
        yield from _copy_chunks(engine, table, key, after, size, stopping)
        return
    columns = [c.name for c in table.columns]
    while not stopping():
        rows = read_chunk(engine, table, key, after, size)
        if not rows:
            return
        yield [tuple(r[c] for c in columns) for r in rows]
        if len(rows) < size:
            return
        after = [rows[-1][k] for k in key]


_TEXT_OID = 25
_AS_TEXT = {1082, 1114}  # date, timestamp (without time zone)


def _copy_chunks(engine, table, key, after, size, stopping) -> Iterator[list[tuple]]:
    from psycopg import sql

    name = sql.Identifier(*([table.schema] if table.schema else []), table.name)
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in key)
    where, params = sql.SQL(""), None
    if after is not None:
        params = restore_key([table.c[k] for k in key], after)
        marks = sql.SQL(", ").join([sql.Placeholder()] * len(key))
        where = sql.SQL("WHERE ({}) > ({})").format(keys, marks)
    select = sql.SQL("SELECT {} FROM {} {} ORDER BY {}").format(cols, name, where, keys)
    raw = engine.raw_connection()  # psycopg, with the lenient date loaders of the engine
    conn = raw.driver_connection
    finished = False
    try:
        with conn.cursor() as cur:
            # Dates and timestamps come as ISO text, parsed (and refused) per value by the
            # row's writers: psycopg's loaders refuse a whole chunk for one 'infinity'.
            cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            cur.execute(sql.SQL("SELECT {} FROM {} LIMIT 0").format(cols, name))
            oids = [_TEXT_OID if d.type_code in _AS_TEXT else d.type_code for d in cur.description]
            with cur.copy(sql.SQL("COPY ({}) TO STDOUT").format(select), params) as copy:
                copy.set_types(oids)
                batch: list[tuple] = []
                for row in copy.rows():
                    batch.append(row)
                    if len(batch) >= size:
                        yield batch
                        batch = []
                        if stopping():
                            return
                if batch:
                    yield batch
        finished = True
    finally:
        if finished:
            raw.rollback()
            raw.close()
        else:  # left in the middle of the COPY: drop the connection rather than drain it
            raw.invalidate()
