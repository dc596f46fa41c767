"""Rows read and written a set at a time by the projection writers: one SELECT for all the keys
of a batch, one executemany INSERT and one executemany UPDATE per table, never a round trip per
event.

The statements are plain SQL text compiled once per table, column list and dialect, and run with
tuples straight through the driver's executemany (`exec_driver_sql`): SQLAlchemy's per-row
parameter handling cost more than the SQL itself (a third of the projection's time in a
profile). Values still go through each column type's own SQLAlchemy bind / result processor, so
what is stored and read back is what the ORM would store and read, except that JSON is encoded
and decoded by orjson (several times faster than the standard library; same values back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

import orjson
from sqlalchemy import JSON, Table, delete, tuple_
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

T = TypeVar("T")
Convert = Callable[[Any], Any] | None

# Keys per IN (...) list: far below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 1000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _json_dumps(value: Any) -> str:
    # SQLAlchemy's JSON stores Python None as the JSON 'null' (none_as_null is off); orjson
    # refuses what the standard encoder refuses too (a datetime: OPT_PASSTHROUGH_DATETIME).
    return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _json_loads(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


class _Sql:
    """Placeholders, identifier quoting and per-column converters of one dialect and table."""

    def __init__(self, dialect: Dialect, table: Table):
        self.dialect = dialect
        self.table = table
        self.qmark = dialect.paramstyle == "qmark"
        self.pg = dialect.name == "postgresql"
        self.quote = dialect.identifier_preparer.quote

    def param(self, column: Any) -> str:
        mark = "?" if self.qmark else "%s"
        return f"CAST({mark} AS JSON)" if self.pg and isinstance(column.type, JSON) else mark

    def name(self, key: str) -> str:
        return self.quote(self.table.c[key].name)

    def bind(self, key: str) -> Convert:
        column = self.table.c[key]
        if isinstance(column.type, JSON):
            return _json_dumps
        return column.type.dialect_impl(self.dialect).bind_processor(self.dialect)

    def result(self, column: Any) -> Convert:
        if self.pg:
            return None  # psycopg gives Python values itself: JSON decoded, dates, floats
        if isinstance(column.type, JSON):
            return _json_loads
        impl = column.type.dialect_impl(self.dialect)
        return impl.result_processor(self.dialect, None)


@lru_cache(maxsize=512)
def _insert(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> tuple[str, list[Convert]]:
    sql = _Sql(dialect, table)
    columns = ", ".join(sql.name(k) for k in keys)
    marks = ", ".join(sql.param(table.c[k]) for k in keys)
    text = f"INSERT INTO {sql.quote(table.name)} ({columns}) VALUES ({marks})"
    return text, [sql.bind(k) for k in keys]


@lru_cache(maxsize=512)
def _update(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], list[Convert]]:
    """UPDATE ... SET the non-key columns WHERE the primary key; the order of the values."""
    sql = _Sql(dialect, table)
    pk = tuple(c.key for c in table.primary_key.columns)
    values = tuple(k for k in keys if k not in pk)
    sets = ", ".join(f"{sql.name(k)} = {sql.param(table.c[k])}" for k in values)
    where = " AND ".join(f"{sql.name(k)} = {sql.param(table.c[k])}" for k in pk)
    order = values + pk
    text = f"UPDATE {sql.quote(table.name)} SET {sets} WHERE {where}"
    return text, order, [sql.bind(k) for k in order]


@lru_cache(maxsize=256)
def _select(
    dialect: Dialect, table: Table, column: str, n: int, lock: bool, order_by: tuple[str, ...]
) -> tuple[str, list[str], list[Convert]]:
    sql = _Sql(dialect, table)
    columns = list(table.columns)
    marks = ", ".join(sql.param(table.c[column]) for _ in range(n))
    text = (
        f"SELECT {', '.join(sql.quote(c.name) for c in columns)} FROM {sql.quote(table.name)}"
        f" WHERE {sql.name(column)} IN ({marks})"
    )
    if order_by:
        text += " ORDER BY " + ", ".join(sql.name(k) for k in order_by)
    if lock and sql.pg:  # SQLite: the writer holds the database lock anyway
        text += " FOR UPDATE"
    return text, [c.key for c in columns], [sql.result(c) for c in columns]


def _tuples(
    rows: Iterable[dict[str, Any]], keys: Sequence[str], convert: list[Convert]
) -> list[tuple[Any, ...]]:
    """The rows' values in `keys` order, each through its column's converter (if any)."""
    get = itemgetter(*keys)
    single = len(keys) == 1
    converted = [(i, f) for i, f in enumerate(convert) if f is not None]
    out: list[tuple[Any, ...]] = []
    for r in rows:
        values = [get(r)] if single else list(get(r))
        for i, f in converted:
            values[i] = f(values[i])
        out.append(tuple(values))
    return out


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple):
        return tuple(c.key for c in value)
    return (value.key,)


def rows_where_in(
    session: Session,
    model: Any,
    column: Any,
    keys: Iterable[Any],
    *,
    lock: bool = False,
    order_by: Any = None,
) -> list[dict[str, Any]]:
    """All rows of `model` whose `column` is one of `keys`, as dicts (chunked IN lists).

    With `lock`, rows are locked FOR UPDATE in key order (PostgreSQL; SQLite's writer holds the
    database lock anyway), so that two workers touching the same rows wait instead of
    overwriting each other's derivation, and never deadlock on the order."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    table = model.__table__
    connection = session.connection()
    dialect = connection.dialect
    out: list[dict[str, Any]] = []
    for part in chunks(wanted):
        text, names, convert = _select(dialect, table, column.key, len(part), lock, _keys(order_by))
        bind = _Sql(dialect, table).bind(column.key)
        params = tuple(part) if bind is None else tuple(bind(k) for k in part)
        pairs = list(zip(names, convert, strict=True))
        for row in connection.exec_driver_sql(text, params):
            out.append({k: v if f is None else f(v) for (k, f), v in zip(pairs, row, strict=True)})
    return out


