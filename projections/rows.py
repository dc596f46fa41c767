"""Rows read and written a set at a time by the projection writers: one SELECT for all the keys
of a batch, one executemany INSERT and one executemany UPDATE per table, never a round trip per
event."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

T = TypeVar("T")

# Keys per IN (...) list: far below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 1000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
    table = model.__table__
    out: list[dict[str, Any]] = []
    for part in chunks(wanted):
        stmt = select(table).where(column.in_(part))
        if order_by is not None:
            stmt = (
                stmt.order_by(*order_by) if isinstance(order_by, tuple) else stmt.order_by(order_by)
            )
        if lock:
            stmt = stmt.with_for_update()
        out.extend(dict(r._mapping) for r in session.execute(stmt))
    return out


def write_rows(
    session: Session,
    model: Any,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> None:
    """Insert new rows and update existing ones by primary key, each as one executemany
    (Core statements: the ORM's bulk paths cost more than the SQL here)."""
    table = model.__table__
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        pk = [c.name for c in table.primary_key.columns]
        for keys, rows in _same_keys(updates).items():
            stmt = (
                update(table)
                .where(*(table.c[k] == bindparam(f"pk_{k}") for k in pk))
                .values({k: bindparam(k) for k in keys if k not in pk})
            )
            params = [{(f"pk_{k}" if k in pk else k): v for k, v in r.items()} for r in rows]
            session.execute(stmt, params)


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
