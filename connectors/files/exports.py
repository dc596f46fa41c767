"""Reading agency exports (CSV/XLSX) and diffing one against the last: pure, bytes in, rows out.

Text is UTF-8 (BOM skipped; UTF-16 with a BOM too), else cp1252 when no valid multi-byte UTF-8
is in it; the delimiter (`,` `;` tab `|`) is the one most consistent in the first lines; the
header is the first of 20 rows holding every key column, matched case-insensitively. Cells are
trimmed, empty is null, XLSX values become text. An empty key, invalid bytes or cells beyond the
header make their row a dead letter (the others go on); a duplicated key keeps its last row. A
new column evolves the schema (all columns are nullable text); a missing one stays, null.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
from collections import Counter
from collections.abc import (
    Iterable,
    Iterator,
)
from dataclasses import dataclass
from typing import Any

from schemas.names import avro_name

from ..changes import Change
from ..shapes import TableShape

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 20
DELIMITERS = ",;\t|"
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
MARKER = ".done"
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that did not decode (surrogateescape)
_QUOTED = re.compile(r'"[^"]*"')
_MULTIBYTE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # a character UTF-8 needed 2+ bytes for


class FileRejected(Exception):
    """A file that cannot be used as an export at all; the message says why."""


class Unencodable(bytes):
    """A cell the event mapping must refuse: its raw bytes, their encoding and why.

    connectors/shapes.py decodes bytes of a text column as UTF-8; this refuses with `reason`, so
    the dispatcher dead-letters the row ("column NAMA: ...") while the other rows go on. The
    dead-letter record still shows the value (decoded with `errors=`backslashreplace)."""

    encoding: str
    reason: str

    def __new__(cls, raw: bytes, encoding: str, reason: str) -> Unencodable:
        obj = super().__new__(cls, raw)
        obj.encoding = encoding
        obj.reason = reason
        return obj

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        if errors == "strict":
            raise ValueError(self.reason)
        return bytes(self).decode(self.encoding, errors)


@dataclass
class Export:
    """One export as read: its columns and its rows (row number, column -> text | None)."""

    columns: list[str]
    rows: list[tuple[int, dict[str, Any]]]
    encoding: str | None = None
    ignored_cells: int = 0


# --- reading exports (pure: bytes in, Export out) ----------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding); bytes invalid in the encoding are kept as surrogate escapes."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", "surrogateescape"), "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise FileRejected(f"not valid UTF-16 although it starts with its BOM: {e}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    # Valid multi-byte UTF-8 somewhere: a UTF-8 file with a few bad rows. None: a legacy export.
    if _MULTIBYTE.search(text):
        return text, "utf-8"
    return data.decode("cp1252", "surrogateescape"), "cp1252"


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter most consistently present in the first lines (`,` if none is)."""
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        counts = Counter(_QUOTED.sub("", line).count(d) for line in lines if line.strip())
        counts.pop(0, None)
        if counts:
            n, freq = counts.most_common(1)[0]
            if (freq, n) > best_score:
                best, best_score = d, (freq, n)
    return best


def read_csv(data: bytes, key: list[str], known: list[str]) -> Export:
    """A CSV export: encoding and delimiter detected, header found, cells trimmed."""
    text, enc = decode_text(data)
    delimiter = sniff_delimiter(text.splitlines()[:50])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def records() -> Iterator[tuple[int, list[Any]]]:
        try:
            for n, cells in enumerate(reader, start=1):
                yield n, [_csv_cell(c, enc) for c in cells]
        except csv.Error as e:
            raise FileRejected(f"not readable as CSV near row {reader.line_num}: {e}") from None

    export = assemble(records(), key, known)
    export.encoding = enc
    return export