def write_rows(
    session: Session,
    model: Any,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> None:
    """Insert new rows and update existing ones by primary key, each as one executemany of
    tuples (rows with the same columns together)."""
    table = model.__table__
    if not inserts and not updates:
        return
    connection = session.connection()
    dialect = connection.dialect
    for keys, rows in _same_keys(inserts).items():
        text, convert = _insert(dialect, table, keys)
        connection.exec_driver_sql(text, _tuples(rows, keys, convert))
    for keys, rows in _same_keys(updates).items():
        text, order, convert = _update(dialect, table, keys)
        connection.exec_driver_sql(text, _tuples(rows, order, convert))


def _same_keys(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    return groups


def delete_keys(
    session: Session, model: Any, pk_columns: tuple[Any, ...], keys: list[tuple]
) -> None:
    """Delete rows by (composite) primary key."""
    for part in chunks(keys):
        if len(pk_columns) == 1:
            session.execute(delete(model).where(pk_columns[0].in_([k[0] for k in part])))
        else:
            session.execute(delete(model).where(tuple_(*pk_columns).in_(part)))


def changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether `new` differs from `old` in any of its columns (None: a new row)."""
    if old is None:
        return True
    return any(old.get(k) != v for k, v in new.items())


# Session.info entry holding the key lock names are hashed under (Store.lock_key).
LOCK_KEY = "lock_key"


def lock_names(session: Session, names: Iterable[str]) -> None:
    """Hold a transaction-scoped lock on each of `names` (PostgreSQL advisory locks, taken in
    one statement in a fixed order; SQLite's single writer serializes transactions anyway).

    For a join between rows that different workers write: a row lock cannot guard a row that
    does not exist yet. A name becomes 64 bits of a BLAKE2b MAC under the session's lock key
    (derived from the hub's secret: store.lock_key): names hold source record ids, which may be
    NIKs, and every user of the server sees the numbers in pg_locks; an unkeyed hash of a NIK is
    brute-forced in seconds. Two names sharing a lock only make one transaction wait for
    another."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    key = session.info.get(LOCK_KEY)
    if not key:
        raise RuntimeError(
            "join locks on PostgreSQL need the hub's secret: open the store with"
            " open_store(..., lock_key=store.lock_key(secret_file))"
        )
    keys = sorted({_lock_key(key, n) for n in names})
    if keys:
        connection.exec_driver_sql(
            "SELECT count(pg_advisory_xact_lock(k))"
            " FROM (SELECT unnest(%(keys)s::bigint[]) AS k ORDER BY 1) AS wanted",
            {"keys": keys},
        )


def _lock_key(key: bytes, name: str) -> int:
    digest = hashlib.blake2b(name.encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, signed=True)
