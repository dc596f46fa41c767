"""`mpphub agency inspect` and `propose`: what a source holds (tables, columns, keys, row
counts) and which columns look like a timestamp to poll by, a NIK, a KK number or a date; then a
first mapping file from that, for the agency's IT team to finish."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from domain.nik import check_kk, check_nik

from .source import SourceTable

_TS_NAMES = re.compile(r"(upd|ubah|modif|changed|last|created|tgl_?entri|_at$|time)", re.I)
_DATE_TEXT = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_KIND_NAMES = {
    "nik": re.compile(r"(^|_)(nik|no_?identitas|no_?ktp|ktp)($|_)", re.I),
    "kk": re.compile(r"(^|_)(no_?kk|kk|nomor_?kk)($|_)", re.I),
}


@dataclass
class ColumnReport:
    """One column: its type and what it looks like."""

    name: str
    sql_type: str
    kind: str  # the Avro kind the connector carries it as
    looks_like: list[str] = field(default_factory=list)  # nik, kk, date, timestamp


@dataclass
class TableReport:
    """One table of the source."""

    name: str
    key: list[str]
    has_primary_key: bool
    row_count: int
    columns: list[ColumnReport]

    def with_look(self, look: str) -> list[str]:
        return [c.name for c in self.columns if look in c.looks_like]


def inspect_table(table: SourceTable) -> TableReport:
    """What one table holds and what its columns look like (by name, type and sample values)."""
    columns = []
    for name in table.shape.columns:
        kind = table.shape.types[name].kind
        values = [r.get(name) for r in table.sample if r.get(name) is not None]
        columns.append(ColumnReport(name, table.sql_types.get(name, ""), kind,
                                    _looks(name, kind, values)))  # fmt: skip
    return TableReport(
        table.name, list(table.shape.key), table.has_primary_key, table.row_count, columns
    )


def _looks(name: str, kind: str, values: list[Any]) -> list[str]:
    out = []
    texts = [str(v).strip() for v in values]
    sixteen = [t for t in texts if re.fullmatch(r"\d{16}", t)]
    share = len(sixteen) / len(texts) if texts else 0.0
    named_nik = bool(_KIND_NAMES["nik"].search(name))
    named_kk = bool(_KIND_NAMES["kk"].search(name))
    if named_nik or (share >= 0.5 and not named_kk and _nik_share(sixteen) >= 0.5):
        out.append("nik")
    elif named_kk or (share >= 0.5 and sum(check_kk(t).ok for t in sixteen) >= len(sixteen) / 2):
        out.append("kk")
    if kind == "timestamp" and _TS_NAMES.search(name):
        out.append("timestamp")
    if kind in ("date", "timestamp") or (texts and all(_DATE_TEXT.match(t) for t in texts)):
        out.append("date")
    return out


def _nik_share(values: list[str]) -> float:
    if not values:
        return 0.0
    return sum(check_nik(v).status.value != "MALFORMED" for v in values) / len(values)


# --- propose --------------------------------------------------------------------------------------

_PERSON_GUESSES = {
    "name": re.compile(r"(^|_)(n_?)?(nama|name)(_lgkp|_lengkap|_peserta|_pemohon)?$", re.I),
    "birth_date": re.compile(r"(tgl|tanggal)_?(lhr|lahir)|birth_?date|dob", re.I),
    "birth_place": re.compile(r"(tmpt|tempat)_?(lhr|lahir)|birth_?place", re.I),
    "sex": re.compile(r"(jenis_?(klmin|kelamin)|^jk$|^sex$|kelamin|gender)", re.I),
    "address": re.compile(r"(alamat|address)", re.I),
    "phone": re.compile(r"(telp|telepon|^hp$|no_?hp|phone)", re.I),
}


def propose(agency: str, tables: list[TableReport], today: dt.date | None = None) -> str:
    """A first mapping file: tables with a NIK column emit person facts with the fields whose
    names give them away; the others emit nothing until someone says what they mean."""
    lines = [
        f"# A first mapping of agency {agency}, proposed by `mpphub agency propose`"
        + (f" on {today.isoformat()}" if today else "") + ".",
        "# Check every field, then run `mpphub agency check` on it. Keys: see",
        "# streams/mappings/declaration.py (emits: person | permit | permit_status | service |",
        "# nothing; fields: canonical field -> column or {column, type, codes, format, ...}).",
        f"agency: {agency}",
        "tables:",
    ]  # fmt: skip
    for t in tables:
        lines.append(f"  {t.name}:")
        nik = t.with_look("nik")
        if not nik:
            lines.append("    emits: nothing  # no NIK column found: say what this table means")
            continue
        lines.append("    emits: person")
        if t.key:
            lines.append(f"    key: [{', '.join(t.key)}]")
        lines.append("    fields:")
        lines.append(f"      nik: {nik[0]}")
        for field_name, pattern in _PERSON_GUESSES.items():
            col = next((c.name for c in t.columns if pattern.search(c.name)), None)
            if col:
                lines.append(f"      {field_name}: {col}")
        kk = t.with_look("kk")
        if kk:
            lines.append(f"      kk_number: {kk[0]}")
            lines.append("    checks:")
            lines.append(f"      - {{rule: kk_number, column: {kk[0]}}}")
    return "\n".join(lines) + "\n"
