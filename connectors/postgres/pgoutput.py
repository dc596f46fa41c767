"""The pgoutput logical decoding protocol (version 1), as plain data: no I/O here.

What `pg_logical_slot_peek_binary_changes` returns for the pgoutput plugin is parsed into
messages; the row changes are numbered within their transaction and turned into `Change`s the
way Debezium's PostgreSQL connector publishes them (an update of the key is a delete of the old
key and a create of the new one).

Positions. A change's position is `<commit LSN, 16 hex digits>:<index in the transaction, 8
digits>` (plus `.<n>` when one message gives several events), ordered in commit order - the order
of the events - and the same when re-read.

Values arrive in their text form and are decoded by type OID; the decoding session is fixed to
ISO dates and UTC (connectors/postgres/slot.py sets it). A value Python cannot hold ('infinity', BC,
year > 9999) stays text, so that the row conversion refuses it and the row becomes a dead letter.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..changes import Change

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970


# --- LSNs and positions -------------------------------------------------------------------------
def parse_lsn(text: str) -> int:
    """'0/16B3748' -> int."""
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def format_lsn(lsn: int) -> str:
    """int -> '0/16B3748' (PostgreSQL's pg_lsn text form)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def change_position(commit_lsn: int, index: int, sub: int = 0) -> str:
    """Ordered, stable position of the index-th change of the transaction committing there."""
    base = f"{commit_lsn:016X}:{index:08d}"
    return base if sub == 0 else f"{base}.{sub:06d}"


# --- messages -----------------------------------------------------------------------------------
UNCHANGED = type("Unchanged", (), {"__repr__": lambda self: "UNCHANGED"})()
"""An unchanged TOASTed value ('u'): the message does not carry it."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    typmod: int
    key: bool


@dataclass(frozen=True)
class Relation:
    relid: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]

    @functools.cached_property
    def decoders(self) -> tuple[tuple[str, Callable[[str], Any] | None], ...]:
        """(name, text decoder or None) per column, looked up once per relation."""
        return tuple((c.name, _DECODERS.get(c.type_oid)) for c in self.columns)

    def signature(self) -> tuple:
        """What changes when the table's columns do (names and types)."""
        return tuple((c.name, c.type_oid, c.typmod) for c in self.columns)


@dataclass(frozen=True)
class Begin:
    final_lsn: int  # LSN of the commit record
    commit_ms: int
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int  # end of the commit record: the slot position once it is published
    commit_ms: int


@dataclass(frozen=True)
class RowChange:
    kind: str  # I U D
    relid: int
    old_kind: str | None  # K (key columns) or O (whole old row)
    old: tuple | None
    new: tuple | None


@dataclass(frozen=True)
class Truncate:
    relids: tuple[int, ...]
    options: int


@dataclass(frozen=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


@functools.cache
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        st = _struct(fmt)
        out = st.unpack_from(self.data, self.pos)
        self.pos += st.size
        return out

    def char(self) -> str:
        return chr(self.unpack("!B")[0])

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        out = self.data[self.pos : end].decode()
        self.pos = end + 1
        return out

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def tuple_data(self) -> tuple:
        # The per-row hot path of streaming: one tight loop over the bytes, no helper calls.
        data, pos = self.data, self.pos
        count = _COUNT.unpack_from(data, pos)[0]
        pos += 2
        values: list[Any] = []
        append = values.append
        for _ in range(count):
            kind = data[pos]
            pos += 1
            if kind == 0x74 or kind == 0x62:  # 't' text, 'b' binary
                n = _LENGTH.unpack_from(data, pos)[0]
                raw = data[pos + 4 : pos + 4 + n]
                append(raw.decode() if kind == 0x74 else bytes(raw))
                pos += 4 + n
            elif kind == 0x6E:  # 'n'
                append(None)
            elif kind == 0x75:  # 'u'
                append(UNCHANGED)
            else:
                raise ValueError(f"pgoutput: unknown tuple value kind {chr(kind)!r}")
        self.pos = pos
        return tuple(values)


def _ms(pg_us: int) -> int:
    return (pg_us + _PG_EPOCH_US) // 1000


def parse_message(data: bytes) -> Any:
    """One pgoutput message -> Begin/Commit/Relation/RowChange/Truncate/LogicalMessage, or None
    for the ones capture ignores (Type, Origin)."""
    r = _Reader(data)
    kind = r.char()
    if kind == "B":
        final_lsn, ts, xid = r.unpack("!QqI")
        return Begin(final_lsn, _ms(ts), xid)
    if kind == "C":
        _flags, commit_lsn, end_lsn, ts = r.unpack("!BQQq")
        return Commit(commit_lsn, end_lsn, _ms(ts))
    if kind == "R":
        relid = r.unpack("!I")[0]
        namespace, name, ident = r.string(), r.string(), r.char()
        cols = []
        for _ in range(r.unpack("!h")[0]):
            flags = r.unpack("!B")[0]
            col_name = r.string()
            oid, typmod = r.unpack("!Ii")
            cols.append(Column(col_name, oid, typmod, bool(flags & 1)))
        return Relation(relid, namespace, name, ident, tuple(cols))
    if kind in "IUD":
        relid = r.unpack("!I")[0]
        marker = r.char()
        old_kind = old = new = None
        if marker in "KO":
            old_kind, old = marker, r.tuple_data()
            if kind == "U":
                marker = r.char()
        if marker == "N":
            new = r.tuple_data()
        return RowChange(kind, relid, old_kind, old, new)
    if kind == "T":
        n, options = r.unpack("!iB")
        return Truncate(r.unpack(f"!{n}I"), options)
    if kind == "M":
        flags, lsn = r.unpack("!BQ")
        prefix = r.string()
        return LogicalMessage(bool(flags & 1), lsn, prefix, r.raw(r.unpack("!i")[0]))
    if kind in "YO":
        return None
    raise ValueError(f"pgoutput: unknown message type {kind!r}")


# --- a peek's messages, numbered within their transaction ---------------------------------------
@dataclass(frozen=True)
class Row:
    """A row change with its relation and its place (1, 2, ...) in its transaction."""

    begin: Begin
    index: int
    relation: Relation
    change: RowChange


@dataclass(frozen=True)
class Truncated:
    """A TRUNCATE of the known relations, with its place in its transaction."""

    begin: Begin
    index: int
    relations: tuple[Relation, ...]


Message = Begin | Commit | Relation | Row | Truncated | LogicalMessage


class MessageReader:
    """The messages of a stream read in pieces: Begin, Commit, Relation (also kept in
    `relations`), Row, Truncated and LogicalMessage, in order. The open transaction carries over
    from one piece to the next (the replication protocol may cut anywhere)."""

    def __init__(self, relations: dict[int, Relation]):
        self.relations = relations
        self.begin: Begin | None = None
        self.index = 0

    def read(self, rows: Iterable[tuple[str | None, bytes]]) -> Iterator[Message]:
        relations = self.relations
        for _lsn, data in rows:
            msg = parse_message(bytes(data))
            if isinstance(msg, Begin):
                self.begin, self.index = msg, 0
            elif isinstance(msg, Commit):
                self.begin = None
            elif isinstance(msg, Relation):
                relations[msg.relid] = msg
            elif isinstance(msg, RowChange | Truncate):
                if self.begin is None:
                    continue  # not sent outside a transaction
                self.index += 1
                if isinstance(msg, Truncate):
                    rels = tuple(relations[r] for r in msg.relids if r in relations)
                    yield Truncated(self.begin, self.index, rels)
                    continue
                if msg.relid not in relations:
                    raise ValueError(
                        f"pgoutput: change of relation {msg.relid} before its Relation"
                    )
                yield Row(self.begin, self.index, relations[msg.relid], msg)
                continue
            if msg is not None:
                yield msg


def messages(
    rows: Iterable[tuple[str | None, bytes]], relations: dict[int, Relation]
) -> Iterator[Message]:
    """The messages of one peek (whole transactions), in order."""
    return MessageReader(relations).read(rows)


# --- values -------------------------------------------------------------------------------------
def _bytea(text: str) -> bytes:
    if not text.startswith("\\x"):
        raise ValueError("bytea not in hex format")
    return bytes.fromhex(text[2:])


_DECODERS: dict[int, Callable[[str], Any]] = {
    16: lambda s: s == "t",  # bool
    17: _bytea,
    20: int,  # int8
    21: int,  # int2
    23: int,  # int4
    26: int,  # oid
    700: float,  # float4
    701: float,  # float8
    1700: decimal.Decimal,  # numeric
    1082: dt.date.fromisoformat,  # date
    1083: dt.time.fromisoformat,  # time
    1114: dt.datetime.fromisoformat,  # timestamp: naive
    1184: dt.datetime.fromisoformat,  # timestamptz: aware (session TimeZone UTC)
}


def decode_value(value: Any, type_oid: int) -> Any:
    """A pgoutput text value as Python, by the column's type OID (unknown types stay text).

    Values Python cannot hold ('infinity', BC dates, year > 9999) stay text: the row conversion
    then refuses them, and the row becomes a dead letter instead of stopping capture."""
    if not isinstance(value, str):
        return value  # None, UNCHANGED, or binary
    decode = _DECODERS.get(type_oid)
    if decode is None:
        return value
    try:
        return decode(value)
    except (ValueError, ArithmeticError):
        return value


def decode_row(rel: Relation, values: tuple) -> dict[str, Any]:
    """A tuple of a relation as {column: Python value} (as `decode_value`, inlined: per row)."""
    if len(values) != len(rel.columns):
        raise ValueError(f"pgoutput: {len(values)} values for {len(rel.columns)} columns")
    out = {}
    for (name, decode), v in zip(rel.decoders, values):  # noqa: B905 - length checked above
        if decode is not None and type(v) is str:
            try:
                v = decode(v)
            except (ValueError, ArithmeticError):
                pass  # stays text: the row conversion refuses it (a dead letter)
        out[name] = v
    return out


def row_images(row: Row) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(old, new) of a row change, decoded; an old key image holds the key columns only."""
    rel, msg = row.relation, row.change
    old = decode_row(rel, msg.old) if msg.old is not None else None
    if old is not None and msg.old_kind == "K":
        old = {c.name: old[c.name] for c in rel.columns if c.key}
    new = decode_row(rel, msg.new) if msg.new is not None else None
    return old, new


# --- changes ------------------------------------------------------------------------------------
def row_changes(
    table: str,
    row: Row,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    key: Sequence[str],
) -> list[Change]:
    """The events of one row change (`old`/`new` from `row_images`, unchanged values filled):
    an update of the key is a delete of the old key, then a create of the new one."""
    pos = change_position(row.begin.final_lsn, row.index)
    ts = row.begin.commit_ms
    kind = row.change.kind
    if kind == "I":
        return [Change(table, "c", None, new, pos, ts)]
    if kind == "D":
        return [Change(table, "d", old, None, pos, ts)]
    if old is not None and new is not None and all(k in old for k in key):
        if [old[k] for k in key] != [new.get(k) for k in key]:
            later = change_position(row.begin.final_lsn, row.index, 1)
            return [
                Change(table, "d", old, None, pos, ts),
                Change(table, "c", None, new, later, ts),
            ]
    before = old if row.change.old_kind == "O" else None  # a key image is no `before`
    return [Change(table, "u", before, new, pos, ts)]


def truncate_changes(
    table: str, truncated: Truncated, key: Sequence[str], keys: Iterable[tuple]
) -> list[Change]:
    """A TRUNCATE as a delete of each key the table's topic holds (in a stable order)."""
    begin = truncated.begin
    return [
        Change(
            table,
            "d",
            dict(zip(key, k, strict=True)),
            None,
            change_position(begin.final_lsn, truncated.index, sub),
            begin.commit_ms,
        )
        for sub, k in enumerate(sorted(keys, key=repr), start=1)
    ]