def read_xlsx(data: bytes, key: list[str], known: list[str], sheet: str) -> Export:
    """An XLSX export (the sheet named like the table, else the first); values as text."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - zip, XML and openpyxl errors alike
        raise FileRejected(f"not readable as XLSX: {type(e).__name__}: {e}") from None
    try:
        if not wb.worksheets:
            raise FileRejected("the workbook has no worksheet")
        ws = next((s for s in wb.worksheets if s.title.lower() == sheet.lower()), wb.worksheets[0])
        ws.reset_dimensions()  # some writers store a wrong dimension: read every row there is

        def records() -> Iterator[tuple[int, list[Any]]]:
            for n, cells in enumerate(ws.iter_rows(), start=1):
                yield n, [_xlsx_cell(c) for c in cells]

        return assemble(records(), key, known)
    finally:
        wb.close()


def assemble(records: Iterable[tuple[int, list[Any]]], key: list[str], known: list[str]) -> Export:
    """Rows by column name from (row number, cells); the header is the first row with the key."""
    it = iter(records)
    # `nik`, `Nik` and `NIK`, or `NO KK` and `NO_KK`, are one column (and one Avro field).
    spelling = {avro_name(c).lower(): c for c in [*known, *key]}
    header: list[Any] | None = None
    for scanned, (_n, cells) in enumerate(it):
        names = {str(c).lower() for c in cells if isinstance(c, str)}
        if all(k.lower() in names for k in key):
            header = cells
            break
        if scanned + 1 >= HEADER_SCAN_ROWS:
            break
    if header is None:
        raise FileRejected(
            f"no header row with the key column(s) {', '.join(key)} in its first "
            f"{HEADER_SCAN_ROWS} rows"
        )
    used: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for i, cell in enumerate(header):
        if cell is None:
            continue
        if not isinstance(cell, str):
            raise FileRejected(f"header cell {i + 1} is not readable text ({cell.reason})")
        name = spelling.get(avro_name(cell).lower(), cell)
        clash = seen.get(avro_name(name).lower())
        if clash is not None:
            raise FileRejected(f"header columns {clash!r} and {name!r} collide")
        seen[avro_name(name).lower()] = name
        used.append((i, name))
    width = len(header)
    last = used[-1][1]
    export = Export([name for _, name in used], [])
    for n, cells in it:
        if all(c is None for c in cells):
            continue
        row = {name: cells[i] if i < len(cells) else None for i, name in used}
        export.ignored_cells += sum(
            1 for i, c in enumerate(cells[:width]) if header[i] is None and c is not None
        )
        beyond = [c for c in cells[width:] if c is not None]
        if beyond:
            # Usually an unquoted delimiter inside a value: the columns have shifted.
            raw = b"|".join(_raw(c) for c in [row[last], *beyond])
            row[last] = Unencodable(
                raw,
                "utf-8",
                f"{len(beyond)} value(s) beyond the header's last column (a delimiter inside an "
                "unquoted value?)",
            )
        export.rows.append((n, row))
    return export


def _raw(v: Any) -> bytes:
    if v is None:
        return b""
    return bytes(v) if isinstance(v, bytes) else str(v).encode("utf-8", "backslashreplace")


def _csv_cell(s: str, encoding: str) -> str | Unencodable | None:
    s = s.strip()
    if not s:
        return None
    if _ESCAPED.search(s):
        raw = s.encode(encoding, "surrogateescape")
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as e:
            return Unencodable(
                raw,
                encoding,
                f"bytes not valid {encoding} (0x{raw[e.start]:02x} at byte {e.start})",
            )
    return s


def _xlsx_cell(cell: Any) -> str | None:
    v = cell.value
    if v is None:
        return None
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime):
        fmt = (getattr(cell, "number_format", None) or "").lower()
        if v.time() == dt.time(0) and not re.search(r"[hs]", fmt.replace("general", "")):
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


# --- the diff (pure) ---------------------------------------------------------------------------
def diff_export(
    shape: TableShape,
    baseline: dict[tuple, dict[str, Any]],
    export: Export,
    prefix: str,
    source_ts_ms: int | None = None,
    snapshot: bool = False,
) -> tuple[list[Change], dict[tuple, dict[str, Any]]]:
    """The changes that turn `baseline` (what was published) into `export`, and the new baseline.

    A row that will be dead-lettered (empty key, unencodable value) leaves its key's published
    row in the baseline: it is neither updated nor deleted."""
    table = shape.name
    winner: dict[tuple, int] = {}
    for n, row in export.rows:
        winner[shape.key_values(row)] = n
    duplicates = len(export.rows) - len(winner)
    if duplicates:
        log.warning("file drop %s: %d row(s) repeat a key; the last one counts", table, duplicates)
    new_base: dict[tuple, dict[str, Any]] = {}
    changes: list[Change] = []
    for n, row in export.rows:
        full = {c: row.get(c) for c in shape.columns}
        key = shape.key_values(full)
        empty_key = any(v is None for v in key)
        if not empty_key and winner[key] != n:
            continue
        pos = f"{prefix}:{n:09d}"
        old = None if empty_key else baseline.get(key)
        before = {c: old.get(c) for c in shape.columns} if old is not None else None
        bad = empty_key or any(isinstance(v, Unencodable) for v in full.values())
        if bad and old is not None:
            new_base[key] = old
        elif not bad:
            new_base[key] = full
        if before is None:
            op = "r" if snapshot else "c"
            changes.append(Change(table, op, None, full, pos, source_ts_ms, snapshot=snapshot))
        elif bad or before != full:
            changes.append(Change(table, "u", before, full, pos, source_ts_ms))
    gone = sorted((k for k in baseline if k not in new_base), key=lambda k: [str(v) for v in k])
    for i, key in enumerate(gone, start=1):
        before = {c: baseline[key].get(c) for c in shape.columns}
        changes.append(Change(table, "d", before, None, f"{prefix}:deleted-{i:09d}", source_ts_ms))
    return changes, new_base


def merge_columns(known: list[str], header: list[str]) -> list[str]:
    """Earlier columns first (a column missing now stays, null), new ones appended."""
    have = {avro_name(c).lower() for c in known}
    return [*known, *(c for c in header if avro_name(c).lower() not in have)]
