"""Reading a MariaDB/MySQL row binlog with `mysql-replication`: the reader thread, positions, row
values and DDL recognition (the thread is the only I/O; the rest are plain functions).

The blocking `BinLogStreamReader` runs in a thread that hands plain items (`Rows`, `Commit`,
`Query`, `Tick`, `Failed`) to the event loop through a bounded queue; every XID of the server
passes its filter, since that is where a transaction ends. A change's position is `<binlog file
number, 6 digits>:<end of its row event, 12 digits>:<row, 5 digits>`: commit order, and the same
on a re-read. Values are brought to what the SQL snapshot reads for the same row (TIMESTAMP in
UTC, BIT as int, SET as text, latin1 as MariaDB decodes it); a zero date or undecodable bytes are
passed on as they are, so that the row conversion makes the row a dead letter naming the column.
"""

from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.constants import FIELD_TYPE, NONE_SOURCE
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from ..changes import Change

_QUEUE_ITEMS = 1000  # row events (each at most ~8 kB of rows) between the reader and the loop
# Statements logged inside a transaction (the others end one: COMMIT, DDL's implicit commit).
_IN_TRANSACTION = {"BEGIN", "SAVEPOINT", "RELEASE"}
_EVENTS = [
    WriteRowsEvent,
    UpdateRowsEvent,
    DeleteRowsEvent,
    XidEvent,
    QueryEvent,
    RotateEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    GtidEvent,
]


# --- positions ----------------------------------------------------------------------------------
def file_number(name: str) -> int:
    """'mariadb-bin.000042' -> 42 (binlog files are numbered in order)."""
    suffix = name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def binlog_offset(file: str, pos: int) -> dict[str, Any]:
    """The stream offset that resumes at `pos` in `file`."""
    return {"position": f"{file_number(file):06d}:{pos:012d}", "file": file, "pos": int(pos)}


def change_position(file: str, pos: int, row: int) -> str:
    """Ordered, stable position of the row-th row of the row event ending at `pos`."""
    return f"{file_number(file):06d}:{pos:012d}:{row:05d}"


# --- value decoding -----------------------------------------------------------------------------
_CODEC_PREFIX = "mpphub_"
# MariaDB's latin1 is cp1252 with the five bytes cp1252 leaves undefined mapped to C1 controls.
_LATIN1 = "".join(
    bytes([b]).decode("cp1252") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b)
    for b in range(256)
)
_LATIN1_TABLE = codecs.charmap_build(_LATIN1)


def _search_codec(name: str) -> codecs.CodecInfo | None:
    """`mpphub_<encoding>`: decodes like <encoding>, undecodable bytes as lone surrogates."""
    if not name.startswith(_CODEC_PREFIX):
        return None
    inner = name[len(_CODEC_PREFIX) :]
    if inner == "cp1252":
        return codecs.CodecInfo(
            name=name,
            encode=lambda s, errors="strict": codecs.charmap_encode(s, errors, _LATIN1_TABLE),
            decode=lambda b, errors="strict": codecs.charmap_decode(b, "strict", _LATIN1),
        )
    try:
        real = codecs.lookup(inner)
    except LookupError:
        return None  # the reader then keeps the raw bytes
    return codecs.CodecInfo(
        name=name,
        encode=real.encode,
        decode=lambda b, errors="strict": real.decode(b, "surrogateescape"),
    )


codecs.register(_search_codec)

_ZERO = {
    NONE_SOURCE.OUT_OF_DATE_RANGE: "0000-00-00",
    NONE_SOURCE.OUT_OF_DATETIME_RANGE: "0000-00-00 00:00:00",
    NONE_SOURCE.OUT_OF_DATETIME2_RANGE: "0000-00-00 00:00:00",
}
_DAY = dt.timedelta(days=1)
_EPOCH = dt.datetime(1970, 1, 1)


def prepare_columns(columns: list[Any]) -> None:
    """Before a row event's values are read: decode text with our codecs (see above)."""
    for col in columns:
        enc = getattr(col, "character_set_name", None)
        if enc and enc != "binary" and not enc.startswith(_CODEC_PREFIX):
            col.character_set_name = _CODEC_PREFIX + enc


def decode_value(col: Any, value: Any, none_source: str | None) -> Any:
    """A value as the reader returned it -> as the SQL snapshot reads it (see module doc)."""
    if value is None:
        if none_source in _ZERO:
            return _ZERO[none_source]  # refused by the row conversion: a dead letter
        if none_source == NONE_SOURCE.EMPTY_SET:
            return ""
        return None
    kind = col.type
    if kind in (FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TIMESTAMP2) and value == _EPOCH:
        return "0000-00-00 00:00:00"  # TIMESTAMP's zero value (its range starts a second later)
    if isinstance(value, dt.timedelta):
        return (dt.datetime.min + value).time() if dt.timedelta(0) <= value < _DAY else str(value)
    if kind == FIELD_TYPE.BIT and isinstance(value, str):
        return int(value, 2)
    if isinstance(value, set | frozenset):
        return ",".join(sorted(value))
    if kind == FIELD_TYPE.FLOAT and isinstance(value, float):
        return float(f"{value:.6g}")  # single precision, shown with 6 digits like MariaDB does
    if kind == FIELD_TYPE.STRING and isinstance(value, bytes):
        return value.ljust(getattr(col, "max_length", 0), b"\0")  # BINARY(n): stored unpadded
    return value


def decode_row(columns: list[Any], values: dict[str, Any], none_sources: dict[str, str]) -> dict:
    by_name = {c.name: c for c in columns}
    return {
        name: decode_value(by_name[name], v, none_sources.get(name)) if name in by_name else v
        for name, v in values.items()
    }


# --- what the reader thread hands over ----------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    table: str  # real table name
    op: str  # c u d
    file: str
    pos: int
    ts_ms: int
    columns: tuple[str, ...]
    rows: list[tuple[dict | None, dict | None]]


class Unreadable(dict):
    """The row of an undecodable event: the dispatcher's look-up of its key fails with the
    reason, which makes it a dead letter (its content, for the record, is what is known)."""

    def __init__(self, reason: str, known: dict[str, Any]):
        super().__init__(known)
        self.reason = reason

    def get(self, key: Any, default: Any = None) -> Any:
        raise ValueError(self.reason)


@dataclass(frozen=True)
class Commit:
    file: str
    pos: int


@dataclass(frozen=True)
class Query:
    """A statement other than BEGIN/COMMIT: DDL, which commits implicitly."""

    file: str
    pos: int
    schema: str
    query: str


@dataclass(frozen=True)
class Tick:
    """The server is idle (its heartbeat)."""


@dataclass(frozen=True)
class Failed:
    error: BaseException


def query_item(query: str, file: str, pos: int, schema: str) -> Commit | Query | None:
    """A query event as the stream sees it: a commit, a statement that commits (DDL), or
    nothing (BEGIN, savepoints: inside a transaction)."""
    query = query.strip()
    word = query.split(None, 1)[0].upper() if query else ""
    if word in _IN_TRANSACTION or re.match(r"ROLLBACK\s+(WORK\s+)?TO\b", query, re.I):
        return None
    if word in ("COMMIT", "ROLLBACK"):
        return Commit(file, pos)
    return Query(file, pos, schema, query)


# --- changes ----------------------------------------------------------------------------------
def row_changes(table: str, item: Rows, key: Sequence[str]) -> list[Change]:
    """The events of one row event: an update of the key is a delete of the old key, then a
    create of the new one (as Debezium does); an unreadable row goes on as it is (a dead letter)."""
    out = []
    for i, (before, after) in enumerate(item.rows):
        pos = change_position(item.file, item.pos, i)
        if isinstance(after, Unreadable):
            out.append(Change(table, item.op, None, after, pos, item.ts_ms))
        elif item.op == "c":
            out.append(Change(table, "c", None, after, pos, item.ts_ms))
        elif item.op == "d":
            out.append(Change(table, "d", before, None, pos, item.ts_ms))
        elif [before.get(k) for k in key] != [after.get(k) for k in key]:
            out.append(Change(table, "d", before, None, pos, item.ts_ms))
            out.append(Change(table, "c", None, after, f"{pos}.000000001", item.ts_ms))
        else:
            out.append(Change(table, "u", before, after, pos, item.ts_ms))
    return out


def truncate_changes(
    table: str, item: Query, key: Sequence[str], keys: Iterable[tuple]
) -> list[Change]:
    """A TRUNCATE as a delete of each key the table's topic holds (in a stable order)."""
    base = change_position(item.file, item.pos, 0)
    return [
        Change(table, "d", dict(zip(key, k, strict=True)), None, f"{base}.{n:09d}")
        for n, k in enumerate(sorted(keys, key=repr), start=1)
    ]


# --- DDL ----------------------------------------------------------------------------------------
_IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
_NAME = re.compile(rf"({_IDENT})(?:\s*\.\s*({_IDENT}))?")
_LEADING_COMMENTS = re.compile(r"^(?:\s|/\*.*?\*/|--[^\n]*\n|#[^\n]*\n)*", re.S)
_DDL = re.compile(
    r"(?P<verb>(?:ALTER|CREATE|DROP)(?:\s+(?:ONLINE|IGNORE|OR\s+REPLACE|TEMPORARY))*\s+TABLE"
    r"|RENAME\s+TABLES?|TRUNCATE(?:\s+TABLE)?)(?:\s+IF\s+(?:NOT\s+)?EXISTS)?\s+(?P<rest>.*)",
    re.I | re.S,
)
_KEYWORDS = {"TO", "WAIT", "NOWAIT", "RESTRICT", "CASCADE"}


def _unquote(ident: str) -> str:
    return ident[1:-1].replace("``", "`") if ident.startswith("`") else ident


def ddl_tables(query: str, default_schema: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(verb, [(schema, table)]) of a statement that creates, alters, drops, renames or
    truncates tables; None for any other statement."""
    m = _DDL.match(_LEADING_COMMENTS.sub("", query))
    if m is None:
        return None
    verb, rest = m.group("verb").split()[0].upper(), m.group("rest")
    if verb not in ("DROP", "RENAME"):  # one table, then its definition
        first = _NAME.match(rest)
        rest = rest[: first.end()] if first else ""
    names = []
    for n in _NAME.finditer(re.sub(r"/\*.*?\*/", " ", rest, flags=re.S)):
        first, second = n.group(1), n.group(2)
        if second is None and first.upper() in _KEYWORDS:
            continue
        if second is None:
            names.append((default_schema, _unquote(first)))
        else:
            names.append((_unquote(first), _unquote(second)))
    return verb, names


# --- the reader thread --------------------------------------------------------------------------
@dataclass(frozen=True)
class Replica:
    """Who reads the binlog and what: the connection, the replica's server id (unique among the
    server's readers), the database and its captured tables (real names)."""

    name: str
    connection: dict[str, Any]
    server_id: int
    schema: str
    tables: tuple[str, ...]


class BinlogReader(threading.Thread):
    """Reads the binlog from (file, pos) and puts items on the loop's queue, until stopped."""

    def __init__(self, replica: Replica, file: str, pos: int, queue: asyncio.Queue):
        super().__init__(name=f"binlog-{replica.name}", daemon=True)
        self.replica = replica
        self.file = file
        self.pos = pos
        self.queue = queue
        self.loop = asyncio.get_running_loop()
        self.room = threading.BoundedSemaphore(_QUEUE_ITEMS)  # released as the loop takes one
        self.stopping = threading.Event()

    def run(self) -> None:
        reader = None
        try:
            reader = BinLogStreamReader(
                connection_settings=dict(self.replica.connection),
                server_id=self.replica.server_id,
                log_file=self.file,
                log_pos=self.pos,
                resume_stream=True,
                blocking=True,
                slave_heartbeat=1,
                only_events=_EVENTS,
                only_schemas=[self.replica.schema],
                only_tables=list(self.replica.tables),
                enable_logging=False,
                pymysql_wrapper=_connect,
            )
            for event in reader:
                if self.stopping.is_set():
                    return
                item = self._item(event)
                if item is not None:
                    self._put(item)
        except BaseException as e:  # noqa: BLE001 - handed to the loop, which decides
            if not self.stopping.is_set():
                self._put(Failed(e))
        finally:
            if reader is not None:
                reader.close()

    def _item(self, event: Any) -> Any:
        pos = event.packet.log_pos  # end of the event: where the next one starts
        if isinstance(event, RotateEvent):
            self.file = event.next_binlog
            return None
        if isinstance(event, XidEvent):
            return Commit(self.file, pos)
        if isinstance(event, QueryEvent):
            schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
            return query_item(event.query, self.file, pos, schema or "")
        if isinstance(event, HeartbeatLogEvent):
            return Tick()
        if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
            return self._rows(event, pos)
        return None  # GTID events: a transaction begins

    def _rows(self, event: Any, pos: int) -> Rows:
        prepare_columns(event.columns)
        cols = event.columns
        op = {WriteRowsEvent: "c", UpdateRowsEvent: "u", DeleteRowsEvent: "d"}[type(event)]
        names = tuple(c.name for c in cols)
        try:
            rows = event.rows
        except Exception as e:  # noqa: BLE001 - a type the reader cannot decode, say
            # One dead letter for the event, with the reader's reason; the next event is
            # another packet, so capture goes on.
            reason = f"binlog row event not decodable: {type(e).__name__}: {e}"
            unreadable = Unreadable(reason, {"table": event.table, "columns": list(names)})
            return Rows(
                event.table, op, self.file, pos, event.timestamp * 1000, (), [(None, unreadable)]
            )
        out: list[tuple[dict | None, dict | None]] = []
        for r in rows:
            if isinstance(event, UpdateRowsEvent):
                before = decode_row(cols, r["before_values"], r.get("before_none_sources", {}))
                after = decode_row(cols, r["after_values"], r.get("after_none_sources", {}))
                out.append((before, after))
            elif isinstance(event, WriteRowsEvent):
                out.append((None, decode_row(cols, r["values"], r.get("none_sources", {}))))
            else:
                out.append((decode_row(cols, r["values"], r.get("none_sources", {})), None))
        return Rows(event.table, op, self.file, pos, event.timestamp * 1000, names, out)

    def _put(self, item: Any) -> None:
        while not self.stopping.is_set():
            if self.room.acquire(timeout=0.5):
                try:
                    self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
                except RuntimeError:  # the loop is closed: nobody listens any more
                    self.stopping.set()
                return


def _connect(**settings: Any) -> pymysql.Connection:
    # The reader names the database of its schema connection with pymysql's deprecated `db`.
    if "db" in settings:
        settings["database"] = settings.pop("db")
    return pymysql.connect(**settings)
